#include <doctest/doctest.h>

#include "states/ip.hpp"

using clat::Ipv4Address;
using clat::Ipv4Prefix;
using clat::Ipv6Address;
using clat::Ipv6Prefix;

TEST_CASE("IPv4 addresses parse and format") {
    auto a = Ipv4Address::parse("192.0.2.33");
    REQUIRE(a);
    CHECK(a->to_string() == "192.0.2.33");
    CHECK(a->to_u32() == 0xc0000221);
    CHECK(Ipv4Address::from_u32(0xc0000221) == *a);
    for (const char* bad :
         {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.x", "01.2.3.4", "1..2.3", "1.2.3.4 "}) {
        CAPTURE(bad);
        CHECK_FALSE(Ipv4Address::parse(bad));
    }
}

TEST_CASE("IPv6 addresses parse and format canonically (RFC 5952)") {
    struct Case {
        const char* in;
        const char* out;
    };
    for (auto c :
         {Case{"2001:db8::1", "2001:db8::1"},
          Case{"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"}, Case{"::", "::"},
          Case{"::1", "::1"}, Case{"1::", "1::"}, Case{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
          Case{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
          Case{"64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
          Case{"fe80::a:b:c:d", "fe80::a:b:c:d"}}) {
        CAPTURE(c.in);
        auto a = Ipv6Address::parse(c.in);
        REQUIRE(a);
        CHECK(a->to_string() == c.out);
        CHECK(Ipv6Address::parse(a->to_string()) == a);
    }
    for (const char* bad : {"", ":", ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::1",
                            "1:2:3:4:5:6:7", "::1.2.3", "1.2.3.4::"}) {
        CAPTURE(bad);
        CHECK_FALSE(Ipv6Address::parse(bad));
    }
}

TEST_CASE("IPv6 address classes") {
    CHECK(Ipv6Address::parse("fe80::1")->is_link_local());
    CHECK(Ipv6Address::parse("fd00::1")->is_ula());
    CHECK(Ipv6Address::parse("fc00::1")->is_ula());
    CHECK(Ipv6Address::parse("2001:db8::1")->is_global_unicast());
    CHECK_FALSE(Ipv6Address::parse("::1")->is_global_unicast());
    CHECK_FALSE(Ipv6Address::parse("ff02::1")->is_global_unicast());
    CHECK(Ipv6Address::parse("2001:db8::211:22ff:fe33:4455")->interface_id() ==
          0x021122fffe334455ULL);
}

TEST_CASE("prefixes parse, mask and contain") {
    auto p = Ipv6Prefix::parse("2001:db8:64::/96");
    REQUIRE(p);
    CHECK(p->length == 96);
    CHECK(p->to_string() == "2001:db8:64::/96");
    CHECK(p->contains(*Ipv6Address::parse("2001:db8:64::c000:221")));
    CHECK_FALSE(p->contains(*Ipv6Address::parse("2001:db8:65::1")));
    CHECK_FALSE(Ipv6Prefix::parse("2001:db8::1/64"));  // host bits set
    CHECK(Ipv6Prefix::parse("2001:db8::1/64", true)->to_string() == "2001:db8::/64");
    CHECK(Ipv6Prefix::parse("2001:db8::1")->length == 128);
    CHECK_FALSE(Ipv6Prefix::parse("2001:db8::/129"));
    CHECK_FALSE(Ipv6Prefix::parse("2001:db8::/"));
    CHECK_FALSE(Ipv6Prefix::parse("2001:db8::/064"));
    CHECK(Ipv6Prefix::parse("2001:db8:ff00::/41", true)->to_string() == "2001:db8:ff00::/41");
    CHECK(Ipv6Prefix::parse("2001:db8:ff80::/41", true)->to_string() == "2001:db8:ff80::/41");
    CHECK(Ipv6Prefix::parse("2001:db8:ffc0::/41", true)->to_string() == "2001:db8:ff80::/41");

    auto q = Ipv4Prefix::parse("198.51.100.0/24");
    REQUIRE(q);
    CHECK(q->contains(*Ipv4Address::parse("198.51.100.7")));
    CHECK_FALSE(q->contains(*Ipv4Address::parse("198.51.101.7")));
    CHECK(Ipv4Prefix::parse("0.0.0.0/0")->contains(*Ipv4Address::parse("203.0.113.1")));
    CHECK_FALSE(Ipv4Prefix::parse("198.51.100.1/24"));
}

TEST_CASE("common prefix length") {
    auto a = *Ipv6Address::parse("2001:db8:1::1");
    CHECK(clat::common_prefix_length(a, a) == 128);
    CHECK(clat::common_prefix_length(a, *Ipv6Address::parse("2001:db8:1::2")) == 126);
    CHECK(clat::common_prefix_length(a, *Ipv6Address::parse("2001:db8:2::1")) == 46);
    CHECK(clat::common_prefix_length(a, *Ipv6Address::parse("::")) == 2);
}
