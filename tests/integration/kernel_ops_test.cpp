// NetlinkKernel against the real kernel: every operation applies, shows in the kernel,
// is idempotent, and its inverse returns the namespace to exactly what it was.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <net/if.h>  // before linux/if_tun.h
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "adapters/netlink_kernel.hpp"
#include "tests/integration/harness.hpp"
#include "tests/values.hpp"

namespace clat::test {
namespace {

constexpr auto kApplied = ApplyOutcome::kApplied;
constexpr auto kAlreadyInPlace = ApplyOutcome::kAlreadyInPlace;

NetlinkKernel& kernel() {
    static auto opened = NetlinkKernel::open();
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
    return **opened;
}

ApplyOutcome apply_ok(const Operation& op) {
    auto result = kernel().apply(op);
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message));
    return *result;
}

std::string apply_error(const Operation& op) {
    auto result = kernel().apply(op);
    REQUIRE_FALSE(result.ok());
    return result.error().message;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

/// Link state (operstate, carrier) settles asynchronously in the kernel's linkwatch work, so
/// the final comparison waits up to two seconds for the namespace to look as before.
void check_snapshot_returns_to(const std::string& before) {
    std::string now = snapshot();
    for (int i = 0; i < 20 && now != before; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        now = snapshot();
    }
    CHECK(now == before);
}

/// Apply, see it, apply again (nothing to do), undo, undo again (nothing to do), and find the
/// namespace exactly as it was.
void round_trip(const Operation& change, const Operation& inverse,
                const std::function<void()>& check_changed) {
    const std::string before = snapshot();
    CHECK(apply_ok(change) == kApplied);
    check_changed();
    CHECK(apply_ok(change) == kAlreadyInPlace);
    CHECK(apply_ok(inverse) == kApplied);
    CHECK(apply_ok(inverse) == kAlreadyInPlace);
    check_snapshot_returns_to(before);
}

/// New links skip DAD for their link-local addresses, whose tentative flag would otherwise
/// clear in the middle of a comparison; tests that want DAD enable it on their link.
void add_veth(const std::string& name) {
    sh("sysctl -qw net.ipv6.conf.default.accept_dad=0");
    sh("ip link add " + name + " type veth peer name " + name + "p");
}

/// A veth pair kt0 <-> kt0p, both up, with 192.0.2.1/24 and 2001:db8:1::1/64 on kt0.
struct Veth {
    Veth() {
        add_veth("kt0");
        sh("ip link set kt0 up && "
           "ip link set kt0p up && ip addr add 192.0.2.1/24 dev kt0 && "
           "ip -6 addr add 2001:db8:1::1/64 dev kt0 nodad");
    }
    ~Veth() { sh_status("ip link del kt0"); }
    Veth(const Veth&) = delete;
    Veth& operator=(const Veth&) = delete;
};

TEST_CASE("a persistent tun device is created and deleted") {
    round_trip(op::CreateTun{"clattest0"}, op::DeleteLink{"clattest0"}, [] {
        const auto shown = sh("ip -d link show clattest0");
        CHECK(contains(shown, "tun type tun pi off"));
        CHECK(contains(shown, "persist on"));
    });
}

TEST_CASE("an existing tun device is in place and never attached to, even for a moment") {
    // A translator attaching while create-tun runs must never get EBUSY: a child attaches and
    // detaches in a loop while the tun is "created" again and again.
    sh("ip tuntap add dev kttun0 mode tun");
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        int busy = 0;
        for (int i = 0; i < 3000; ++i) {
            const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
            ifreq ifr{};
            std::strcpy(ifr.ifr_name, "kttun0");
            ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
            if (::ioctl(fd, TUNSETIFF, &ifr) < 0 && errno == EBUSY)
                ++busy;
            ::close(fd);
        }
        ::_exit(busy == 0 ? 0 : 1);
    }
    int in_place = 0;
    int failures = 0;
    int status = 0;
    while (::waitpid(child, &status, WNOHANG) == 0) {
        auto outcome = kernel().apply(op::CreateTun{"kttun0"});
        if (!outcome.ok() && failures++ == 0)
            MESSAGE(outcome.error().message);
        in_place += outcome.ok() && *outcome == kAlreadyInPlace ? 1 : 0;
    }
    CHECK(failures == 0);
    CHECK(in_place > 0);
    CHECK(WIFEXITED(status));
    CHECK_MESSAGE(WEXITSTATUS(status) == 0, "the other attacher met EBUSY");
    sh("ip link del kttun0");
}

