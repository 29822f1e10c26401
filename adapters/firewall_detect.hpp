#pragma once
/// Where clatd's accept rules take effect (SPEC §6): every backend in which a forward drop is
/// really in force. The kernel runs each of them on the same forward hook and a packet must
/// pass all, so one that drops needs the rules even when another one has them:
/// - nftables (cmd-nft): the whole ruleset, which includes iptables-nft's tables (table ip6
///   filter); see firewall_nft.cpp for what counts as a drop.
/// - ip6tables (cmd-ip6tables), only without nft: its FORWARD chain, unless the tool is the
///   legacy variant, which the next item covers.
/// - ip6tables-legacy: the legacy xtables filter table, which nft does not show. It counts
///   only once it exists in this network namespace (/proc/net/ip6_tables_names lists
///   "filter"), so that looking never creates it.
/// ip6tables-enable=yes: cmd-ip6tables' FORWARD alone, whether it drops or not;
/// ip6tables-enable=no: nftables alone.

#include <vector>

#include "config/config.hpp"
#include "ports/firewall.hpp"
#include "states/operation.hpp"

namespace clat::firewall {

/// Runs nft -a list ruleset and ip6tables -S FORWARD as needed (never a tool that is not
/// installed). ours: the rules to check for completeness; only those of a returned target can
/// be lost.
FirewallInspection inspect(const Config& config, const std::vector<op::FirewallRule>& ours);

/// Whether the legacy xtables filter table exists in this network namespace
/// (/proc/net/ip6_tables_names; reading it creates nothing).
bool legacy_filter_in_use();

/// The ip6tables-legacy command: ip6tables-legacy beside cmd-ip6tables when that is a path,
/// else in PATH; empty when there is none.
std::string legacy_tool(const Config& config);

}  // namespace clat::firewall
