#pragma once
/// The port to the host's firewalls (SPEC §6): where clatd's accept rules must go, whether
/// the ones it added are still complete, and a cheap watch for changes. The rules themselves
/// are added and removed as operations through the KernelPort (op::AddFirewallAccept).
/// Implemented by adapters/firewall_watch and by fakes.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "states/operation.hpp"

namespace clat {

/// What one look at the firewalls found.
struct FirewallInspection {
    /// Where the accept rules must go, in the order nftables, ip6tables, ip6tables-legacy:
    /// each backend where a forward drop is in force (or the one ip6tables-enable=yes names).
    /// A backend whose tool failed is listed too, so that adding the rules reports the error.
    std::vector<op::FirewallTarget> targets;
    /// Of the rules asked about, those of a listed backend that are not complete there (one
    /// direction, or one dropping chain, lacks them): removed behind clatd's back.
    std::vector<op::FirewallRule> lost;
    /// What could not be read ("nft -a list ruleset: exit 1: ..."), for the log.
    std::vector<std::string> problems;
    bool operator==(const FirewallInspection&) const = default;
};

class FirewallPort {
  public:
    virtual ~FirewallPort() = default;
    /// Looks at the firewalls now; runs the tools (nft, ip6tables), so the agent calls it only
    /// when it plans with no inspection at hand. ours: this instance's journalled rules.
    virtual FirewallInspection inspect(const Config& config,
                                       const std::vector<op::FirewallRule>& ours) = 0;
    /// Every interval, a look that runs no tool at whether a firewall changed since the last
    /// inspect(); on_change is called on the loop once per change seen. 0 stops the watch.
    virtual void watch(std::chrono::milliseconds interval, std::function<void()> on_change) = 0;
};

}  // namespace clat
