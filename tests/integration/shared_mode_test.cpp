// clat-v6-addr=shared against the real kernel and nft: the local-table rule moves behind
// clatd's rule and back exactly (protocol kept), the policy rule then wins over local delivery
// for marked replies only, and the marking table is clatd's own by name: made whole, replaced
// whole, deleted whole, foreign tables left alone.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "adapters/netlink_kernel.hpp"
#include "adapters/nft_shared.hpp"
#include "states/desired_state.hpp"
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

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

RuleV6 local_at(std::uint32_t priority) {
    return RuleV6{priority, kLocalTable, std::nullopt, std::nullopt, std::nullopt, ""};
}

/// Both ends of a veth pair in this namespace: kt0 the uplink with the host's only address
/// (a /128), kt1 standing in for the CLAT device. Removed when the test ends.
struct Bed {
    Bed() {
        sh("sysctl -qw net.ipv6.conf.default.accept_dad=0");
        sh("ip link add kt0 type veth peer name kt0p && ip link add kt1 type veth peer name kt1p");
        sh("ip link set kt0 up && ip link set kt0p up && ip link set kt1 up && ip link set kt1p "
           "up");
        sh("ip -6 addr add 2001:db8:1::2/128 dev kt0 nodad");
        sh("ip -6 route add 2001:db8:64::/96 dev kt0");
        // Carrier settles asynchronously (the kernel's linkwatch work): wait for it, so that
        // the snapshots the tests compare see the links as they stay.
        for (int i = 0; i < 50 && sh_status("ip link show | grep -q NO-CARRIER") == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        REQUIRE(sh_status("ip link show | grep -q NO-CARRIER") != 0);
    }
    ~Bed() {
        sh_status("ip link del kt0 2>/dev/null; ip link del kt1 2>/dev/null");
        sh_status("nft delete table ip6 clatd_shared_5eed 2>/dev/null");
        sh_status("ip -6 rule del prio 0 from 2001:db8:64::/96 2>/dev/null");
        if (sh_status("ip -6 rule show prio 0 table local | grep -q local") != 0)
            sh_status("ip -6 rule add prio 0 table local");
        sh_status("ip -6 rule del prio 1 table local 2>/dev/null");
    }
};

op::SharedMarking marking(const char* clat_v6 = "2001:db8:1::2") {
    return op::SharedMarking{"nft", "5eed", "kt1", "kt0", v6(clat_v6), p6("2001:db8:64::/96"),
                             0xc1a7};
}

/// Where the kernel sends a reply from the PLAT to the host's address, with a packet mark.
std::string reply_route(const char* mark) {
    return sh(std::string("ip -6 route get 2001:db8:1::2 from 2001:db8:64::c633:640a iif kt0 ") +
              "mark " + mark);
}

}  // namespace

TEST_CASE("the local rule moves behind clatd's rule and back exactly") {
    Bed bed;
    const std::string before = snapshot();
    const std::string detailed = sh("ip -d -6 rule show");
    REQUIRE(contains(detailed, "0:\tfrom all lookup local proto kernel"));

    const op::MoveRuleV6 move{local_at(0), kLocalRulePriority};
    CHECK(apply_ok(move) == kApplied);
    CHECK(contains(sh("ip -d -6 rule show"), "1:\tfrom all lookup local proto kernel"));
    CHECK_FALSE(contains(sh("ip -6 rule show"), "0:\tfrom all lookup local"));
    CHECK(apply_ok(move) == kAlreadyInPlace);  // nothing at 0 any more

    // With the local rule behind it, clatd's rule sends marked replies to the CLAT device and
    // leaves unmarked ones (the host's own flows) to local delivery.
    sh("ip -6 route add 2001:db8:1::2/128 dev kt1 table 49575 proto 199");
    const RuleV6 rule{0, 0xc1a7, p6("2001:db8:1::2/128"), p6("2001:db8:64::/96"), 0xc1a7, ""};
    CHECK(apply_ok(op::AddRuleV6{rule}) == kApplied);
    CHECK(contains(reply_route("0xc1a7"), "dev kt1 table 49575"));
    CHECK(contains(reply_route("0"), "local 2001:db8:1::2"));
    CHECK(apply_ok(op::RemoveRuleV6{rule}) == kApplied);
    sh("ip -6 route del 2001:db8:1::2/128 dev kt1 table 49575");

    const auto back = static_inverse(move);
    REQUIRE(back);
    CHECK(apply_ok(*back) == kApplied);
    CHECK(apply_ok(*back) == kAlreadyInPlace);
    CHECK(sh("ip -d -6 rule show") == detailed);  // protocol kernel kept
    CHECK(snapshot() == before);
}

