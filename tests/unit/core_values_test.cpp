// The pure values the machine and the agent share: the binding (PLAT device and CLAT address),
// the groups a reload changed, and the relevant part of an observed snapshot.

#include <doctest/doctest.h>

#include "states/binding.hpp"
#include "states/config_diff.hpp"
#include "states/observation.hpp"
#include "tests/values.hpp"

namespace clat::test {
namespace {

Observed host() {
    Observed o;
    o.links[1] = Link{1, "lo", "", true, true, 65536};
    o.links[2] = Link{2, "eth0", "veth", true, true, 1500};
    o.links[3] = Link{3, "clat", "tun", true, true, 1500};
    o.links[4] = Link{4, "eth9", "veth", true, true, 1500};
    o.addresses_v6 = {AddressV6{2, v6("2001:db8:1::2"), 64}, AddressV6{4, v6("2001:db8:9::2"), 64}};
    RouteV6 dflt;
    dflt.destination = p6("::/0");
    dflt.oif = 2;
    dflt.gateway = v6("fe80::1");
    o.routes_v6 = {dflt};
    return o;
}

PlatRoute route_via(const char* dev) {
    return PlatRoute{p6("2001:db8:64::/96"), dev, v6("2001:db8:1::2"), ""};
}

Result<Binding> resolve(const BindingSettings& s, const Observed& o,
                        const std::optional<PlatRoute>& route,
                        const std::optional<Binding>& previous = std::nullopt,
                        const DadMemory& dad = {}, std::uint64_t entropy = 1) {
    return resolve_binding(s, o, route, p6("2001:db8:64::/96"), dad, previous, std::nullopt,
                           entropy);
}

}  // namespace

TEST_CASE("binding: the PLAT device from plat-dev or the route lookup, with clear errors") {
    const Observed o = host();
    BindingSettings s;
    s.clat_v6 = v6("2001:db8:1::c1a7");
    CHECK(resolve(s, o, route_via("eth0"))->plat_dev == "eth0");
    CHECK(resolve(s, o, std::nullopt).error().message ==
          "no route lookup towards the PLAT prefix yet");
    CHECK(resolve(s, o, PlatRoute{p6("2001:db8:65::/96"), "eth0", std::nullopt, ""})
              .error()
              .message == "no route lookup towards the PLAT prefix yet");  // another prefix's
    CHECK(resolve(s, o, PlatRoute{p6("2001:db8:64::/96"), "", std::nullopt, "ENETUNREACH"})
              .error()
              .message == "no route towards the PLAT prefix: ENETUNREACH");
    CHECK(resolve(s, o, route_via("clat")).error().message ==
          "the route towards the PLAT prefix points at clat");
    s.plat_dev = "eth9";  // configured: no lookup needed
    const auto configured = resolve(s, o, std::nullopt);
    REQUIRE(configured);
    CHECK(*configured == Binding{"eth9", v6("2001:db8:1::c1a7"), std::nullopt});
}

TEST_CASE("binding: a derived address is kept while its host address stays preferred") {
    Observed o = host();
    const BindingSettings s;
    const auto first = resolve(s, o, route_via("eth0"));
    REQUIRE(first);
    CHECK(first->derived_from == v6("2001:db8:1::2"));
    CHECK(first->clat_v6 != v6("2001:db8:1::2"));
    // Another seed would derive another address, but the previous binding holds.
    CHECK(*resolve(s, o, route_via("eth0"), *first, {}, 99) == *first);
    // Deprecated (renumbering under way): a new address from the remaining one.
    o.addresses_v6[0].deprecated = true;
    o.addresses_v6.push_back(AddressV6{2, v6("2001:db8:2::2"), 64});
    const auto moved = resolve(s, o, route_via("eth0"), *first);
    REQUIRE(moved);
    CHECK(moved->derived_from == v6("2001:db8:2::2"));
    // What failed DAD is never chosen again, not even as the previous binding.
    DadMemory dad;
    dad.avoid = {first->clat_v6};
    o.addresses_v6[0].deprecated = false;
    const auto avoided = resolve(s, o, route_via("eth0"), *first, dad, 1);
    REQUIRE(avoided);
    CHECK(avoided->clat_v6 != first->clat_v6);
    // The lookup decides the device, and the address comes from that device.
    const auto other = resolve(s, o, route_via("eth9"), *first);
    REQUIRE(other);
    CHECK(other->plat_dev == "eth9");
    CHECK(other->derived_from == v6("2001:db8:9::2"));
}

TEST_CASE("binding: another clatd's CLAT address is never derived nor taken statically") {
    Observed o = host();
    o.links[5] = Link{5, "clat2", "tun", true, true, 1260};
    const BindingSettings s;
    const auto mine = resolve(s, o, route_via("eth0"));
    REQUIRE(mine);
    // The same uplink address and seed derive the same address in a second instance (on
    // clat2); once the first instance's /128 route into clat2 is seen, it moves on.
    RouteV6 other;
    other.destination = Ipv6Prefix::make(mine->clat_v6, 128);
    other.oif = 5;
    other.protocol = kRouteProtocol;
    o.routes_v6.push_back(other);
    const auto second = resolve(s, o, route_via("eth0"));
    REQUIRE(second);
    CHECK(second->clat_v6 != mine->clat_v6);
    CHECK(second->derived_from == mine->derived_from);
    // Nor is it kept as the previous binding.
    const auto kept = resolve(s, o, route_via("eth0"), *mine);
    REQUIRE(kept);
    CHECK(kept->clat_v6 != mine->clat_v6);
    // Our own route (into clat) and routes not of clatd's protocol do not count.
    o.routes_v6.back().oif = 3;
    CHECK(resolve(s, o, route_via("eth0"))->clat_v6 == mine->clat_v6);
    o.routes_v6.back().oif = 5;
    o.routes_v6.back().protocol = 4;
    CHECK(resolve(s, o, route_via("eth0"))->clat_v6 == mine->clat_v6);
    o.routes_v6.back().protocol = kRouteProtocol;
    BindingSettings fixed;
    fixed.clat_v6 = mine->clat_v6;
    CHECK(resolve(fixed, o, route_via("eth0")).error().message ==
          "clat-v6-addr " + mine->clat_v6.to_string() +
              " is already the CLAT address of another clatd (routed to clat2)");
}

TEST_CASE("binding: shared mode takes the route lookup's source, and follows it") {
    Observed o = host();
    BindingSettings s;
    s.clat_v6 = ClatV6Shared{};
    const auto shared = resolve(s, o, route_via("eth0"));
    REQUIRE(shared);
    CHECK(*shared == Binding{"eth0", v6("2001:db8:1::2"), std::nullopt});
    // Renumbered: the new source, even with the previous binding's address still there.
    PlatRoute moved{p6("2001:db8:64::/96"), "eth0", v6("2001:db8:1::3"), ""};
    CHECK(resolve(s, o, moved, *shared)->clat_v6 == v6("2001:db8:1::3"));
    // plat-dev set: the device is the configured one, the address still the lookup's source.
    s.plat_dev = "eth0";
    CHECK(resolve(s, o, std::nullopt).error().message ==
          "no route lookup towards the PLAT prefix yet");
    CHECK(resolve(s, o, route_via("eth0"))->clat_v6 == v6("2001:db8:1::2"));
    s.plat_dev.reset();
    CHECK(resolve(s, o, PlatRoute{p6("2001:db8:64::/96"), "eth0", std::nullopt, ""})
              .error()
              .message ==
          "clat-v6-addr=shared: the route towards the PLAT prefix via eth0 has no source address");
    o.addresses_v6[0].tentative = true;
    CHECK(resolve(s, o, route_via("eth0")).error().message ==
          "clat-v6-addr=shared: the host's source address 2001:db8:1::2 is tentative");
    // Never DAD for the host's own address.
    CHECK_FALSE(needs_dad(s, {}, *shared));
}

TEST_CASE("binding: derived with only a /128 names the cause and the keys that fix it") {
    Observed o = host();
    o.addresses_v6 = {AddressV6{2, v6("2001:db8:1::2"), 128}};
    BindingSettings s;
    const auto derived = resolve(s, o, route_via("eth0"));
    REQUIRE_FALSE(derived);
    CHECK(derived.error().message.find("only single addresses (2001:db8:1::2/128") !=
          std::string::npos);
    CHECK(derived.error().message.find("set clat-v6-addr=shared") != std::string::npos);
    s.clat_v6 = v6("2001:db8:77::c1a7");  // a static address still works
    CHECK(resolve(s, o, route_via("eth0"))->clat_v6 == v6("2001:db8:77::c1a7"));
}

TEST_CASE("binding: a missing device is refused by name") {
    const Observed o = host();
    BindingSettings s;
    s.plat_dev = "wlan7";
    CHECK(resolve(s, o, std::nullopt).error().message == "PLAT device wlan7 does not exist");
}

TEST_CASE("needs_dad: only with dad-enable and only once per address") {
    BindingSettings s;
    const Binding b{"eth0", v6("2001:db8:1::c1a7"), std::nullopt};
    DadMemory dad;
    CHECK(needs_dad(s, dad, b));
    dad.verified = {b.clat_v6};
    CHECK_FALSE(needs_dad(s, dad, b));
    s.dad_enable = false;
    CHECK_FALSE(needs_dad(s, {}, b));
}

TEST_CASE("diff_config: every key lands in its consumer's group") {
    const Config base;
    struct Case {
        const char* what;
        void (*change)(Config&);
        const char* groups;
    };
    const Case cases[] = {
        {"nothing", [](Config&) {}, "none"},
        {"debug", [](Config& c) { c.debug = 2; }, "logging"},
        {"dns64-servers", [](Config& c) { c.dns64_servers = {"2001:db8::53"}; }, "discovery"},
        {"plat-prefix", [](Config& c) { c.plat_prefix = p6("2001:db8:64::/96"); }, "discovery"},
        {"pref64-enable", [](Config& c) { c.pref64_enable = false; }, "discovery"},
        {"clat-v6-addr", [](Config& c) { c.clat_v6_addr = v6("2001:db8::1"); }, "clat"},
        {"v4-defaultroute-mtu", [](Config& c) { c.v4_defaultroute_mtu = 1400; }, "clat"},
        {"clat-dev", [](Config& c) { c.clat_dev = "clat9"; }, "clat,device,data-path"},
        {"tayga-extra", [](Config& c) { c.tayga_extra = {"offlink-mtu 1400"}; }, "data-path"},
        {"v4-conncheck-delay", [](Config& c) { c.v4_conncheck_delay = 3; }, "probe-v4"},
        {"v4-defaultroute-replace", [](Config& c) { c.v4_defaultroute_replace = true; },
         "clat,probe-v4"},
        {"script-up", [](Config& c) { c.script_up = "/bin/true"; }, "scripts"},
        {"script-timeout", [](Config& c) { c.script_timeout = 5; }, "scripts"},
        {"tayga-restart-delay", [](Config& c) { c.tayga_restart_delay_ms = 50; }, "supervision"},
        {"dbus-admin-group", [](Config& c) { c.dbus_admin_group = "netdev"; }, "bus"},
        {"proxynd-enable", [](Config& c) { c.proxynd_enable = false; }, "clat,proxy-poll"},
        {"metrics-file", [](Config& c) { c.metrics_file = "/run/clatd.prom"; }, "metrics"},
        {"metrics-interval", [](Config& c) { c.metrics_interval = 60; }, "metrics"},
        {"cmd-ip (never run)", [](Config& c) { c.cmd_ip = "/sbin/ip"; }, "none"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        Config after = base;
        c.change(after);
        const ConfigDiff d = diff_config(base, after);
        CHECK(d.to_string() == c.groups);
        CHECK(d.any() == (std::string(c.groups) != "none"));
        CHECK(diff_config(after, base) == d);
    }
}

TEST_CASE("relevant_subset: what the CLAT depends on stays, changes elsewhere drop out") {
    Observed o = host();
    const auto probe = v6("2001:db8:64::c000:aa");
    RouteV6 other_table;
    other_table.destination = p6("2001:db8:77::/64");
    other_table.oif = 4;
    other_table.table = 100;
    RouteV6 covering;
    covering.destination = p6("2001:db8:64::/96");
    covering.oif = 2;
    RouteV4 ours;
    ours.destination = p4("0.0.0.0/0");
    ours.oif = 3;
    ours.protocol = kRouteProtocol;
    RouteV4 elsewhere;
    elsewhere.destination = p4("198.51.100.0/24");
    elsewhere.oif = 4;
    elsewhere.table = 100;
    o.routes_v6.push_back(other_table);
    o.routes_v6.push_back(covering);
    o.routes_v4 = {ours, elsewhere};
    o.addresses_v4 = {AddressV4{3, v4("192.0.0.1"), 32}, AddressV4{4, v4("203.0.113.9"), 24}};

    const Observed subset = relevant_subset(o, "clat", {"eth0"}, probe);
    CHECK(subset.links == o.links);
    CHECK(subset.routes_v6.size() == 2);  // the default route and the one covering the probe
    CHECK(subset.routes_v4 == std::vector<RouteV4>{ours});
    CHECK(subset.addresses_v4.size() == 1);
    REQUIRE(subset.addresses_v6.size() == 1);
    CHECK(subset.addresses_v6[0].address == v6("2001:db8:1::2"));

    // A storm on eth9 (addresses, routes in another table) leaves the subset as it was.
    Observed stormed = o;
    for (int i = 0; i < 50; ++i)
        stormed.addresses_v6.push_back(AddressV6{4, v6("2001:db8:9::100"), 64});
    stormed.routes_v6.push_back(other_table);
    stormed.routes_v4.push_back(elsewhere);
    CHECK(relevant_subset(stormed, "clat", {"eth0"}, probe) == subset);
    // The same on eth0 is relevant.
    stormed.addresses_v6.push_back(AddressV6{2, v6("2001:db8:1::3"), 64});
    CHECK(relevant_subset(stormed, "clat", {"eth0"}, probe) != subset);
    // And the functions that read it answer the same on the subset as on the whole.
    CHECK(usable_uplink(subset, "clat", std::nullopt) == usable_uplink(o, "clat", std::nullopt));
    CHECK(native_ipv4(subset, "clat") == native_ipv4(o, "clat"));
}

TEST_CASE("matters: what can change the relevant subset wakes the agent, the rest does not") {
    const Observed o = host();
    // clat (3), the PLAT device eth0 (2, also the default route's): not eth9 (4).
    const auto probe = v6("2001:db8:64::c000:aa");
    const ObservationInterest interest = interest_of(o, "clat", {"eth0"}, probe);
    CHECK(interest.devices == std::vector<int>{2, 3});
    using K = ChangeSubject::Kind;
    auto route = [](int oif, std::uint32_t table, std::uint8_t protocol, const char* dst) {
        const Ipv6Prefix d = p6(dst);
        return ChangeSubject{K::kRoute, oif, table, protocol, d.length == 0, d};
    };
    CHECK(matters(interest, ChangeSubject{K::kAddress, 2, kMainTable, 0, false, {}}));
    CHECK_FALSE(matters(interest, ChangeSubject{K::kAddress, 4, kMainTable, 0, false, {}}));
    CHECK(matters(interest, route(4, kMainTable, 9, "::/0")));              // another default route
    CHECK(matters(interest, route(4, kMainTable, 3, "2001:db8:64::/96")));  // covers the probe
    CHECK_FALSE(matters(interest, route(4, kMainTable, 2, "2001:db8:9::5/128")));  // elsewhere
    CHECK_FALSE(matters(interest, route(4, 1234, 0, "2001:db8:77::/64")));
    CHECK(matters(interest, route(4, 1234, kRouteProtocol, "2001:db8:77::/64")));  // ours
    CHECK(matters(interest, route(3, 255, 2, "2001:db8:77::/64")));  // on the CLAT device
    CHECK(matters(interest, ChangeSubject{K::kLink, 4, kMainTable, 0, false, {}}));
    CHECK(matters(interest, ChangeSubject{K::kOther, 0, kMainTable, 0, false, {}}));
    // A second default route makes its device's addresses relevant.
    Observed two = o;
    RouteV6 second = o.routes_v6[0];
    second.oif = 4;
    two.routes_v6.push_back(second);
    CHECK(interest_of(two, "clat", {}, std::nullopt).devices == std::vector<int>{2, 3, 4});
}

}  // namespace clat::test
