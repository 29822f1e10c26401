// The DAD prober against the real kernel: a veth pair, the far end in a peer namespace whose
// kernel plays the other nodes (holding the address, or probing for it itself), the near end
// set up as clatd sets up the PLAT device (forwarding, proxy_ndp, a proxy entry for the
// address, proxy_delay 0), so that clatd's own proxy is shown not to count as a conflict.

#include <doctest/doctest.h>
#include <net/if.h>

#include <chrono>
#include <optional>
#include <string>

#include "adapters/dad_prober.hpp"
#include "tests/integration/harness.hpp"

namespace clat::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const char* const kAddress = "2001:db8:1::c1a7";

/// "dp0" here with the proxy entry, "dp1" in the peer; both with a global address and no DAD
/// of their own. The near end's RetransTimer is 200 ms and DupAddrDetectTransmits 2.
struct Bed {
    Bed() {
        sh_status("ip link del dp0");  // left by a test that failed in its constructor
        sh("ip link add dp0 type veth peer name dp1 netns " + std::to_string(peer.pid()));
        sh("sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.dp0.accept_dad=1 "
           "net.ipv6.conf.dp0.dad_transmits=2 net.ipv6.neigh.dp0.retrans_time_ms=200 "
           "net.ipv6.conf.dp0.proxy_ndp=1 net.ipv6.neigh.dp0.proxy_delay=0");
        peer.sh(
            "sysctl -qw net.ipv6.conf.dp1.accept_dad=0 "
            "net.ipv6.conf.dp1.router_solicitation_delay=0 "
            "&& ip link set dp1 up && ip addr add 2001:db8:1::ff/64 dev dp1 nodad");
        sh("ip link set dp0 up && ip addr add 2001:db8:1::1/64 dev dp0 nodad");
        sh(std::string("ip -6 neigh add proxy ") + kAddress + " dev dp0");
        // Both link-local addresses usable (DAD is off for them), so the links are settled.
        for (int i = 0; i < 100 && sh("ip -6 -o addr show dev dp0 scope link").empty(); ++i)
            ::usleep(20'000);
        prober.subscribe([this](Event e) {
            if (auto* f = std::get_if<event::DadProbeFinished>(&e))
                finished = *f;
        });
    }
    ~Bed() { sh_status("ip link del dp0"); }
    Bed(const Bed&) = delete;
    Bed& operator=(const Bed&) = delete;
    int index() const { return static_cast<int>(::if_nametoindex("dp0")); }
    Status start() { return prober.probe(index(), "dp0", *Ipv6Address::parse(kAddress)); }
    /// Steps the loop until a report came or `limit` passed.
    bool run_until_finished(std::chrono::milliseconds limit) {
        const auto end = Clock::now() + limit;
        while (!finished && Clock::now() < end) {
            io.restart();
            io.run_for(5ms);
        }
        return finished.has_value();
    }

    PeerNetns peer;
    boost::asio::io_context io;
    DadProber prober{io};
    std::optional<event::DadProbeFinished> finished;
};

}  // namespace

TEST_CASE("nobody holds the address: it passes after DupAddrDetectTransmits x RetransTimer") {
    Bed bed;
    const auto start = Clock::now();
    REQUIRE(bed.start());
    REQUIRE(bed.run_until_finished(5000ms));
    const auto took = Clock::now() - start;
    CHECK_FALSE(bed.finished->duplicate);
    CHECK(bed.finished->address == *Ipv6Address::parse(kAddress));
    CHECK(bed.finished->detail == "2 solicitations unanswered");
    CHECK(bed.prober.sent() == 2);
    // Timers never fire early: two RetransTimers at least; the upper bound leaves room for a
    // loaded machine. clatd's own proxy entry (which defends the address against other
    // nodes' probes) did not answer its probes: no looped-back copy reached it.
    CHECK(took >= 400ms);
    CHECK(took < 3000ms);
}

TEST_CASE("a neighbour holding the address answers the probe: a duplicate") {
    Bed bed;
    bed.peer.sh(std::string("ip addr add ") + kAddress + "/128 dev dp1 nodad");
    REQUIRE(bed.start());
    REQUIRE(bed.run_until_finished(5000ms));
    CHECK(bed.finished->duplicate);
    // Its kernel answers a probe from the unspecified address at all-nodes, with the address
    // itself as the source (RFC 4861 §7.2.4).
    CHECK(bed.finished->detail == std::string("neighbour advertisement from ") + kAddress);
    CHECK(bed.prober.sent() == 1);  // answered before the second was due
}

TEST_CASE("another node probing for the address at the same time: a duplicate") {
    Bed bed;
    // The peer's own DAD: three probes, 1 s apart, the first at once
    // (router_solicitation_delay 0: no random delay before it).
    bed.peer.sh(
        "sysctl -qw net.ipv6.conf.dp1.accept_dad=1 net.ipv6.conf.dp1.dad_transmits=3 "
        "net.ipv6.neigh.dp1.retrans_time_ms=1000");
    sh("sysctl -qw net.ipv6.conf.dp0.dad_transmits=10");  // a window long enough to see it
    REQUIRE(bed.start());
    bed.peer.sh(std::string("ip addr add ") + kAddress + "/128 dev dp1");
    REQUIRE(bed.run_until_finished(5000ms));
    CHECK(bed.finished->duplicate);
    CHECK(bed.finished->detail == "another node probes for it (DAD)");
}

TEST_CASE("DAD off on the device: it passes at once, sending nothing") {
    Bed bed;
    sh("sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.dp0.accept_dad=0");
    bed.peer.sh(std::string("ip addr add ") + kAddress + "/128 dev dp1 nodad");
    REQUIRE(bed.start());
    REQUIRE(bed.run_until_finished(1000ms));
    sh("sysctl -qw net.ipv6.conf.all.accept_dad=1");
    CHECK_FALSE(bed.finished->duplicate);
    CHECK(bed.finished->detail == "DAD is off on dp0");
    CHECK(bed.prober.sent() == 0);
}

TEST_CASE("cancel() ends a probe without a report; a new probe replaces the running one") {
    Bed bed;
    bed.peer.sh(std::string("ip addr add ") + kAddress + "/128 dev dp1 nodad");
    REQUIRE(bed.start());
    bed.prober.cancel();
    CHECK_FALSE(bed.run_until_finished(800ms));
    REQUIRE(bed.start());
    REQUIRE(bed.start());
    REQUIRE(bed.run_until_finished(5000ms));
    CHECK(bed.finished->duplicate);
}

}  // namespace clat::test