TEST_CASE("a link of another kind is not taken for a tun device") {
    Veth veth;
    CHECK(contains(apply_error(op::CreateTun{"kt0"}), ": kt0 exists and is not a TUN device"));
}

TEST_CASE("a link is set up and down") {
    add_veth("kt1");
    // The first up attaches the default qdisc (noop -> noqueue), which stays: start from a
    // link that has been up once.
    sh("ip link set kt1 up && ip link set kt1 down");
    round_trip(op::SetLinkUp{"kt1", true}, op::SetLinkUp{"kt1", false},
               [] { CHECK(contains(sh("ip link show kt1"), ",UP")); });
    sh("ip link del kt1");
}

TEST_CASE("a link's MTU is changed") {
    Veth veth;
    round_trip(op::SetLinkMtu{"kt0", 1400}, op::SetLinkMtu{"kt0", 1500},
               [] { CHECK(contains(sh("ip link show kt0"), "mtu 1400")); });
}

TEST_CASE("IPv4 addresses are added and removed") {
    Veth veth;
    round_trip(op::AddAddressV4{"kt0", v4("192.0.0.1"), 29},
               op::RemoveAddressV4{"kt0", v4("192.0.0.1"), 29},
               [] { CHECK(contains(sh("ip -4 addr show dev kt0"), "inet 192.0.0.1/29")); });
}

TEST_CASE("IPv6 addresses are added without DAD, or with the kernel's DAD") {
    Veth veth;
    round_trip(op::AddAddressV6{"kt0", v6("2001:db8:1::c1a7"), 128, false},
               op::RemoveAddressV6{"kt0", v6("2001:db8:1::c1a7"), 128}, [] {
                   const auto shown = sh("ip -6 addr show dev kt0");
                   CHECK(contains(shown, "inet6 2001:db8:1::c1a7/128 scope global nodad"));
               });
    // DAD made slow (3 probes, 2 s apart) so that the address is surely still tentative
    // when looked at.
    sh("sysctl -qw net.ipv6.conf.kt0.accept_dad=1 net.ipv6.conf.kt0.dad_transmits=3 "
       "net.ipv6.neigh.kt0.retrans_time_ms=2000");
    round_trip(op::AddAddressV6{"kt0", v6("2001:db8:1::d1d"), 64, true},
               op::RemoveAddressV6{"kt0", v6("2001:db8:1::d1d"), 64}, [] {
                   const auto shown = sh("ip -6 addr show dev kt0");
                   CHECK(contains(shown, "inet6 2001:db8:1::d1d/64 scope global tentative"));
               });
}

TEST_CASE("IPv4 routes carry gateway, metric, protocol, table, scope and metrics") {
    Veth veth;
    RouteV4 via;
    via.destination = p4("198.51.100.0/24");
    via.gateway = v4("192.0.2.2");
    via.metric = 50;
    via.protocol = kRouteProtocol;
    via.mtu = 1260;
    via.advmss = 1220;
    round_trip(op::AddRouteV4{"kt0", via}, op::RemoveRouteV4{"kt0", via}, [] {
        CHECK(contains(sh("ip -4 route show 198.51.100.0/24"),
                       "via 192.0.2.2 dev kt0 proto 199 metric 50 mtu 1260 advmss 1220"));
    });
    RouteV4 onlink;
    onlink.destination = p4("0.0.0.0/0");
    onlink.table = 1000;
    onlink.scope = 253;  // RT_SCOPE_LINK
    onlink.protocol = kRouteProtocol;
    onlink.metric = 7;
    round_trip(op::AddRouteV4{"kt0", onlink}, op::RemoveRouteV4{"kt0", onlink}, [] {
        CHECK(contains(sh("ip -4 route show table 1000"),
                       "default dev kt0 proto 199 scope link metric 7"));
    });
}

