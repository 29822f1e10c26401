#pragma once
/// What the agent publishes on D-Bus (SPEC §8): a plain, immutable snapshot of its state, and
/// the packet counters of the CLAT device, which are read on demand instead.

#include <cstdint>
#include <string>

namespace clat::dbus {

/// One snapshot of the agent's state, as the properties of net.clatd.Agent1 show it. The agent
/// builds a new one after every transition and hands it to DbusService::publish().
struct AgentStatus {
    /// Idle, ProbeV4, DiscoverPLAT, Provision, Running, Failed, Teardown or Stopped.
    std::string state = "Idle";
    /// Why the agent waits in this state; empty when running.
    std::string reason;
    /// The PLAT prefix in use (e.g. "2001:db8:64::/96"); empty if none.
    std::string plat_prefix;
    /// Where the prefix came from: "config", "pref64", "dns64", "fallback" or "".
    std::string plat_source;
    /// When the prefix expires, UNIX seconds; 0 = never (or no prefix).
    std::uint64_t plat_expiry = 0;
    std::string plat_dev;
    std::string clat_dev;
    std::string clat_v4;
    std::string clat_v6;
    /// PID of the translator child; 0 when none runs.
    std::uint32_t translator_pid = 0;
    std::uint32_t translator_restarts = 0;
    /// What carries the packets: "bpf" (eBPF programs, TAYGA as the slow path) or "tayga".
    std::string data_path = "tayga";
    /// Why the eBPF path is not in use although data-path asks for it; empty otherwise.
    std::string data_path_reason;
    /// Where clatd's firewall accept rules are now, comma-separated in the order "nftables",
    /// "ip6tables", "ip6tables-legacy"; empty when no rule is in place.
    std::string firewall;
    /// When the agent entered the current state, UNIX microseconds.
    std::uint64_t last_transition = 0;
    std::string last_error;

    bool operator==(const AgentStatus&) const = default;
};

/// Packet and byte counters of the CLAT device (all zero when it does not exist): with the
/// eBPF data path, what the slow path (TAYGA) carried; and the fast path's own counters (zero
/// without it).
struct Counters {
    std::uint64_t rx_packets = 0;
    std::uint64_t tx_packets = 0;
    std::uint64_t rx_bytes = 0;
    std::uint64_t tx_bytes = 0;
    std::uint64_t fast_egress_packets = 0;  ///< IPv4 -> IPv6 in the kernel
    std::uint64_t fast_egress_bytes = 0;
    std::uint64_t fast_ingress_packets = 0;  ///< IPv6 -> IPv4 in the kernel
    std::uint64_t fast_ingress_bytes = 0;
    /// "reason=N ..." of the packets the fast path left to the slow path (nonzero only).
    std::string fast_slow_path;
    /// "reason=N ..." of the packets the fast path dropped (nonzero only).
    std::string fast_dropped;

    bool operator==(const Counters&) const = default;
};

}  // namespace clat::dbus
