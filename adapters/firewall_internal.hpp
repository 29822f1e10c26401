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

Result<ApplyOutcome> nft_add(const std::string& tool, const std::array<Direction, 2>& dirs);
Result<ApplyOutcome> nft_remove(const std::string& tool, const std::array<Direction, 2>& dirs);

}  // namespace clat::firewall
