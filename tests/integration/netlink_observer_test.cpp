// The netlink observer against the real kernel, in a private network namespace.

#include <doctest/doctest.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/netlink_observer.hpp"
#include "adapters/netlink_parse.hpp"
#include "tests/integration/harness.hpp"

namespace clat::test {
namespace {

using namespace std::chrono_literals;

std::int64_t monotonic_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

int ifindex(const std::string& name) {
    return static_cast<int>(::if_nametoindex(name.c_str()));
}

/// An observer on its own loop, counting change notifications.
struct Fixture {
    explicit Fixture(NetlinkObserver::Options options = {})
        : observer(
              io, monotonic_ms, [this] { ++changes; }, options) {}
    const Observed& seen() const { return observer.observed(); }

    /// Steps the loop until pred holds; false when the fail-safe deadline passes first.
    template <typename Pred>
    bool run_until(Pred pred, std::chrono::milliseconds limit = 5s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!pred()) {
            if (std::chrono::steady_clock::now() >= deadline)
                return false;
            io.restart();
            io.run_one_for(20ms);
        }
        return true;
    }
    /// Runs the loop for a while, so that late notifications would arrive.
    void settle(std::chrono::milliseconds time = 300ms) {
        io.restart();
        io.run_for(time);
    }

    boost::asio::io_context io;
    int changes = 0;
    NetlinkObserver observer;
};

/// A veth pair, both ends up (unless asked), removed with everything on it at scope exit.
struct Veth {
    Veth(std::string name_, std::string peer_, bool up = true) : name(name_), peer(peer_) {
        sh("ip link add " + name + " type veth peer name " + peer);
        sh("sysctl -qw net.ipv6.conf." + name + ".accept_dad=0 net.ipv6.conf." + peer +
           ".accept_dad=0");
        if (up)
            sh("ip link set " + name + " up && ip link set " + peer + " up");
    }
    ~Veth() { sh_status("ip link del " + name); }
    std::string name;
    std::string peer;
};

template <typename T>
const T* find_address(const std::vector<T>& list, const std::string& address) {
    for (const auto& a : list) {
        if (a.address.to_string() == address)
            return &a;
    }
    return nullptr;
}

template <typename T>
const T* find_route(const std::vector<T>& list, const std::string& dst,
                    std::uint32_t table = kMainTable) {
    for (const auto& r : list) {
        if (r.destination.to_string() == dst && r.table == table)
            return &r;
    }
    return nullptr;
}

/// Writes a helper file under /tmp; every one is removed when the test binary exits.
std::string write_file(const std::string& stem, const std::string& text) {
    struct Files {
        ~Files() {
            for (const auto& path : paths)
                std::remove(path.c_str());
        }
        std::vector<std::string> paths;
    };
    static Files files;
    const std::string path = "/tmp/clat-netlink-test-" + std::to_string(::getpid()) + "-" + stem;
    std::ofstream(path) << text;
    files.paths.push_back(path);
    return path;
}

/// Every route, one line each: family, table, destination, metric, device, type.
std::string kernel_routes() {
    static const std::string script = write_file("routes.py", R"(import json, subprocess
lines = []
for family, full in (("-4", 32), ("-6", 128)):
    out = subprocess.check_output(["ip", "-N", "-j", family, "route", "show", "table", "all"])
    for r in json.loads(out):
        dst = r["dst"]
        if dst == "default":
            dst = "0.0.0.0/0" if family == "-4" else "::/0"
        elif "/" not in dst:
            dst += "/%d" % full
        lines.append("%s %s %s %s %s %s" % (family, r.get("table", "254"), dst,
                     r.get("metric", 0), r.get("dev", ""), r.get("type", "1")))
print("\n".join(sorted(lines)))
)");
    return sh("python3 " + script);
}

std::string observed_routes(const Observed& o) {
    std::vector<std::string> lines;
    auto add = [&](const char* family, const auto& r) {
        const Link* link = o.link_by_index(r.oif);
        std::ostringstream line;
        line << family << ' ' << r.table << ' ' << r.destination.to_string() << ' ' << r.metric
             << ' ' << (link != nullptr ? link->name : "") << ' ' << int{r.type};
        lines.push_back(line.str());
    };
    for (const auto& r : o.routes_v4)
        add("-4", r);
    for (const auto& r : o.routes_v6)
        add("-6", r);
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (const auto& line : lines)
        out += line + "\n";
    return out;
}

TEST_CASE("the initial dump holds the links, addresses and routes that already exist") {
    Veth veth("dump0", "dump1");
    sh("ip link set dump0 mtu 1400");
    sh("ip addr add 192.0.2.1/24 dev dump0");
    sh("ip addr add 2001:db8:1::1/64 dev dump0 nodad");
    sh("ip route add 198.51.100.0/24 via 192.0.2.2 dev dump0 metric 50 table 100 proto 199 "
       "mtu 1280 advmss 1200");
    sh("ip -6 route add 2001:db8:64::/96 dev dump0 metric 77 mtu 1300");
    Fixture f;
    REQUIRE(f.observer.start().ok());
    const Observed& o = f.seen();
    const int index = ifindex("dump0");

    const Link* link = o.link_by_name("dump0");
    REQUIRE(link != nullptr);
    CHECK(link->index == index);
    CHECK(link->kind == "veth");
    CHECK(link->mtu == 1400);
    CHECK(link->admin_up);
    CHECK(link->lower_up);
    REQUIRE(o.link_by_name("lo") != nullptr);

    const AddressV4* v4 = find_address(o.addresses_v4, "192.0.2.1");
    REQUIRE(v4 != nullptr);
    CHECK(v4->ifindex == index);
    CHECK(v4->prefix_length == 24);
    const AddressV6* v6 = find_address(o.addresses_v6, "2001:db8:1::1");
    REQUIRE(v6 != nullptr);
    CHECK(v6->prefix_length == 64);
    CHECK(v6->nodad);
    CHECK(v6->permanent);
    CHECK(v6->usable());

    const RouteV4* r4 = find_route(o.routes_v4, "198.51.100.0/24", 100);
    REQUIRE(r4 != nullptr);
    CHECK(r4->oif == index);
    CHECK(r4->gateway == Ipv4Address::parse("192.0.2.2"));
    CHECK(r4->metric == 50);
    CHECK(r4->protocol == kRouteProtocol);
    CHECK(r4->mtu == 1280);
    CHECK(r4->advmss == 1200);
    CHECK(r4->type == RTN_UNICAST);
    const RouteV4* local = find_route(o.routes_v4, "192.0.2.1/32", 255);
    REQUIRE(local != nullptr);
    CHECK(local->type == RTN_LOCAL);
    CHECK(local->scope == RT_SCOPE_HOST);
    const RouteV6* r6 = find_route(o.routes_v6, "2001:db8:64::/96");
    REQUIRE(r6 != nullptr);
    CHECK(r6->oif == index);
    CHECK(r6->metric == 77);
    CHECK(r6->mtu == 1300);
    CHECK_FALSE(r6->gateway.has_value());

    // Link-local routes may still be arriving; the loop brings them in.
    CHECK(f.run_until([&] { return observed_routes(o) == kernel_routes(); }));
    CHECK(f.observer.stats().resyncs == 0);
}

TEST_CASE("live additions and removals of each kind reach the snapshot") {
    Fixture f;
    REQUIRE(f.observer.start().ok());
    const Observed& o = f.seen();
    Veth veth("live0", "live1", false);
    REQUIRE(f.run_until([&] { return o.link_by_name("live0") != nullptr; }));
    CHECK_FALSE(o.link_by_name("live0")->admin_up);
    sh("ip link set live0 up && ip link set live1 up");
    REQUIRE(f.run_until([&] { return o.link_by_name("live0")->lower_up; }));

    sh("ip addr add 192.0.2.9/24 dev live0");
    CHECK(f.run_until([&] { return find_address(o.addresses_v4, "192.0.2.9") != nullptr; }));
    sh("ip addr add 2001:db8:2::9/64 dev live0 nodad");
    CHECK(f.run_until([&] { return find_address(o.addresses_v6, "2001:db8:2::9") != nullptr; }));
    sh("ip route add 203.0.113.0/24 via 192.0.2.1 metric 7");
    CHECK(f.run_until([&] { return find_route(o.routes_v4, "203.0.113.0/24") != nullptr; }));
    CHECK(find_route(o.routes_v4, "203.0.113.0/24")->metric == 7);
    sh("ip -6 route add 2001:db8:99::/48 via 2001:db8:2::1 table 300");
    CHECK(f.run_until([&] { return find_route(o.routes_v6, "2001:db8:99::/48", 300); }));
    CHECK(find_route(o.routes_v6, "2001:db8:99::/48", 300)->gateway ==
          Ipv6Address::parse("2001:db8:2::1"));

    sh("ip route replace 203.0.113.0/24 dev live0 metric 7");
    CHECK(f.run_until([&] {
        const RouteV4* r = find_route(o.routes_v4, "203.0.113.0/24");
        return r != nullptr && !r->gateway.has_value();
    }));
    CHECK(std::count_if(o.routes_v4.begin(), o.routes_v4.end(), [](const RouteV4& r) {
              return r.destination.to_string() == "203.0.113.0/24";
          }) == 1);
    sh("ip route del 203.0.113.0/24");
    CHECK(f.run_until([&] { return find_route(o.routes_v4, "203.0.113.0/24") == nullptr; }));
    sh("ip -6 route del 2001:db8:99::/48 table 300");
    CHECK(f.run_until([&] { return !find_route(o.routes_v6, "2001:db8:99::/48", 300); }));
    sh("ip addr del 2001:db8:2::9/64 dev live0");
    CHECK(f.run_until([&] { return find_address(o.addresses_v6, "2001:db8:2::9") == nullptr; }));
    sh("ip addr del 192.0.2.9/24 dev live0");
    CHECK(f.run_until([&] { return find_address(o.addresses_v4, "192.0.2.9") == nullptr; }));

    const int index = ifindex("live0");
    sh("ip link del live0");
    CHECK(f.run_until([&] { return o.link_by_index(index) == nullptr; }));
    f.settle();
    CHECK(observed_routes(o) == kernel_routes());
    CHECK(f.changes > 0);
}

TEST_CASE("a link set down loses its IPv4 routes, which the kernel does not announce") {
    Fixture f;
    REQUIRE(f.observer.start().ok());
    Veth veth("down0", "down1");
    sh("ip addr add 192.0.2.17/28 dev down0");
    sh("ip route add 198.51.100.64/26 via 192.0.2.18");
    REQUIRE(f.run_until([&] { return find_route(f.seen().routes_v4, "198.51.100.64/26"); }));
    sh("ip link set down0 down");
    CHECK(f.run_until([&] { return !find_route(f.seen().routes_v4, "198.51.100.64/26"); }));
    CHECK(f.run_until([&] { return observed_routes(f.seen()) == kernel_routes(); }));
}

TEST_CASE("a burst of 200 route additions makes one notification") {
    Fixture f;
    REQUIRE(f.observer.start().ok());
    Veth veth("burst0", "burst1");
    REQUIRE(f.run_until([&] {
        const Link* link = f.seen().link_by_name("burst0");
        return link != nullptr && link->lower_up;
    }));
    f.settle();
    const int before = f.changes;
    std::string batch;
    for (int i = 0; i < 100; ++i) {
        batch += "route add 203.0.113." + std::to_string(i) + "/32 dev burst0\n";
        batch += "route add 2001:db8:b::" + std::to_string(i) + "/128 dev burst0\n";
    }
    sh("ip -batch " + write_file("burst", batch));
    const int index = ifindex("burst0");
    auto count = [&] {
        return std::count_if(
                   f.seen().routes_v4.begin(), f.seen().routes_v4.end(),
                   [&](const RouteV4& r) { return r.oif == index && r.table == kMainTable; }) +
               std::count_if(f.seen().routes_v6.begin(), f.seen().routes_v6.end(),
                             [&](const RouteV6& r) {
                                 return r.oif == index && r.table == kMainTable &&
                                        r.destination.length == 128;
                             });
    };
    CHECK(f.run_until([&] { return count() == 200; }));
    f.settle();
    CHECK(f.changes - before == 1);
    CHECK(f.observer.stats().overruns == 0);
}

TEST_CASE("with an interest, changes elsewhere reach the snapshot but notify nobody") {
    Fixture f;
    REQUIRE(f.observer.start().ok());
    Veth watched("intw0", "intw1");
    Veth other("into0", "into1");
    REQUIRE(f.run_until([&] {
        const Link* a = f.seen().link_by_name("intw0");
        const Link* b = f.seen().link_by_name("into0");
        return a != nullptr && a->lower_up && b != nullptr && b->lower_up;
    }));
    f.settle();
    f.observer.set_interest(ObservationInterest{{ifindex("intw0")}, std::nullopt});
    int before = f.changes;
    // Addresses on the other device and routes in another table: in the snapshot, silent.
    std::string batch;
    for (int i = 1; i <= 50; ++i)
        batch += "addr add 2001:db8:e::" + std::to_string(i) + "/128 dev into0 nodad\n";
    batch += "route add 203.0.113.7/32 dev into0 table 1234\n";
    sh("ip -batch " + write_file("interest", batch));
    CHECK(f.run_until([&] {
        return find_address(f.seen().addresses_v6, "2001:db8:e::32") != nullptr &&
               find_route(f.seen().routes_v4, "203.0.113.7/32", 1234) != nullptr;
    }));
    f.settle();
    CHECK(f.changes == before);
    // An address on the watched device, a default route: notified.
    sh("ip -6 addr add 2001:db8:d::1/128 dev intw0 nodad");
    CHECK(f.run_until([&] { return f.changes == before + 1; }));
    f.settle();
    before = f.changes;
    sh("ip route add default dev into0 metric 4000");
    CHECK(f.run_until([&] { return f.changes == before + 1; }));
    // A link change anywhere is notified.
    f.settle();
    before = f.changes;
    sh("ip link set into0 mtu 1400");
    CHECK(f.run_until([&] { return f.changes == before + 1; }));
}

TEST_CASE("an overrun of a small receive buffer resynchronises to the kernel's state") {
    Fixture f(NetlinkObserver::Options{4096});
    REQUIRE(f.observer.start().ok());
    Veth veth("storm0", "storm1");
    REQUIRE(f.run_until([&] { return f.seen().link_by_name("storm0") != nullptr; }));
    f.settle();
    // Adds and then deletes while the loop is stopped: deletions lost with the overrun must
    // not leave their routes in the snapshot.
    std::string adds;
    std::string dels;
    for (int metric = 1; metric <= 5; ++metric) {
        for (int host = 0; host < 256; ++host) {
            const std::string spec = " metric " + std::to_string(metric) + " dev storm0\n";
            adds += "route add 198.51.100." + std::to_string(host) + spec;
            adds += "route add 2001:db8:5::" + std::to_string(host) + ":" + std::to_string(metric) +
                    spec;
            if (host % 2 == 0)
                dels += "route del 198.51.100." + std::to_string(host) + spec;
        }
    }
    sh("ip -batch " + write_file("storm-add", adds));
    sh("ip -batch " + write_file("storm-del", dels));
    CHECK(f.run_until([&] { return f.observer.stats().resyncs > 0; }, 10s));
    CHECK(f.observer.stats().overruns > 0);
    CHECK(f.run_until([&] { return observed_routes(f.seen()) == kernel_routes(); }, 10s));
    CHECK(find_route(f.seen().routes_v4, "198.51.100.1/32") != nullptr);
    CHECK(find_route(f.seen().routes_v4, "198.51.100.2/32") == nullptr);
    // The snapshot equals one freshly dumped.
    f.settle();
    Fixture fresh;
    REQUIRE(fresh.observer.start().ok());
    CHECK(fresh.seen() == f.seen());
}

TEST_CASE("an address that fails duplicate address detection is reported dad_failed") {
    PeerNetns peer;
    sh("ip link add dad0 type veth peer name dad1");
    sh("ip link set dad1 netns " + std::to_string(peer.pid()));
    peer.sh(
        "sysctl -qw net.ipv6.conf.dad1.accept_dad=0 net.ipv6.conf.dad1.keep_addr_on_down=1 && "
        "ip link set dad1 up && "
        "ip addr add 2001:db8:d::1/64 dev dad1");
    sh("sysctl -qw net.ipv6.conf.dad0.accept_dad=1 net.ipv6.neigh.dad0.retrans_time_ms=300");
    sh("ip link set dad0 up");
    Fixture f;
    REQUIRE(f.observer.start().ok());
    REQUIRE(f.run_until([&] { return f.seen().link_by_name("dad0")->lower_up; }));
    bool seen_tentative = false;
    auto state = [&](const std::string& address) {
        const AddressV6* a = find_address(f.seen().addresses_v6, address);
        seen_tentative = seen_tentative || (a != nullptr && a->tentative && !a->dad_failed);
        return a;
    };

    // The peer answers at once, so tentative and dadfailed could land in one coalesced burst.
    // Without carrier the kernel holds the address tentative and starts DAD only when the
    // carrier returns: the tentative phase is then observable for sure.
    peer.sh("ip link set dad1 down");
    REQUIRE(f.run_until([&] { return !f.seen().link_by_name("dad0")->lower_up; }));
    sh("ip addr add 2001:db8:d::1/64 dev dad0");
    CHECK(f.run_until([&] { return state("2001:db8:d::1") != nullptr; }));
    CHECK(seen_tentative);
    peer.sh("ip link set dad1 up");
    CHECK(f.run_until([&] { return state("2001:db8:d::1") && state("2001:db8:d::1")->dad_failed; },
                      10s));
    CHECK_FALSE(state("2001:db8:d::1")->usable());

    seen_tentative = false;
    sh("ip addr add 2001:db8:d::2/64 dev dad0");
    CHECK(f.run_until([&] { return state("2001:db8:d::2") && state("2001:db8:d::2")->usable(); },
                      10s));
    CHECK(seen_tentative);
    CHECK_FALSE(state("2001:db8:d::2")->dad_failed);
    sh("ip link del dad0");
}

TEST_CASE("proxy neighbour entries: dumped, refreshed on demand and polled, though silent") {
    Veth veth("prx0", "prx1");
    sh("ip -6 neigh add proxy 2001:db8:7::1 dev prx0");
    Fixture f;
    REQUIRE(f.observer.start().ok());
    const int index = ifindex("prx0");
    const ProxyNeighbourV6 first{index, *Ipv6Address::parse("2001:db8:7::1")};
    const ProxyNeighbourV6 second{index, *Ipv6Address::parse("2001:db8:7::2")};
    CHECK(f.seen().proxies_v6 == std::vector{first});

    // The kernel sends no event for proxy entries: without a refresh nothing changes.
    sh("ip -6 neigh add proxy 2001:db8:7::2 dev prx0 && ip -6 neigh del proxy 2001:db8:7::1 "
       "dev prx0");
    f.settle();
    CHECK(f.changes == 0);
    CHECK(f.seen().proxies_v6 == std::vector{first});
    auto refreshed = f.observer.refresh_proxies();
    REQUIRE(refreshed.ok());
    CHECK(*refreshed);
    CHECK(f.seen().proxies_v6 == std::vector{second});
    CHECK_FALSE(*f.observer.refresh_proxies());

    // Polling finds a removal and notifies once; setting the device down flushes its entries.
    f.observer.set_proxy_poll(100ms);
    sh("ip link set prx0 down");
    CHECK(f.run_until([&] { return f.seen().proxies_v6.empty(); }));
    sh("ip link set prx0 up && ip -6 neigh add proxy 2001:db8:7::2 dev prx0");
    CHECK(f.run_until([&] { return f.seen().proxies_v6 == std::vector{second}; }));
    // Once the link's own events have passed, unchanged polls notify nothing.
    f.settle(500ms);
    const int changes = f.changes;
    f.settle(500ms);
    CHECK(f.changes == changes);
    f.observer.set_proxy_poll(0ms);
    sh("ip -6 neigh flush proxy");
    f.settle();
    CHECK(f.seen().proxies_v6 == std::vector{second});
    // A fresh observer sees exactly what the kernel holds.
    Fixture fresh;
    REQUIRE(fresh.observer.start().ok());
    CHECK(fresh.seen().proxies_v6.empty());
}

TEST_CASE("route lookup names the device and source towards a destination") {
    Veth veth("look0", "look1");
    sh("ip addr add 2001:db8:1::2/64 dev look0 nodad");
    sh("ip -6 route add 2001:db8:64::/96 via 2001:db8:1::1 dev look0");
    sh("ip addr add 192.0.2.33/27 dev look0");
    sh("ip route add 198.51.100.128/25 via 192.0.2.34");
    Fixture f;
    REQUIRE(f.observer.start().ok());

    auto v6 = f.observer.lookup_route(*Ipv6Address::parse("2001:db8:64::1"));
    REQUIRE_MESSAGE(v6.ok(), v6.error().message);
    CHECK(v6->ifindex == ifindex("look0"));
    CHECK(v6->ifname == "look0");
    CHECK(v6->source == Ipv6Address::parse("2001:db8:1::2"));

    auto v4 = f.observer.lookup_route(*Ipv4Address::parse("198.51.100.200"));
    REQUIRE_MESSAGE(v4.ok(), v4.error().message);
    CHECK(v4->ifname == "look0");
    CHECK(v4->source == Ipv4Address::parse("192.0.2.33"));

    auto none = f.observer.lookup_route(*Ipv6Address::parse("2001:db8:ffff::1"));
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().message.find("2001:db8:ffff::1") != std::string::npos);
    CHECK(none.error().message.find("unreachable") != std::string::npos);
}

