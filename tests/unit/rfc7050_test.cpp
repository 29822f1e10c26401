#include <doctest/doctest.h>

#include "states/rfc6052.hpp"
#include "states/rfc7050.hpp"
#include "tests/values.hpp"

namespace clat::test {
namespace {

Ipv6Address synthesise(const Ipv6Prefix& prefix, const Ipv4Address& v4) {
    auto a = embed_ipv4(prefix, v4);
    REQUIRE(a);
    return *a;
}

TEST_CASE("each RFC 6052 length is found, for either well-known address") {
    for (const char* text :
         {"2001:db8::/32", "2001:db8:100::/40", "2001:db8:122::/48", "2001:db8:122:300::/56",
          "2001:db8:122:344::/64", "2001:db8:122:344::/96", "64:ff9b::/96"}) {
        for (auto wka : {kWellKnownV4a, kWellKnownV4b}) {
            CAPTURE(text);
            CAPTURE(wka.to_string());
            auto r = prefix_from_answers({synthesise(p6(text), wka)});
            REQUIRE(r);
            CHECK(r->prefix == p6(text));
            CHECK_FALSE(r->ambiguous);
            CHECK(r->all == std::vector<Ipv6Prefix>{p6(text)});
        }
    }
}

TEST_CASE("the usual pair of answers yields one prefix") {
    auto r = prefix_from_answers({v6("64:ff9b::192.0.0.170"), v6("64:ff9b::192.0.0.171")});
    REQUIRE(r);
    CHECK(r->prefix == p6("64:ff9b::/96"));
    CHECK_FALSE(r->ambiguous);
    CHECK(r->all.size() == 1);
}

TEST_CASE("the suffix after the embedded address is zeroed") {
    // /64: the address sits in bytes 9..12; 13..15 are suffix.
    auto r = prefix_from_answers({v6("2001:db8:122:344:c0:0:aa12:3456")});
    REQUIRE(r);
    CHECK(r->prefix == p6("2001:db8:122:344::/64"));
}

TEST_CASE("answers that are not synthesised are ignored") {
    CHECK_FALSE(prefix_from_answers({}));
    CHECK_FALSE(prefix_from_answers({v6("2001:db8::1"), v6("64:ff9b::192.0.2.1")}));
    // 192.0.0.170 at byte offset 10, which is no RFC 6052 position.
    CHECK_FALSE(prefix_from_answers({v6("2001:db8::c000:aa:0")}));
    // A would-be /64 match with a non-zero u-octet (RFC 6052 §2.2: it MUST be zero).
    CHECK_FALSE(prefix_from_answers({v6("2001:db8:122:344:1c0:0:aa00:0")}));

    auto r = prefix_from_answers(
        {v6("2001:db8::1"), v6("2001:db8:64::192.0.0.171"), v6("2001:db8:ffff::2")});
    REQUIRE(r);
    CHECK(r->prefix == p6("2001:db8:64::/96"));
    CHECK_FALSE(r->ambiguous);
}

TEST_CASE("a Pref64 holding the well-known pattern itself is read at the longest length") {
    // 2001:db8:c000:aa::/96 carries 192.0.0.170 at the /32 position by construction.
    const auto a = v6("2001:db8:c000:aa::192.0.0.170");
    const auto b = v6("2001:db8:c000:aa::192.0.0.171");
    REQUIRE(extract_ipv4(a, 32) == kWellKnownV4a);
    REQUIRE(extract_ipv4(b, 32) == kWellKnownV4a);
    auto r = prefix_from_answers({a, b});
    REQUIRE(r);
    CHECK(r->prefix == p6("2001:db8:c000:aa::/96"));
    CHECK_FALSE(r->ambiguous);
}

TEST_CASE("different prefixes: the lowest wins whatever the order, all listed once, lowest first") {
    const std::vector<Ipv6Address> answers{v6("2001:db8::1"), v6("64:ff9b::192.0.0.170"),
                                           v6("2001:db8:c000:aa::"), v6("64:ff9b::192.0.0.171"),
                                           v6("2001:db8:c000:ab::")};
    const std::vector<Ipv6Prefix> lowest_first{p6("64:ff9b::/96"), p6("2001:db8::/32")};
    auto r = prefix_from_answers(answers);
    REQUIRE(r);
    CHECK(r->prefix == p6("64:ff9b::/96"));
    CHECK(r->ambiguous);
    CHECK(r->all == lowest_first);
    // The same answers in the opposite order (a BIND with two dns64 blocks shuffles them).
    r = prefix_from_answers({answers.rbegin(), answers.rend()});
    REQUIRE(r);
    CHECK(r->prefix == p6("64:ff9b::/96"));
    CHECK(r->all == lowest_first);
}

TEST_CASE("different prefixes: the one in use is kept while it is among them") {
    const auto a = synthesise(p6("2001:db8:64::/96"), kWellKnownV4a);
    const auto b = synthesise(p6("2001:db8:65::/96"), kWellKnownV4a);
    const auto c = synthesise(p6("2001:db8:63::/64"), kWellKnownV4b);
    for (const auto& answers : {std::vector<Ipv6Address>{a, b}, std::vector<Ipv6Address>{b, a}}) {
        auto r = prefix_from_answers(answers, p6("2001:db8:65::/96"));
        REQUIRE(r);
        CHECK(r->prefix == p6("2001:db8:65::/96"));
        CHECK(r->ambiguous);
        CHECK(r->all == std::vector<Ipv6Prefix>{p6("2001:db8:64::/96"), p6("2001:db8:65::/96")});
    }
    // No longer answered: the lowest of the rest.
    auto r = prefix_from_answers({b, c}, p6("2001:db8:64::/96"));
    REQUIRE(r);
    CHECK(r->prefix == p6("2001:db8:63::/64"));
    // Equal addresses: the shorter prefix first.
    const auto d = synthesise(p6("2001:db8:63::/96"), kWellKnownV4a);
    r = prefix_from_answers({d, c});
    REQUIRE(r);
    CHECK(r->all == std::vector<Ipv6Prefix>{p6("2001:db8:63::/64"), p6("2001:db8:63::/96")});
    CHECK(r->prefix == p6("2001:db8:63::/64"));
}

}  // namespace
}  // namespace clat::test
