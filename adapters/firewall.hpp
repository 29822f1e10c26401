#pragma once
/// Accept rules that let CLAT traffic through a host firewall whose forward policy drops:
/// from the CLAT IPv6 address to the PLAT prefix (clat_dev -> plat_dev) and back. Each rule
/// carries the comment "clatd-<mark>" (the instance's mark, journalled with the rule) and is
/// found again from the FirewallRule value alone, so that an undo journal replayed after a
/// crash removes what the earlier instance added, and nothing else: not a user's rule that
/// matches the same traffic, not another instance's, not one that merely says "clatd".
///
/// nftables: an accept verdict ends evaluation only in its own base chain; every other base
/// chain on the forward hook still runs and may drop. So the rules go into each forward base
/// chain of family ip6 or inet whose policy is drop (at the top); with no such chain there is
/// nothing to do. Chains with accept policy that drop by an explicit rule are not handled.
/// ip6tables: the rules go at the top of the filter table's FORWARD chain.
///
/// The tool (cmd-nft, cmd-ip6tables) runs with an argument vector, never through a shell.

#include "ports/kernel.hpp"
#include "states/operation.hpp"
#include "states/result.hpp"

namespace clat::firewall {

/// Inserts whichever of the two accept rules is missing; kAlreadyInPlace when none was.
Result<ApplyOutcome> add_accept(const op::FirewallRule& rule);

/// Removes the accept rules of rule wherever they are; kAlreadyInPlace when there were none.
Result<ApplyOutcome> remove_accept(const op::FirewallRule& rule);

}  // namespace clat::firewall
