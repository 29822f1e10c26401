#include <doctest/doctest.h>

#include "states/observation.hpp"

using namespace clat;

namespace {

Observed host() {
    Observed o;
    o.links[1] = Link{1, "lo", "", true, true, 65536};
    o.links[2] = Link{2, "eth0", "veth", true, true, 1500};
    o.links[3] = Link{3, "clat", "tun", true, true, 1500};
    AddressV6 global{2, *Ipv6Address::parse("2001:db8:1::211:22ff:fe33:4455"), 64};
    AddressV6 link_local{2, *Ipv6Address::parse("fe80::211:22ff:fe33:4455"), 64};
    o.addresses_v6 = {link_local, global};
    RouteV6 dflt;
    dflt.destination = *Ipv6Prefix::parse("::/0");
    dflt.oif = 2;
    dflt.gateway = Ipv6Address::parse("fe80::1");
    dflt.protocol = 9;  // RTPROT_RA
    o.routes_v6 = {dflt};
    return o;
}

RouteV4 default_v4(int oif, std::uint8_t protocol) {
    RouteV4 r;
    r.destination = *Ipv4Prefix::parse("0.0.0.0/0");
    r.oif = oif;
    r.protocol = protocol;
    return r;
}

}  // namespace

TEST_CASE("the uplink needs a default route and a usable global address on one live device") {
    auto o = host();
    CHECK(usable_uplink(o, "clat", std::nullopt) == "eth0");
    CHECK(usable_uplink(o, "clat", std::string("eth0")) == "eth0");
    CHECK_FALSE(usable_uplink(o, "clat", std::string("eth1")));

    auto tentative = o;
    tentative.addresses_v6[1].tentative = true;
    CHECK_FALSE(usable_uplink(tentative, "clat", std::nullopt));

    auto only_link_local = o;
    only_link_local.addresses_v6.pop_back();
    CHECK_FALSE(usable_uplink(only_link_local, "clat", std::nullopt));

    auto no_route = o;
    no_route.routes_v6.clear();
    CHECK_FALSE(usable_uplink(no_route, "clat", std::nullopt));

    auto down = o;
    down.links[2].admin_up = false;
    CHECK_FALSE(usable_uplink(down, "clat", std::nullopt));

    auto other_table = o;
    other_table.routes_v6[0].table = 100;
    CHECK_FALSE(usable_uplink(other_table, "clat", std::nullopt));
}

TEST_CASE("native IPv4 is a default route that is not the CLAT's") {
    auto o = host();
    CHECK(native_ipv4(o, "clat").empty());
    o.routes_v4 = {default_v4(3, 4)};  // on the clat device
    CHECK(native_ipv4(o, "clat").empty());
    o.routes_v4 = {default_v4(2, kRouteProtocol)};  // ours, wherever it is
    CHECK(native_ipv4(o, "clat").empty());
    o.routes_v4 = {default_v4(2, 16)};  // DHCP
    CHECK(native_ipv4(o, "clat") == "native IPv4 default route via eth0");
    o.routes_v4[0].table = 100;
    CHECK(native_ipv4(o, "clat").empty());
}

TEST_CASE("PREF64: unexpired facts only, the uplink's first") {
    auto o = host();
    CHECK_FALSE(pref64_choice(o, 2, 1000));
    o.pref64 = {Pref64Fact{5, *Ipv6Prefix::parse("2001:db8:65::/96"), 5000},
                Pref64Fact{2, *Ipv6Prefix::parse("2001:db8:64::/64"), 9000}};
    auto choice = pref64_choice(o, 2, 1000);
    REQUIRE(choice);
    CHECK(choice->prefix.to_string() == "2001:db8:64::/64");
    CHECK(choice->source == PlatSource::Pref64);
    CHECK(choice->expires_at_ms == 9000);
    // Neither on the uplink, the same age: the lowest prefix.
    CHECK(pref64_choice(o, 7, 1000)->prefix.to_string() == "2001:db8:64::/64");
    o.pref64[0].first_seen_ms = 100;
    CHECK(pref64_choice(o, 7, 1000)->prefix.to_string() == "2001:db8:65::/96");
    CHECK(pref64_choice(o, 7, 6000)->prefix.to_string() == "2001:db8:64::/64");
    CHECK_FALSE(pref64_choice(o, 2, 9000));
}

TEST_CASE("PREF64: of two prefixes on the uplink, the one that appeared last") {
    auto o = host();
    o.pref64 = {Pref64Fact{2, *Ipv6Prefix::parse("2001:db8:64::/96"), 90'000, 500},
                Pref64Fact{2, *Ipv6Prefix::parse("2001:db8:65::/96"), 60'000, 2000},
                Pref64Fact{3, *Ipv6Prefix::parse("2001:db8:66::/96"), 90'000, 8000}};
    CHECK(pref64_choice(o, 2, 3000)->prefix.to_string() == "2001:db8:65::/96");
    // Once the newer one lapses the older one, still valid, is used again.
    CHECK(pref64_choice(o, 2, 60'000)->prefix.to_string() == "2001:db8:64::/96");
    // Same age: the lowest prefix, whatever the order of the facts.
    o.pref64[1].first_seen_ms = 500;
    CHECK(pref64_choice(o, 2, 3000)->prefix.to_string() == "2001:db8:64::/96");
    std::swap(o.pref64[0], o.pref64[1]);
    CHECK(pref64_choice(o, 2, 3000)->prefix.to_string() == "2001:db8:64::/96");
}

TEST_CASE("DAD state of an address as the kernel reports it") {
    auto o = host();
    const auto a = *Ipv6Address::parse("2001:db8:1::211:22ff:c1a7:4455");
    CHECK(dad_state(o, "eth0", a) == DadState::kAbsent);
    o.addresses_v6.push_back(AddressV6{2, a, 128, true});
    CHECK(dad_state(o, "eth0", a) == DadState::kTentative);
    CHECK(dad_state(o, "eth1", a) == DadState::kAbsent);
    o.addresses_v6.back().dad_failed = true;
    CHECK(dad_state(o, "eth0", a) == DadState::kFailed);
    o.addresses_v6.back() = AddressV6{2, a, 128};
    CHECK(dad_state(o, "eth0", a) == DadState::kUsable);
    CHECK(addresses_on(o, 2, a).size() == 2);
    CHECK(addresses_on(o, 2).size() == 3);
}
