// v4-defaultroute-replace against the real kernel: the planner sees the foreign IPv4 default
// routes through the observer, the executor removes them for real while the CLAT's default
// route is in place, and teardown (or a new instance replaying the journal after a crash)
// puts each back exactly as it was: onlink, src, metrics, every nexthop, a nexthop object.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "adapters/netlink_kernel.hpp"
#include "adapters/netlink_observer.hpp"
#include "agent/executor.hpp"
#include "agent/undo_journal.hpp"
#include "states/desired_state.hpp"
#include "states/planner.hpp"
#include "tests/integration/harness.hpp"

namespace clat::test {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

/// Every IPv4 route with all the details iproute2 shows (flags, metrics, nexthops, nhid).
std::string routes_v4() {
    return sh("ip -d -4 route show table all");
}

/// Operstate and carrier settle asynchronously (linkwatch): wait up to 2 s for the namespace
/// to look as before.
void check_snapshot_returns_to(const std::string& before) {
    std::string now = snapshot();
    for (int i = 0; i < 20 && now != before; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        now = snapshot();
    }
    CHECK(now == before);
}

/// A host for one test, its names derived from tag (unique per test): uplink <tag>0 with
/// 192.0.2.1/24 and 2001:db8:1::1/64, a second link <tag>1 with 198.51.100.1/24, the CLAT
/// device <tag>c, and a journal directory. The destructor removes the links (and so every
/// route through them) even when a check failed.
struct Host {
    explicit Host(const std::string& tag) : uplink(tag + "0"), second(tag + "1") {
        config.clat_dev = tag + "c";
        config.v4_defaultroute_replace = true;
        sh("sysctl -qw net.ipv6.conf.default.accept_dad=0");
        sh("ip link add " + uplink + " type veth peer name " + uplink + "p && ip link add " +
           second + " type veth peer name " + second + "p");
        sh("for d in " + uplink + " " + uplink + "p " + second + " " + second +
           "p; do ip link set $d up; done");
        sh("ip addr add 192.0.2.1/24 dev " + uplink + " && ip addr add 198.51.100.1/24 dev " +
           second + " && ip -6 addr add 2001:db8:1::1/64 dev " + uplink + " nodad");
        std::string templ = (fs::temp_directory_path() / "clat-replace-XXXXXX").string();
        REQUIRE(::mkdtemp(templ.data()) != nullptr);
        journal_dir = templ;
    }
    ~Host() {
        sh_status("ip link del " + config.clat_dev + " 2>/dev/null; ip link del " + uplink +
                  "; ip link del " + second + "; ip nexthop flush 2>/dev/null");
        fs::remove_all(journal_dir);
    }
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    /// An executor on the journal directory, as an instance at start-up would open it.
    Executor executor() {
        auto journal = UndoJournal::open(journal_dir.string(), "clat");
        REQUIRE_MESSAGE(journal.ok(), (journal.ok() ? "" : journal.error().message));
        return Executor(*kernel, std::move(journal).value());
    }

    /// Observes the kernel, plans as the agent does and applies the plan.
    void converge(Executor& executor) {
        boost::asio::io_context io;
        NetlinkObserver observer(
            io, [] { return std::int64_t{0}; }, [] {});
        REQUIRE(observer.start().ok());
        const Plan applied;
        const PlanInput input{config,
                              observer.observed(),
                              *Ipv6Prefix::parse("2001:db8:64::/96"),
                              *Ipv6Address::parse("2001:db8:1::c1a7"),
                              uplink,
                              {},
                              {},
                              applied,
                              "0123456789abcdef",
                              std::nullopt};
        auto plan = make_plan(input);
        REQUIRE_MESSAGE(plan.ok(), (plan.ok() ? "" : plan.error().message));
        auto result = executor.apply(*plan);
        REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message));
    }

    /// The only IPv4 default route left in the main table is the CLAT's.
    void check_only_clat_default() const {
        const std::string defaults = sh("ip -4 route show default");
        CAPTURE(defaults);
        CHECK(defaults.rfind("default dev " + config.clat_dev + " proto 199 metric 2048 ", 0) == 0);
        CHECK(defaults.find('\n') == defaults.size() - 1);  // one route
    }

    std::string uplink;
    std::string second;
    Config config;
    fs::path journal_dir;
    std::unique_ptr<NetlinkKernel> kernel = [] {
        auto opened = NetlinkKernel::open();
        REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
        return std::move(opened).value();
    }();
};

bool have_tun() {
    return ::access("/dev/net/tun", R_OK | W_OK) == 0;
}

