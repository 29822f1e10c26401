// net.ipv6.neigh.<dev>.proxy_delay through the sysctl adapter, as the executor writes it and
// undoes it: the file is in USER_HZ (centiseconds), the kernel keeps jiffies, so a value is
// restored exactly only if writing back what was read gives the same reading.

#include <doctest/doctest.h>
#include <net/if.h>

#include <string>

#include "adapters/sysctl.hpp"
#include "tests/integration/harness.hpp"

namespace clat::test {
namespace {

const std::string kPath = "net/ipv6/neigh/pd0/proxy_delay";

struct Veth {
    Veth() {
        sh_status("ip link del pd0");
        sh("ip link add pd0 type veth peer name pd1");
    }
    ~Veth() { sh_status("ip link del pd0"); }
    Veth(const Veth&) = delete;
    Veth& operator=(const Veth&) = delete;
};

/// Sets 0 as a plan does, then undoes it as the journal's entry does; returns what the file
/// reads afterwards.
std::string set_and_restore(const std::string& before) {
    const auto ifindex = ::if_nametoindex("pd0");
    auto set = sysctl::apply(op::SetSysctl{kPath, "0", std::nullopt});
    REQUIRE(set);
    CHECK(*set == (before == "0" ? ApplyOutcome::kAlreadyInPlace : ApplyOutcome::kApplied));
    CHECK(*sysctl::read(kPath) == "0");
    auto undone = sysctl::apply(op::SetSysctl{kPath, before, "0", ifindex});
    REQUIRE(undone);
    return *sysctl::read(kPath);
}

}  // namespace

TEST_CASE("proxy_delay: the kernel's default (80 centiseconds) is restored exactly") {
    Veth veth;
    const std::string before = *sysctl::read(kPath);
    CHECK(before == "80");
    CHECK(set_and_restore(before) == before);
}

TEST_CASE("proxy_delay: every value written through /proc reads back the same after a restore") {
    Veth veth;
    for (const std::string written : {"0", "1", "7", "33", "50", "123", "500"}) {
        CAPTURE(written);
        sh("sysctl -qw net.ipv6.neigh.pd0.proxy_delay=" + written);
        // What /proc shows may be lower than what was written (HZ rounding: 33 reads 32 at
        // HZ=250), but that reading is what clatd journals and writes back.
        const std::string before = *sysctl::read(kPath);
        CHECK(set_and_restore(before) == before);
    }
}

TEST_CASE("proxy_delay: changed by someone else meanwhile, it is left alone") {
    Veth veth;
    const auto ifindex = ::if_nametoindex("pd0");
    REQUIRE(sysctl::apply(op::SetSysctl{kPath, "0", std::nullopt}));
    sh("sysctl -qw net.ipv6.neigh.pd0.proxy_delay=20");
    auto undone = sysctl::apply(op::SetSysctl{kPath, "80", "0", ifindex});
    REQUIRE(undone);
    CHECK(*undone == ApplyOutcome::kAlreadyInPlace);
    CHECK(*sysctl::read(kPath) == "20");
}

}  // namespace clat::test
