#pragma once
/// The firewall port on the agent's loop: inspect() is firewall::inspect, and the watch polls a
/// fingerprint of the firewalls that costs no process: the nftables ruleset's generation (one
/// netlink request; it changes with every committed nft transaction, iptables-nft's
/// included) and a hash of the legacy xtables filter table (two getsockopt calls, only once
/// that table exists; rule counters left out, since traffic changes them).
///
/// Why a poll and not nft's netlink notifications: the legacy tables announce nothing, so a
/// poll is needed for them anyway, and with it one for nftables costs a round trip per
/// interval, where a subscription would wake clatd for every transaction of every other
/// program (docker, fail2ban, firewalld) without need.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "agent/asio.hpp"
#include "ports/firewall.hpp"

namespace clat {

/// What the watch compares. nullopt: that backend cannot be read (no nf_tables in the
/// kernel, no legacy filter table).
struct FirewallFingerprint {
    std::optional<std::uint32_t> nft_generation;
    std::optional<std::uint64_t> legacy_filter;
    bool operator==(const FirewallFingerprint&) const = default;
};

/// Takes the fingerprint of this network namespace's firewalls now.
FirewallFingerprint firewall_fingerprint();

class FirewallWatch final : public FirewallPort {
  public:
    explicit FirewallWatch(boost::asio::io_context& io) : timer_(io) {}
    FirewallInspection inspect(const Config& config,
                               const std::vector<op::FirewallRule>& ours) override;
    void watch(std::chrono::milliseconds interval, std::function<void()> on_change) override;

  private:
    void schedule();

    boost::asio::steady_timer timer_;
    std::chrono::milliseconds interval_{0};
    std::function<void()> on_change_;
    /// The fingerprint taken before the last inspection, or at the last change reported.
    FirewallFingerprint baseline_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace clat
