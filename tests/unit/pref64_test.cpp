#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "states/pref64.hpp"
#include "tests/values.hpp"

namespace clat::test {
namespace {

using Bytes = std::vector<std::uint8_t>;

// 2001:db8:122:344:ffff:ffff::, so that every PLC shorter than /96 has bits to zero.
const Bytes kPrefixBits{0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0x03, 0x44, 0xff, 0xff, 0xff, 0xff};

// RFC 8781 §4 layout: type 38, length 2, scaled lifetime << 3 | PLC, 96 prefix bits.
Bytes pref64(unsigned scaled, unsigned plc, const Bytes& prefix = kPrefixBits) {
    const unsigned word = scaled << 3 | plc;
    Bytes b{38, 2, static_cast<std::uint8_t>(word >> 8), static_cast<std::uint8_t>(word)};
    b.insert(b.end(), prefix.begin(), prefix.end());
    return b;
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

// A Prefix Information option (RFC 4861 §4.6.2): type 3, length 4.
Bytes prefix_information() {
    Bytes b(32, 0);
    b[0] = 3;
    b[1] = 4;
    b[2] = 64;
    b[16] = 0x20;
    b[17] = 0x01;
    return b;
}

TEST_CASE("a /96 PREF64 with a lifetime") {
    // 64:ff9b::/96, 1800 s = 225 units of 8 s.
    auto r = parse_pref64_option(
        Bytes{38, 2, 0x07, 0x08, 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0});
    REQUIRE(r);
    CHECK(r->prefix == p6("64:ff9b::/96"));
    CHECK(r->lifetime_seconds == 1800);
}

TEST_CASE("lifetime: zero withdraws, 8191 units is the maximum") {
    auto zero = parse_pref64_option(pref64(0, 0));
    REQUIRE(zero);
    CHECK(zero->lifetime_seconds == 0);
    auto max = parse_pref64_option(pref64(8191, 5));
    REQUIRE(max);
    CHECK(max->lifetime_seconds == 65528);
    CHECK(max->prefix == p6("2001:db8::/32"));
}

TEST_CASE("each prefix length code, with the bits past the prefix zeroed") {
    struct Case {
        unsigned plc;
        const char* prefix;
    };
    for (auto c : {Case{0, "2001:db8:122:344:ffff:ffff::/96"}, Case{1, "2001:db8:122:344::/64"},
                   Case{2, "2001:db8:122:300::/56"}, Case{3, "2001:db8:122::/48"},
                   Case{4, "2001:db8:100::/40"}, Case{5, "2001:db8::/32"}}) {
        CAPTURE(c.plc);
        auto r = parse_pref64_option(pref64(100, c.plc));
        REQUIRE(r);
        CHECK(r->prefix == p6(c.prefix));
        CHECK(r->lifetime_seconds == 800);
    }
}

TEST_CASE("reserved prefix length codes 6 and 7 are refused") {
    for (unsigned plc : {6u, 7u}) {
        auto r = parse_pref64_option(pref64(100, plc));
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("prefix length code " + std::to_string(plc)) !=
              std::string::npos);
    }
}

TEST_CASE("truncated input, a wrong type and a wrong length are refused") {
    const Bytes full = pref64(100, 0);
    for (std::size_t n : {0u, 1u, 2u, 3u, 4u, 8u, 15u}) {
        CAPTURE(n);
        auto r = parse_pref64_option(std::span(full).first(n));
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("truncated") != std::string::npos);
    }
    Bytes wrong_type = full;
    wrong_type[0] = 3;
    CHECK_FALSE(parse_pref64_option(wrong_type));
    for (std::uint8_t length : {0, 1, 3, 255}) {
        CAPTURE(int{length});
        Bytes b = full;
        b[1] = length;
        b.resize(std::max<std::size_t>(16, length * 8u));
        auto r = parse_pref64_option(b);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("length") != std::string::npos);
    }
}

TEST_CASE("bytes after the option are not part of it") {
    Bytes b = concat({pref64(1, 0), prefix_information()});
    auto r = parse_pref64_option(b);
    REQUIRE(r);
    CHECK(r->lifetime_seconds == 8);
}

TEST_CASE("an option list yields the valid PREF64 options in order") {
    const Bytes source_lladdr{1, 1, 0x02, 0x00, 0x5e, 0x00, 0x53, 0x01};
    auto list = concat({prefix_information(), pref64(10, 1), source_lladdr, pref64(10, 7),
                        pref64(20, 0, Bytes{0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})});
    auto found = pref64_options(list);
    REQUIRE(found.size() == 2);
    CHECK(found[0] == Pref64Option{p6("2001:db8:122:344::/64"), 80});
    CHECK(found[1] == Pref64Option{p6("64:ff9b::/96"), 160});
}

TEST_CASE("a PREF64 of the wrong length is skipped, the options after it are still read") {
    Bytes long_pref64 = pref64(10, 0);
    long_pref64[1] = 3;
    long_pref64.resize(24);
    auto found = pref64_options(concat({long_pref64, pref64(30, 5)}));
    REQUIRE(found.size() == 1);
    CHECK(found[0].prefix == p6("2001:db8::/32"));
}

TEST_CASE("a malformed option list stops the walk") {
    CHECK(pref64_options(Bytes{}).empty());
    // Length 0 (RFC 4861 §4.6: invalid) before a valid PREF64: nothing after it is read.
    CHECK(pref64_options(concat({Bytes{3, 0, 0, 0, 0, 0, 0, 0}, pref64(10, 0)})).empty());
    auto before = pref64_options(concat({pref64(10, 0), Bytes{3, 0}, pref64(20, 0)}));
    REQUIRE(before.size() == 1);
    CHECK(before[0].lifetime_seconds == 80);
    // An option claiming more bytes than are left.
    Bytes cut = pref64(10, 0);
    cut.pop_back();
    CHECK(pref64_options(cut).empty());
    CHECK(pref64_options(concat({prefix_information(), Bytes{38, 4, 0, 0}})).empty());
    // A lone trailing byte is ignored.
    CHECK(pref64_options(concat({pref64(10, 0), Bytes{38}})).size() == 1);
}

}  // namespace
}  // namespace clat::test
