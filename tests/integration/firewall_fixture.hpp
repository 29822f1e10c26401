#pragma once
// Shared by the firewall kernel tests: the kernel port, rule values, a clean-up guard and a
// forwarding path through this namespace to ping across.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "adapters/netlink_kernel.hpp"
#include "tests/integration/harness.hpp"

namespace clat::test {

inline constexpr auto kApplied = ApplyOutcome::kApplied;
inline constexpr auto kAlreadyInPlace = ApplyOutcome::kAlreadyInPlace;

inline NetlinkKernel& kernel() {
    static auto opened = NetlinkKernel::open();
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
    return **opened;
}

inline ApplyOutcome apply_ok(const Operation& op) {
    auto result = kernel().apply(op);
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message));
    return *result;
}

inline int count(const std::string& text, const std::string& part) {
    int n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
        ++n;
    return n;
}

inline op::FirewallRule rule(op::FirewallBackend backend, const std::string& tool,
                             const char* clat_v6 = "2001:db8:a::2",
                             const std::string& clat_dev = "fwclat",
                             const std::string& plat_dev = "fwplat") {
    op::FirewallRule r;
    r.backend = backend;
    r.tool = tool;
    r.clat_dev = clat_dev;
    r.plat_dev = plat_dev;
    r.clat_v6 = *Ipv6Address::parse(clat_v6);
    r.plat_prefix = *Ipv6Prefix::parse("2001:db8:64::/96");
    return r;
}

/// Leaves no firewall state behind for the next test case, even when one fails.
struct CleanFirewallsAfter {
    CleanFirewallsAfter() = default;
    CleanFirewallsAfter(const CleanFirewallsAfter&) = delete;
    CleanFirewallsAfter& operator=(const CleanFirewallsAfter&) = delete;
    ~CleanFirewallsAfter() {
        sh_status("nft flush ruleset");
        sh_status("ip6tables-legacy -P FORWARD ACCEPT && ip6tables-legacy -F FORWARD");
    }
};

/// clat side (peer A) <-> this namespace (forwarding, dropping firewall) <-> plat side (peer B).
/// Each test case names its links apart (`tag`, and a serial number for every path made, so
/// that each doctest subcase has its own), and the links are deleted before the peer
/// namespaces go: a veth whose peer namespace is being destroyed lingers for a while, and a
/// link of the same name made meanwhile fails with "File exists".
inline std::string next_path_serial() {
    static int serial = 0;
    return std::to_string(serial++);
}

struct ForwardingPath {
    PeerNetns clat_side;
    PeerNetns plat_side;
    std::string clat_dev;
    std::string plat_dev;
    explicit ForwardingPath(const std::string& tag)
        : clat_dev("fwc" + tag + next_path_serial()), plat_dev("fwp" + tag + next_path_serial()) {
        // No DAD anywhere: a tentative address delays the first packets past ping's wait.
        sh("sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.forwarding=1");
        clat_side.sh("sysctl -qw net.ipv6.conf.default.accept_dad=0");
        plat_side.sh("sysctl -qw net.ipv6.conf.default.accept_dad=0");
        sh("ip link add " + clat_dev + " type veth peer name " + clat_dev + "p netns " +
           std::to_string(clat_side.pid()));
        sh("ip link add " + plat_dev + " type veth peer name " + plat_dev + "p netns " +
           std::to_string(plat_side.pid()));
        sh("ip link set " + clat_dev + " up && ip link set " + plat_dev + " up && " +
           "ip -6 addr add 2001:db8:a::1/64 dev " + clat_dev + " nodad && " +
           "ip -6 addr add 2001:db8:b::1/64 dev " + plat_dev + " nodad && " +
           "ip -6 route add 2001:db8:64::/96 via 2001:db8:b::2");
        clat_side.sh("ip link set " + clat_dev + "p up && ip -6 addr add 2001:db8:a::2/64 dev " +
                     clat_dev + "p nodad && ip -6 route add default via 2001:db8:a::1");
        plat_side.sh("ip link set " + plat_dev + "p up && ip -6 addr add 2001:db8:b::2/64 dev " +
                     plat_dev +
                     "p nodad && ip -6 addr add 2001:db8:64::5/128 dev lo"
                     " && ip -6 route add default via 2001:db8:b::1");
    }
    ForwardingPath(const ForwardingPath&) = delete;
    ForwardingPath& operator=(const ForwardingPath&) = delete;
    ~ForwardingPath() {
        // Deleting one end deletes the pair at once (synchronously, unlike a namespace).
        sh_status("ip link del " + clat_dev);
        sh_status("ip link del " + plat_dev);
    }
    /// One echo across (2 s wait): for what must not pass.
    bool ping() const {
        try {
            clat_side.sh("ping -6 -c 1 -W 2 2001:db8:64::5");
            return true;
        } catch (const std::exception&) {
            return false;
        }
    }
    /// Up to five echoes, true at the first answer: for what must pass, so that one echo lost
    /// on a loaded machine (neighbour discovery on a path just made) is not a failure.
    bool passes() const {
        for (int i = 0; i < 5; ++i) {
            if (ping())
                return true;
        }
        return false;
    }
    op::FirewallRule rule_for(op::FirewallBackend backend, const std::string& tool) const {
        return rule(backend, tool, "2001:db8:a::2", clat_dev, plat_dev);
    }
};

}  // namespace clat::test
