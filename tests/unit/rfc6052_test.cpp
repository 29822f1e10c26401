#include <doctest/doctest.h>

#include "states/rfc6052.hpp"
#include "tests/values.hpp"

namespace clat::test {
namespace {

struct Vector {
    const char* prefix;
    const char* embedded;
};

// RFC 6052 §2.4, Table 1, with 192.0.2.33.
constexpr Vector kRfc6052Table[] = {
    {"2001:db8::/32", "2001:db8:c000:221::"},
    {"2001:db8:100::/40", "2001:db8:1c0:2:21::"},
    {"2001:db8:122::/48", "2001:db8:122:c000:2:2100::"},
    {"2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"},
    {"2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"},
    {"2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"},
};

TEST_CASE("RFC 6052 §2.4 table: embedding 192.0.2.33") {
    for (const auto& v : kRfc6052Table) {
        CAPTURE(v.prefix);
        auto a = embed_ipv4(p6(v.prefix), v4("192.0.2.33"));
        REQUIRE(a);
        CHECK(*a == v6(v.embedded));
    }
}

TEST_CASE("RFC 6052 §2.4 table: extracting 192.0.2.33") {
    for (const auto& v : kRfc6052Table) {
        CAPTURE(v.prefix);
        auto e = extract_ipv4(v6(v.embedded), p6(v.prefix).length);
        REQUIRE(e);
        CHECK(e->to_string() == "192.0.2.33");
    }
}

TEST_CASE("the well-known prefix 64:ff9b::/96") {
    auto a = embed_ipv4(p6("64:ff9b::/96"), v4("198.51.100.7"));
    REQUIRE(a);
    CHECK(a->to_string() == "64:ff9b::c633:6407");
    CHECK(extract_ipv4(*a, 96) == v4("198.51.100.7"));
}

TEST_CASE("the u-octet (bits 64..71) stays zero and is skipped") {
    // All ones in the IPv4 address makes any byte written to the u-octet visible.
    for (int length : {32, 40, 48, 56, 64}) {
        CAPTURE(length);
        auto a =
            embed_ipv4(Ipv6Prefix::make(v6("2001:db8:122:344::"), length), v4("255.255.255.255"));
        REQUIRE(a);
        CHECK(a->bytes[8] == 0);
        int ones = 0;
        for (auto b : a->bytes)
            ones += b == 0xff ? 1 : 0;
        CHECK(ones == 4);
    }
}

TEST_CASE("embedding ignores host bits past the prefix and round-trips") {
    // Ipv6Prefix::make masks, but a hand-built prefix may carry stray bits: they must not leak
    // into the suffix.
    Ipv6Prefix dirty{v6("2001:db8:122:344:ffff:ffff:ffff:ffff"), 32};
    auto a = embed_ipv4(dirty, v4("192.0.2.33"));
    REQUIRE(a);
    CHECK(*a == v6("2001:db8:c000:221::"));

    for (int length : {32, 40, 48, 56, 64, 96}) {
        for (const char* addr : {"0.0.0.0", "192.0.0.170", "203.0.113.255", "255.255.255.255"}) {
            CAPTURE(length);
            CAPTURE(addr);
            auto prefix = Ipv6Prefix::make(v6("2001:db8:aaaa:bbbb:cccc:dddd::"), length);
            auto e = embed_ipv4(prefix, v4(addr));
            REQUIRE(e);
            CHECK(prefix.contains(*e));
            CHECK(extract_ipv4(*e, length) == v4(addr));
        }
    }
}

TEST_CASE("lengths other than 32, 40, 48, 56, 64 and 96 are refused") {
    for (int length : {32, 40, 48, 56, 64, 96})
        CHECK(is_rfc6052_length(length));
    for (int length : {-1, 0, 8, 24, 33, 72, 80, 88, 95, 97, 128, 129}) {
        CAPTURE(length);
        CHECK_FALSE(is_rfc6052_length(length));
        CHECK_FALSE(extract_ipv4(v6("64:ff9b::c000:221"), length));
        if (length >= 0 && length <= 128)
            CHECK_FALSE(embed_ipv4(Ipv6Prefix::make(v6("64:ff9b::"), length), v4("192.0.2.1")));
    }
}

}  // namespace
}  // namespace clat::test