TEST_CASE("IPv6 routes carry gateway, metric, protocol, table and MTU") {
    Veth veth;
    RouteV6 route;
    route.destination = p6("2001:db8:64::/96");
    route.gateway = v6("2001:db8:1::2");
    route.metric = 300;
    route.protocol = kRouteProtocol;
    route.mtu = 1280;
    round_trip(op::AddRouteV6{"kt0", route}, op::RemoveRouteV6{"kt0", route}, [] {
        CHECK(contains(sh("ip -6 route show 2001:db8:64::/96"),
                       "via 2001:db8:1::2 dev kt0 proto 199 metric 300 mtu 1280"));
    });
    RouteV6 other_table;
    other_table.destination = p6("::/0");
    other_table.table = 4242;
    other_table.protocol = kRouteProtocol;  // metric 0: the kernel's default, 1024
    round_trip(op::AddRouteV6{"kt0", other_table}, op::RemoveRouteV6{"kt0", other_table}, [] {
        CHECK(contains(sh("ip -6 route show table 4242"), "default dev kt0 proto 199 metric 1024"));
    });
}

TEST_CASE("removing a route leaves a foreign route that differs in metric, protocol or device") {
    Veth veth;
    sh("ip route add 198.51.100.0/24 via 192.0.2.2 dev kt0 metric 100 proto 199");
    sh("ip -6 route add 2001:db8:64::/96 via 2001:db8:1::2 dev kt0 metric 100 proto static");
    const std::string before = snapshot();
    RouteV4 r4;
    r4.destination = p4("198.51.100.0/24");
    r4.gateway = v4("192.0.2.2");
    r4.protocol = kRouteProtocol;
    r4.metric = 0;  // the kernel's delete would take metric 0 as "any"
    CHECK(apply_ok(op::RemoveRouteV4{"kt0", r4}) == kAlreadyInPlace);
    r4.metric = 50;
    CHECK(apply_ok(op::RemoveRouteV4{"kt0", r4}) == kAlreadyInPlace);
    r4.metric = 100;
    CHECK(apply_ok(op::RemoveRouteV4{"kt0p", r4}) == kAlreadyInPlace);
    RouteV6 r6;
    r6.destination = p6("2001:db8:64::/96");
    r6.gateway = v6("2001:db8:1::2");
    r6.protocol = kRouteProtocol;
    r6.metric = 100;  // protocol differs: static (4) there
    CHECK(apply_ok(op::RemoveRouteV6{"kt0", r6}) == kAlreadyInPlace);
    r6.protocol = 4;
    r6.metric = 0;
    CHECK(apply_ok(op::RemoveRouteV6{"kt0", r6}) == kAlreadyInPlace);
    CHECK(snapshot() == before);
    r6.metric = 100;
    CHECK(apply_ok(op::RemoveRouteV6{"kt0", r6}) == kApplied);
    CHECK_FALSE(contains(sh("ip -6 route show"), "2001:db8:64::/96"));
}

TEST_CASE("IPv6 policy rules are added and removed") {
    Veth veth;
    RuleV6 rule;
    rule.priority = 1234;
    rule.table = 4242;
    rule.destination = p6("2001:db8:64::/96");
    rule.source = p6("2001:db8:1::/64");
    rule.fwmark = 7;
    rule.iif = "kt0";
    round_trip(op::AddRuleV6{rule}, op::RemoveRuleV6{rule}, [] {
        CHECK(contains(sh("ip -6 rule show"),
                       "1234:\tfrom 2001:db8:1::/64 to 2001:db8:64::/96 "
                       "fwmark 0x7 iif kt0 lookup 4242"));
    });
    // A foreign rule that our rule's selectors would match as wildcards stays.
    sh("ip -6 rule add priority 1234 from 2001:db8:2::/64 to 2001:db8:64::/96 fwmark 7 iif kt0 "
       "lookup 4242");
    const std::string with_foreign = snapshot();
    CHECK(apply_ok(op::RemoveRuleV6{rule}) == kAlreadyInPlace);
    rule.source.reset();
    CHECK(apply_ok(op::RemoveRuleV6{rule}) == kAlreadyInPlace);
    CHECK(snapshot() == with_foreign);
    sh("ip -6 rule del priority 1234");
    RuleV6 plain;
    plain.priority = 1235;
    plain.table = kMainTable;
    round_trip(op::AddRuleV6{plain}, op::RemoveRuleV6{plain},
               [] { CHECK(contains(sh("ip -6 rule show"), "1235:\tfrom all lookup main")); });
}