TEST_CASE("without the move the local rule wins: the move is needed") {
    Bed bed;
    sh("ip -6 route add 2001:db8:1::2/128 dev kt1 table 49575 proto 199");
    const RuleV6 rule{0, 0xc1a7, p6("2001:db8:1::2/128"), p6("2001:db8:64::/96"), 0xc1a7, ""};
    CHECK(apply_ok(op::AddRuleV6{rule}) == kApplied);
    CHECK(contains(reply_route("0xc1a7"), "local 2001:db8:1::2"));
    CHECK(apply_ok(op::RemoveRuleV6{rule}) == kApplied);
    sh("ip -6 route del 2001:db8:1::2/128 dev kt1 table 49575");
}

TEST_CASE("a local rule already at the target priority is not moved onto") {
    Bed bed;
    sh("ip -6 rule add prio 1 table local");
    const std::string before = snapshot();
    auto result = kernel().apply(op::MoveRuleV6{local_at(0), kLocalRulePriority});
    REQUIRE_FALSE(result.ok());
    CHECK(contains(result.error().message, "at priority 1 already"));
    CHECK(snapshot() == before);
    sh("ip -6 rule del prio 1 table local");
}

TEST_CASE("the marking table: made whole, replaced whole, removed by its own name only") {
    Bed bed;
    sh("nft add table ip6 clatd && nft add table ip6 clatd_shared_other");
    const std::string before = snapshot();

    CHECK(apply_ok(op::AddSharedMarking{marking()}) == kApplied);
    const std::string listed = sh("nft list table ip6 clatd_shared_5eed");
    CHECK(contains(listed, "type filter hook prerouting priority mangle; policy accept;"));
    CHECK(contains(listed,
                   "iifname \"kt1\" ip6 saddr 2001:db8:1::2 ip6 daddr 2001:db8:64::/96 ct mark "
                   "set 0x0000c1a7 meta mark set 0x0000c1a7"));
    CHECK(contains(listed,
                   "iifname \"kt0\" ip6 saddr 2001:db8:64::/96 ip6 daddr 2001:db8:1::2 ct mark "
                   "0x0000c1a7 meta mark set ct mark"));

    // Made again (a restart after a crash, before the replay): replaced, not doubled.
    CHECK(apply_ok(op::AddSharedMarking{marking()}) == kApplied);
    const std::string again = sh("nft list table ip6 clatd_shared_5eed");
    CHECK(again == listed);

    // Another address: the table holds only the new rules.
    CHECK(apply_ok(op::AddSharedMarking{marking("2001:db8:1::3")}) == kApplied);
    CHECK_FALSE(contains(sh("nft list table ip6 clatd_shared_5eed"), "2001:db8:1::2 "));

    CHECK(apply_ok(op::RemoveSharedMarking{marking("2001:db8:1::3")}) == kApplied);
    CHECK(apply_ok(op::RemoveSharedMarking{marking("2001:db8:1::3")}) == kAlreadyInPlace);
    CHECK(snapshot() == before);  // clatd and clatd_shared_other are still there
    sh("nft delete table ip6 clatd && nft delete table ip6 clatd_shared_other");
}

TEST_CASE("the marking refuses what nft could not read back, and changes nothing") {
    Bed bed;
    const std::string before = snapshot();
    op::SharedMarking bad = marking();
    bad.clat_dev = "kt\"1";
    auto result = kernel().apply(op::AddSharedMarking{bad});
    REQUIRE_FALSE(result.ok());
    CHECK(contains(result.error().message, "clat-dev 'kt\"1' cannot be written"));
    bad = marking();
    bad.tool = "/nonexistent/nft";
    CHECK_FALSE(kernel().apply(op::AddSharedMarking{bad}).ok());
    CHECK(snapshot() == before);
}

}  // namespace clat::test
