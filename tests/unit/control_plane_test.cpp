#include <doctest/doctest.h>

#include "agent/control_plane.hpp"
#include "tests/values.hpp"

// The D-Bus view of the agent: the PLAT expiry is converted from the steady clock to UNIX
// time without losing the sub-second parts of either clock.

using clat::AgentView;
using clat::PlatChoice;
using clat::PlatSource;

namespace {

AgentView view_expiring_at(std::int64_t expires_at_ms) {
    AgentView view;
    view.machine.state = "Running";
    view.machine.plat =
        PlatChoice{clat::test::p6("2001:db8:64::/96"), PlatSource::Dns64, expires_at_ms};
    return view;
}

}  // namespace

TEST_CASE("PLAT expiry: both clocks' milliseconds count, rounded once") {
    const clat::Config config;
    // 4.6 s left at UNIX time 1 000 000.9 s: the prefix lapses at 1 000 005.5 s.
    auto s = clat::to_dbus_status(view_expiring_at(104'600), config, 100'000, 1'000'000'900);
    CHECK(s.plat_prefix == "2001:db8:64::/96");
    CHECK(s.plat_source == "dns64");
    CHECK(s.plat_expiry == 1'000'006);
    // 4.4 s left at 1 000 000.0 s: 1 000 004.4 s.
    s = clat::to_dbus_status(view_expiring_at(104'400), config, 100'000, 1'000'000'000);
    CHECK(s.plat_expiry == 1'000'004);
    // Published again 300 ms later, the same instant gives the same second.
    s = clat::to_dbus_status(view_expiring_at(104'400), config, 100'300, 1'000'000'300);
    CHECK(s.plat_expiry == 1'000'004);
}

TEST_CASE("PLAT expiry: already past is clamped at 0, none is 0") {
    const clat::Config config;
    auto s = clat::to_dbus_status(view_expiring_at(0), config, 5'000'000'000, 1'000);
    CHECK(s.plat_expiry == 0);
    AgentView none;
    none.machine.state = "DiscoverPLAT";
    s = clat::to_dbus_status(none, config, 100'000, 1'000'000'000);
    CHECK(s.plat_prefix.empty());
    CHECK(s.plat_expiry == 0);
}

TEST_CASE("firewall backends: comma-separated in order, empty when none") {
    const clat::Config config;
    AgentView view;
    CHECK(clat::to_dbus_status(view, config, 0, 0).firewall.empty());
    view.firewall = {clat::op::FirewallBackend::kNftables,
                     clat::op::FirewallBackend::kIp6tablesLegacy};
    CHECK(clat::to_dbus_status(view, config, 0, 0).firewall == "nftables,ip6tables-legacy");
    view.firewall = {clat::op::FirewallBackend::kIp6tables};
    CHECK(clat::to_dbus_status(view, config, 0, 0).firewall == "ip6tables");
}