/// Sends a Router Advertisement (router lifetime 0) with one PREF64 option from the peer.
void send_pref64(const PeerNetns& peer, const std::string& dev, const std::string& prefix, int plc,
                 int scaled_lifetime) {
    static const std::string script = write_file("ra.py", R"(import socket, struct, sys
dev, prefix, plc, lifetime = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 0, 0, 0)
option = struct.pack("!BBH", 38, 2, lifetime << 3 | plc)
option += socket.inet_pton(socket.AF_INET6, prefix)[:12]
s.sendto(ra + option, ("ff02::1", 0, 0, socket.if_nametoindex(dev)))
)");
    peer.sh("python3 " + script + " " + dev + " " + prefix + " " + std::to_string(plc) + " " +
            std::to_string(scaled_lifetime));
}

TEST_CASE("PREF64 from a Router Advertisement is reported, withdrawn, and expires") {
    PeerNetns peer;
    sh("ip link add ra0 type veth peer name ra1");
    sh("ip link set ra1 netns " + std::to_string(peer.pid()));
    sh("sysctl -qw net.ipv6.conf.ra0.accept_ra=2 net.ipv6.conf.ra0.accept_dad=0");
    peer.sh("sysctl -qw net.ipv6.conf.ra1.accept_dad=0 && ip link set ra1 up");
    sh("ip link set ra0 up");
    // The RA's source must be a (non-tentative) link-local address.
    for (int i = 0;
         i < 50 && peer.sh("ip -6 addr show dev ra1 scope link").find("fe80") == std::string::npos;
         ++i)
        ::usleep(100'000);
    Fixture f;
    REQUIRE(f.observer.start().ok());
    const int index = ifindex("ra0");
    const auto prefix = *Ipv6Prefix::parse("2001:db8:64::/96");

    const std::int64_t before = monotonic_ms();
    send_pref64(peer, "ra1", "2001:db8:64::", 0, 75);
    REQUIRE(f.run_until([&] { return f.seen().pref64.size() == 1; }));
    const Pref64Fact fact = f.seen().pref64.front();
    CHECK(fact.ifindex == index);
    CHECK(fact.prefix == prefix);
    CHECK(fact.expires_at_ms >= before + 600'000);
    CHECK(fact.expires_at_ms <= monotonic_ms() + 600'000);

    send_pref64(peer, "ra1", "2001:db8:64::", 0, 0);
    CHECK(f.run_until([&] { return f.seen().pref64.empty(); }));

    // PLC 1 is a /64; the smallest non-zero lifetime is 8 seconds.
    send_pref64(peer, "ra1", "2001:db8:65::", 1, 1);
    REQUIRE(f.run_until([&] { return f.seen().pref64.size() == 1; }));
    CHECK(f.seen().pref64.front().prefix == *Ipv6Prefix::parse("2001:db8:65::/64"));
    f.settle(100ms);
    const int changes = f.changes;
    CHECK(f.run_until([&] { return f.seen().pref64.empty(); }, 12s));
    f.settle(100ms);
    CHECK(f.changes == changes + 1);
    sh("ip link del ra0");
}

TEST_CASE("an ND user option message is parsed from raw bytes") {
    std::vector<std::uint8_t> bytes(NLMSG_LENGTH(sizeof(nduseroptmsg)) + 16);
    auto* header = reinterpret_cast<nlmsghdr*>(bytes.data());
    header->nlmsg_len = static_cast<std::uint32_t>(bytes.size());
    header->nlmsg_type = RTM_NEWNDUSEROPT;
    auto* body = static_cast<nduseroptmsg*>(NLMSG_DATA(header));
    body->nduseropt_family = AF_INET6;
    body->nduseropt_opts_len = 16;
    body->nduseropt_ifindex = 7;
    body->nduseropt_icmp_type = 134;
    // Scaled lifetime 75 (600 s) and PLC 0: 75 << 3 = 0x0258.
    const std::uint8_t option[16] = {38, 2, 0x02, 0x58, 0x20, 0x01, 0x0d, 0xb8, 0, 0x64};
    std::memcpy(body + 1, option, sizeof option);
    auto parsed = parse_nduseropt(header);
    REQUIRE(parsed.has_value());
    CHECK(parsed->ifindex == 7);
    REQUIRE(parsed->pref64.size() == 1);
    CHECK(parsed->pref64[0].prefix == *Ipv6Prefix::parse("2001:db8:64::/96"));
    CHECK(parsed->pref64[0].lifetime_seconds == 600);

    Observed observed;
    CHECK(apply_message(observed, header, 1000).changed);
    CHECK(observed.pref64 == std::vector<Pref64Fact>{{7, parsed->pref64[0].prefix, 601'000, 1000}});
    CHECK_FALSE(apply_message(observed, header, 1000).changed);
    // A refresh extends the lifetime but keeps when the prefix first appeared.
    CHECK(apply_message(observed, header, 4000).changed);
    CHECK(observed.pref64 == std::vector<Pref64Fact>{{7, parsed->pref64[0].prefix, 604'000, 1000}});

    body->nduseropt_opts_len = 24;  // runs past the message
    CHECK_FALSE(parse_nduseropt(header).has_value());
    body->nduseropt_opts_len = 16;
    body->nduseropt_icmp_type = 137;  // a redirect, not a Router Advertisement
    CHECK_FALSE(parse_nduseropt(header).has_value());
}

}  // namespace
}  // namespace clat::test
