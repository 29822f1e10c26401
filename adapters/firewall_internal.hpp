#pragma once
/// Internal to the firewall adapter: the tool runner and the two backends.

#include <array>
#include <string>
#include <vector>

#include "ports/kernel.hpp"
#include "states/ip.hpp"
#include "states/operation.hpp"
#include "states/result.hpp"

namespace clat::firewall {

/// One direction of CLAT traffic: in on in_dev, out on out_dev, source to destination, in a
/// rule carrying comment.
struct Direction {
    std::string in_dev;
    std::string out_dev;
    Ipv6Prefix source;
    Ipv6Prefix destination;
    std::string comment;
    bool operator==(const Direction&) const = default;
};

/// CLAT -> PLAT, then PLAT -> CLAT.
std::array<Direction, 2> directions(const op::FirewallRule& rule);

/// How a tool run ended.
struct ToolRun {
    int exit_code = 0;
    std::string output;  ///< stdout and stderr together
};

/// Runs argv (argv[0] looked up in PATH) and waits; an error only when it cannot start.
Result<ToolRun> run_tool(const std::vector<std::string>& argv);

/// "<argv...>: exit N: <output>", for error messages.
std::string describe_failure(const std::vector<std::string>& argv, const ToolRun& run);

/// What one backend shows: whether a forward drop is in force there, and which of the rules
/// asked about (all of that backend) are not complete there.
struct BackendState {
    bool drops = false;
    std::vector<op::FirewallRule> lost;
};

/// nftables: a drop is a forward base chain of family ip6 or inet with policy drop or a drop
/// or reject rule; a rule is complete when both its directions are in every such chain.
Result<BackendState> nft_state(const std::string& tool, const std::vector<op::FirewallRule>& ours);
/// ip6tables (either variant, by its tool): a drop is FORWARD's policy DROP or a rule of
/// FORWARD jumping to DROP or REJECT; a rule is complete when both its directions are in
/// FORWARD (there, with an explicit ip6tables-enable, even when FORWARD accepts).
Result<BackendState> ip6tables_state(const std::string& tool,
                                     const std::vector<op::FirewallRule>& ours);

Result<ApplyOutcome> nft_add(const std::string& tool, const std::array<Direction, 2>& dirs);
Result<ApplyOutcome> nft_remove(const std::string& tool, const std::array<Direction, 2>& dirs);

}  // namespace clat::firewall