/// Replaces the foreign default routes, checks that only the CLAT's is left, tears down and
/// finds every route (and the rest of the namespace) as before.
void replace_and_restore(Host& host) {
    const std::string routes_before = routes_v4();
    const std::string before = snapshot();
    Executor executor = host.executor();
    host.converge(executor);
    host.check_only_clat_default();
    REQUIRE(executor.undo_all().ok());
    CHECK(routes_v4() == routes_before);
    check_snapshot_returns_to(before);
}

TEST_CASE("an onlink default route is replaced and restored with onlink") {
    if (!have_tun())
        return;  // no TUN driver here: nothing to test
    Host host("rron");
    // 203.0.113.1 is on no prefix of the link: only onlink makes the gateway acceptable.
    sh("ip route add default via 203.0.113.1 dev rron0 onlink metric 100 proto static");
    replace_and_restore(host);
    CHECK(contains(sh("ip -4 route show default"),
                   "default via 203.0.113.1 dev rron0 proto static metric 100 onlink"));
}

TEST_CASE("a default route with src, initcwnd, mtu, metric and proto is restored whole") {
    if (!have_tun())
        return;
    Host host("rrat");
    sh("ip route add default via 192.0.2.254 dev rrat0 src 192.0.2.1 metric 300 proto dhcp "
       "mtu lock 1400 initcwnd 10 initrwnd 20 advmss 1360 quickack 1");
    const std::string route = sh("ip -d -4 route show default");
    for (const char* part : {"src 192.0.2.1", "initcwnd 10", "initrwnd 20", "mtu lock 1400",
                             "metric 300", "proto dhcp", "quickack 1"})
        REQUIRE_MESSAGE(contains(route, part), route);
    replace_and_restore(host);
    CHECK(sh("ip -d -4 route show default") == route);
}

TEST_CASE("a multipath default route is removed for real and restored with both nexthops") {
    if (!have_tun())
        return;
    Host host("rrmp");
    sh("ip route add default metric 100 proto static nexthop via 192.0.2.254 dev rrmp0 weight 1 "
       "nexthop via 198.51.100.254 dev rrmp1 weight 3");
    replace_and_restore(host);
    const std::string restored = sh("ip -4 route show default");
    CHECK(contains(restored, "nexthop via 192.0.2.254 dev rrmp0 weight 1"));
    CHECK(contains(restored, "nexthop via 198.51.100.254 dev rrmp1 weight 3"));
}

TEST_CASE("a default route via a nexthop object is removed and restored with its nhid") {
    if (!have_tun())
        return;
    Host host("rrnh");
    sh("ip nexthop add id 4711 via 192.0.2.254 dev rrnh0");
    sh("ip route add default nhid 4711 metric 100 proto static");
    replace_and_restore(host);
    CHECK(contains(sh("ip -4 route show default"), "default nhid 4711"));
}

TEST_CASE("a default route whose nexthop object went meanwhile counts as gone on undo") {
    if (!have_tun())
        return;
    Host host("rrng");
    sh("ip nexthop add id 4712 via 192.0.2.254 dev rrng0");
    sh("ip route add default nhid 4712 metric 100 proto static");
    Executor executor = host.executor();
    host.converge(executor);
    host.check_only_clat_default();
    // Deleting the object deletes every route using it: the replaced route would be gone too.
    sh("ip nexthop del id 4712");
    const auto undone = executor.undo_all();
    CHECK_MESSAGE(undone.ok(), (undone.ok() ? "" : undone.error().message));
    CHECK(sh("ip -4 route show default").empty());
    CHECK(executor.applied().empty());
}

TEST_CASE("after a crash, a new instance restores the replaced routes from the journal") {
    if (!have_tun())
        return;
    Host host("rrcr");
    sh("ip route add default via 203.0.113.1 dev rrcr0 onlink src 192.0.2.1 metric 100 "
       "proto static initcwnd 10");
    sh("ip route add default metric 200 proto dhcp nexthop via 192.0.2.254 dev rrcr0 "
       "nexthop via 198.51.100.254 dev rrcr1");
    const std::string routes_before = routes_v4();
    const std::string before = snapshot();
    {
        Executor crashed = host.executor();
        host.converge(crashed);
        host.check_only_clat_default();
    }  // gone without undo_all(), as after SIGKILL: only the journal knows
    host.check_only_clat_default();
    Executor restarted = host.executor();
    CHECK(restarted.journal().load_problems().empty());
    CHECK_FALSE(restarted.applied().empty());
    const auto recovered = restarted.recover();
    CHECK_MESSAGE(recovered.ok(), (recovered.ok() ? "" : recovered.error().message));
    CHECK(routes_v4() == routes_before);
    check_snapshot_returns_to(before);
    CHECK_FALSE(fs::exists(restarted.journal().path()));
}

}  // namespace
}  // namespace clat::test
