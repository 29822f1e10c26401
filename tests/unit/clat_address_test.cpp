#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "states/clat_address.hpp"
#include "tests/values.hpp"

namespace clat::test {
namespace {

enum Flags : unsigned { kNone = 0, kTentative = 1, kDadFailed = 2, kDeprecated = 4 };

AddressV6 fact(const char* text, int length, unsigned flags = kNone) {
    AddressV6 a;
    a.ifindex = 2;
    a.address = v6(text);
    a.prefix_length = length;
    a.tentative = (flags & kTentative) != 0;
    a.dad_failed = (flags & kDadFailed) != 0;
    a.deprecated = (flags & kDeprecated) != 0;
    return a;
}

/// Hands out the given values in turn (then repeats the last) and counts the calls.
struct Draws {
    std::vector<std::uint64_t> values;
    int calls = 0;
    RandomSource source() {
        return [this] {
            const auto i = static_cast<std::size_t>(calls++);
            return values.at(i < values.size() ? i : values.size() - 1);
        };
    }
};

const Ipv6Prefix kPlat = *Ipv6Prefix::parse("2001:db8:64::/96");
constexpr const char* kSlaacA = "2001:db8:1:2:211:22ff:fe33:4455";
constexpr const char* kClatA = "2001:db8:1:2:211:22c1:a733:4455";

bool has(const Error& e, const std::string& text) {
    return e.message.find(text) != std::string::npos;
}

TEST_CASE("SLAAC: fffe becomes c1a7, no randomness needed") {
    Draws d{{0x1234}};
    auto r = derive_clat_address({fact("fe80::211:22ff:fe33:4455", 64), fact(kSlaacA, 64)}, kPlat,
                                 d.source());
    REQUIRE(r);
    CHECK(*r == ClatAddressChoice{v6(kClatA), v6(kSlaacA), 64, true});
    CHECK(d.calls == 0);
}

TEST_CASE("an fffe identifier outside a /64 is not SLAAC") {
    Draws d{{0x42}};
    auto r = derive_clat_address({fact("2001:db8:1::211:22ff:fe33:4455", 48)}, kPlat, d.source());
    REQUIRE(r);
    CHECK_FALSE(r->slaac);
    CHECK(d.calls == 2);
}

TEST_CASE("SLAAC beats a non-SLAAC address that matches the PLAT prefix better") {
    Draws d{{0x1234}};
    auto r =
        derive_clat_address({fact("2001:db8:64::5", 64), fact(kSlaacA, 64)}, kPlat, d.source());
    REQUIRE(r);
    CHECK(r->address == v6(kClatA));
}

TEST_CASE("within a category the longest match with the PLAT prefix wins, ties keep order") {
    Draws d{{0x0123456789abcdef}};
    auto slaac = derive_clat_address(
        {fact(kSlaacA, 64), fact("2001:db8:64:0:211:22ff:fe33:4455", 64)}, kPlat, d.source());
    REQUIRE(slaac);
    CHECK(slaac->address == v6("2001:db8:64:0:211:22c1:a733:4455"));

    auto tie = derive_clat_address(
        {fact("2001:db8:1:5:211:22ff:fe33:4455", 64), fact("2001:db8:1:6:211:22ff:fe33:4455", 64)},
        p6("2001:db8:2::/48"), d.source());
    REQUIRE(tie);
    CHECK(tie->derived_from == v6("2001:db8:1:5:211:22ff:fe33:4455"));

    auto random = derive_clat_address({fact("2001:db8:1:2::10", 64), fact("2001:db8:64::10", 64)},
                                      kPlat, d.source());
    REQUIRE(random);
    CHECK(random->address == v6("2001:db8:64:0:123:4567:89ab:cdef"));
    CHECK(random->derived_from == v6("2001:db8:64::10"));
}

TEST_CASE("non-SLAAC: the host bits come from the random source, masked to the prefix") {
    struct Case {
        const char* address;
        int length;
        std::vector<std::uint64_t> draws;
        const char* expected;
    };
    for (const auto& c :
         {Case{"2001:db8:1:2::10", 64, {0x0123456789abcdef}, "2001:db8:1:2:123:4567:89ab:cdef"},
          Case{"2001:db8::10", 120, {0xffffffffffffff42}, "2001:db8::42"},
          Case{"2001:db8::1:0:10", 100, {0xffffffffdeadbeef}, "2001:db8::1:ead:beef"},
          // Shorter than /64: the first draw fills the low 64 bits, the second the rest.
          Case{"2001:db8:0:100::1",
               56,
               {0x1111111111111111, 0xffffffffffffffff},
               "2001:db8:0:1ff:1111:1111:1111:1111"}}) {
        CAPTURE(std::string(c.address));
        Draws d{c.draws};
        auto r = derive_clat_address({fact(c.address, c.length)}, kPlat, d.source());
        REQUIRE(r);
        CHECK(*r == ClatAddressChoice{v6(c.expected), v6(c.address), c.length, false});
        CHECK(d.calls == static_cast<int>(c.draws.size()));
    }
}

TEST_CASE("prefixes longer than /120 get no random identifier") {
    Draws d{{0x42}};
    // Beside a usable /64 that has no free identifier left, each reason is listed.
    auto r = derive_clat_address({fact("2001:db8::10", 124), fact("2001:db8:2::10", 64)}, kPlat,
                                 [] { return 0x10ULL; }, {v6("2001:db8:2::10")});
    REQUIRE_FALSE(r);
    CHECK(has(r.error(),
              "prefix /124 too long for a random interface identifier (needs /120 or shorter)"));
    CHECK(has(r.error(), "2001:db8::10/124"));
    CHECK(d.calls == 0);
}

TEST_CASE("only single addresses (a DHCPv6 /128): the error names the cause and the way out") {
    Draws d{{0x42}};
    for (const int length : {128, 127, 124, 121}) {
        CAPTURE(length);
        auto r = derive_clat_address({fact("2001:db8::10", length), fact("fe80::1", 64)}, kPlat,
                                     d.source());
        REQUIRE_FALSE(r);
        CHECK(r.error().message ==
              "clat-v6-addr=derived needs a prefix to derive a second address in, and the "
              "PLAT-facing device has only single addresses (2001:db8::10/" +
                  std::to_string(length) +
                  ", e.g. a DHCPv6 lease): set clat-v6-addr=shared to share the host's address, "
                  "or clat-v6-addr to a static address routed to this host");
    }
    auto two = derive_clat_address({fact("2001:db8::10", 128), fact("2001:db8::11", 128)}, kPlat,
                                   d.source());
    REQUIRE_FALSE(two);
    CHECK(has(two.error(), "(2001:db8::10/128; 2001:db8::11/128, e.g."));
    // A /120 still gets a random identifier.
    CHECK(derive_clat_address({fact("2001:db8::10", 120)}, kPlat, d.source()));
    CHECK(d.calls == 1);
}

TEST_CASE("tentative and DAD-failed addresses are skipped") {
    Draws d{{0x0123456789abcdef}};
    auto r = derive_clat_address({fact(kSlaacA, 64, kTentative), fact("2001:db8:1:3::10", 64)},
                                 kPlat, d.source());
    REQUIRE(r);
    CHECK(r->derived_from == v6("2001:db8:1:3::10"));

    auto none = derive_clat_address(
        {fact(kSlaacA, 64, kTentative), fact("2001:db8:1:3::10", 64, kDadFailed)}, kPlat,
        d.source());
    REQUIRE_FALSE(none);
    CHECK(has(none.error(), "no global IPv6 address on the PLAT-facing device"));
    CHECK(has(none.error(), std::string(kSlaacA) + " is tentative"));
    CHECK(has(none.error(), "2001:db8:1:3::10 failed DAD"));
}

TEST_CASE("link-local, multicast, loopback and unspecified addresses are never used") {
    Draws d{{0x42}};
    auto r = derive_clat_address({fact("fe80::211:22ff:fe33:4455", 64), fact("ff02::1", 64),
                                  fact("::1", 128), fact("::", 64)},
                                 kPlat, d.source());
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "no global IPv6 address on the PLAT-facing device");
    CHECK_FALSE(derive_clat_address({}, kPlat, d.source()));
}

TEST_CASE("a ULA is never used towards a global PLAT prefix") {
    Draws d{{0x42}};
    auto only = derive_clat_address({fact("fd00:1:2:3:211:22ff:fe33:4455", 64)}, kPlat, d.source());
    REQUIRE_FALSE(only);
    CHECK(has(only.error(), "only ULA addresses, and the PLAT prefix is global"));

    auto mixed = derive_clat_address(
        {fact("fd00:1:2:3:211:22ff:fe33:4455", 64), fact("2001:db8:1:2::10", 64)}, kPlat,
        d.source());
    REQUIRE(mixed);
    CHECK(mixed->derived_from == v6("2001:db8:1:2::10"));
}

TEST_CASE("a ULA PLAT prefix may be reached from a ULA, preferred by the longest match") {
    Draws d{{0x42}};
    auto r = derive_clat_address({fact(kSlaacA, 64), fact("fd00:64:0:1:211:22ff:fe33:4455", 64)},
                                 p6("fd00:64::/96"), d.source());
    REQUIRE(r);
    CHECK(r->address == v6("fd00:64:0:1:211:22c1:a733:4455"));
}

TEST_CASE("an avoided SLAAC result falls back to a random identifier on the same /64") {
    Draws d{{0x0123456789abcdef}};
    auto r = derive_clat_address({fact(kSlaacA, 64)}, kPlat, d.source(), {v6(kClatA)});
    REQUIRE(r);
    CHECK(*r == ClatAddressChoice{v6("2001:db8:1:2:123:4567:89ab:cdef"), v6(kSlaacA), 64, false});
}

TEST_CASE("the device's own addresses are never produced") {
    // The c1a7 address already sits on the device.
    Draws d{{0x0123456789abcdef}};
    auto r = derive_clat_address({fact(kSlaacA, 64), fact(kClatA, 64)}, kPlat, d.source());
    REQUIRE(r);
    CHECK(r->address == v6("2001:db8:1:2:123:4567:89ab:cdef"));

    // A random draw that equals the host's address, then one that is avoided, then a free one.
    Draws retry{{0x10, 0x11, 0x12}};
    auto again = derive_clat_address({fact("2001:db8:1:2::10", 64)}, kPlat, retry.source(),
                                     {v6("2001:db8:1:2::11")});
    REQUIRE(again);
    CHECK(again->address == v6("2001:db8:1:2::12"));
    CHECK(retry.calls == 3);
}

TEST_CASE("reserved anycast identifiers are never drawn") {
    // Subnet-Router anycast (all zero), then RFC 2526 fdff:ffff:ffff:ff80.., then a usable one.
    Draws d{{0, 0xfdffffffffffff90, 0xfdffffffffffff7f}};
    auto r = derive_clat_address({fact("2001:db8:1:2::10", 64)}, kPlat, d.source());
    REQUIRE(r);
    CHECK(r->address == v6("2001:db8:1:2:fdff:ffff:ffff:ff7f"));
    CHECK(d.calls == 3);

    // Non-/64: the highest 128 identifiers of the subnet.
    Draws small{{0x80, 0xff, 0x7f}};
    auto s = derive_clat_address({fact("2001:db8::10", 120)}, kPlat, small.source());
    REQUIRE(s);
    CHECK(s->address == v6("2001:db8::7f"));
    CHECK(small.calls == 3);
}

TEST_CASE("random draws are bounded; an exhausted prefix passes to the next candidate") {
    Draws d{{0x11}};
    auto r = derive_clat_address({fact("2001:db8:64::10", 64), fact("2001:db8:1:2::10", 64)}, kPlat,
                                 d.source(), {v6("2001:db8:64::11")});
    REQUIRE(r);
    CHECK(r->address == v6("2001:db8:1:2::11"));
    CHECK(d.calls == kRandomIidAttempts + 1);

    Draws stuck{{0x11}};
    auto none = derive_clat_address({fact("2001:db8:64::10", 64)}, kPlat, stuck.source(),
                                    {v6("2001:db8:64::11")});
    REQUIRE_FALSE(none);
    CHECK(has(none.error(), "2001:db8:64::10/64: no free interface identifier in 16 random draws"));
    CHECK(stuck.calls == kRandomIidAttempts);
}

TEST_CASE("deprecated addresses are used only when nothing else is") {
    Draws d{{0x42}};
    const char* old_slaac = "2001:db8:64:0:211:22ff:fe33:4455";
    auto r = derive_clat_address({fact(old_slaac, 64, kDeprecated), fact("2001:db8:1:2::10", 64)},
                                 kPlat, d.source());
    REQUIRE(r);
    CHECK(r->address == v6("2001:db8:1:2::42"));

    auto only = derive_clat_address({fact(old_slaac, 64, kDeprecated)}, kPlat, d.source());
    REQUIRE(only);
    CHECK(only->address == v6("2001:db8:64:0:211:22c1:a733:4455"));
}

TEST_CASE("without a random source only SLAAC derivation works") {
    auto r = derive_clat_address({fact("2001:db8:1:2::10", 64)}, kPlat, RandomSource{});
    REQUIRE_FALSE(r);
    CHECK(has(r.error(), "no source of random"));
    CHECK(derive_clat_address({fact(kSlaacA, 64)}, kPlat, RandomSource{}));
}

}  // namespace
}  // namespace clat::test