TEST_CASE("IPv6 proxy neighbours are added and removed") {
    Veth veth;
    round_trip(op::AddProxyNeighbour{"kt0", v6("2001:db8:1::c1a7")},
               op::RemoveProxyNeighbour{"kt0", v6("2001:db8:1::c1a7"), std::nullopt}, [] {
                   CHECK(contains(sh("ip -6 neigh show proxy"), "2001:db8:1::c1a7 dev kt0 proxy"));
               });
}

TEST_CASE("sysctls are written, read back trimmed, and restored only if unchanged") {
    Veth veth;
    const std::string path = "net/ipv6/conf/kt0/forwarding";
    round_trip(op::SetSysctl{path, "1", std::nullopt}, op::SetSysctl{path, "0", "1"}, [&] {
        CHECK(sh("cat /proc/sys/" + path) == "1\n");
        auto read = kernel().read_sysctl(path);
        REQUIRE(read.ok());
        CHECK(*read == "1");
    });
    // Someone else set proxy_ndp to 1 since we wrote 0: the undo must not touch it.
    sh("sysctl -qw net.ipv6.conf.kt0.proxy_ndp=1");
    CHECK(apply_ok(op::SetSysctl{"net/ipv6/conf/kt0/proxy_ndp", "0", "2"}) == kAlreadyInPlace);
    CHECK(sh("cat /proc/sys/net/ipv6/conf/kt0/proxy_ndp") == "1\n");
    CHECK(apply_ok(op::SetSysctl{"net/ipv6/conf/kt0/proxy_ndp", "0", "1"}) == kApplied);
    CHECK(sh("cat /proc/sys/net/ipv6/conf/kt0/proxy_ndp") == "0\n");
}

TEST_CASE("sysctl paths must stay below /proc/sys") {
    for (const char* bad : {"../../etc/passwd", "/proc/sys/net/ipv4/ip_forward", "net//ipv4",
                            "net/ipv4/../../x", ""}) {
        CAPTURE(bad);
        CHECK(contains(apply_error(op::SetSysctl{bad, "1", std::nullopt}), "sysctl path"));
        CHECK_FALSE(kernel().read_sysctl(bad).ok());
    }
}

TEST_CASE("errors name the operation and the kernel's reason") {
    Veth veth;
    const Operation no_device = op::AddAddressV4{"nosuch0", v4("192.0.2.9"), 32};
    CHECK(apply_error(no_device) == to_string(no_device) + ": no such device nosuch0");
    RouteV6 unreachable;
    unreachable.destination = p6("2001:db8:99::/64");
    unreachable.gateway = v6("2001:db8:77::1");
    const Operation add_route = op::AddRouteV6{"kt0", unreachable};
    const auto message = apply_error(add_route);
    CHECK(message.rfind(to_string(add_route) + ": ", 0) == 0);
    CHECK(contains(message, "No route to host"));
    const Operation huge_mtu = op::SetLinkMtu{"kt0", 70000};
    CHECK(apply_error(huge_mtu).rfind(to_string(huge_mtu) + ": Invalid argument", 0) == 0);
}

TEST_CASE("removing what is already gone is not an error") {
    Veth veth;
    CHECK(apply_ok(op::DeleteLink{"nosuch0"}) == kAlreadyInPlace);
    CHECK(apply_ok(op::RemoveAddressV4{"nosuch0", v4("192.0.2.9"), 32}) == kAlreadyInPlace);
    CHECK(apply_ok(op::RemoveAddressV6{"kt0", v6("2001:db8:1::9"), 64}) == kAlreadyInPlace);
    CHECK(apply_ok(op::RemoveProxyNeighbour{"nosuch0", v6("2001:db8:1::9"), std::nullopt}) ==
          kAlreadyInPlace);
    CHECK(apply_ok(op::SetLinkUp{"nosuch0", false}) == kAlreadyInPlace);
    RouteV4 r;
    r.destination = p4("203.0.113.0/24");
    CHECK(apply_ok(op::RemoveRouteV4{"nosuch0", r}) == kAlreadyInPlace);
}

}  // namespace
}  // namespace clat::test
