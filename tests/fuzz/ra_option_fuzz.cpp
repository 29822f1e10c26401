/// Fuzzes the PREF64 option reader (states/pref64.hpp, RFC 8781 §4) with raw Router
/// Advertisement option bytes: one option on its own, and the option walk.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "states/pref64.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

// RFC 8781 §4: the lifetime field is 13 bits counting units of 8 seconds.
constexpr std::uint32_t kMaxLifetime = 8191 * 8;
constexpr std::array<int, 6> kPlcLengths{96, 64, 56, 48, 40, 32};

void check_option(const clat::Pref64Option& option) {
    const std::string text = option.prefix.to_string();
    FUZZ_CHECK(option.lifetime_seconds % 8 == 0 && option.lifetime_seconds <= kMaxLifetime, text);
    bool plc_length = false;
    for (int length : kPlcLengths)
        plc_length = plc_length || option.prefix.length == length;
    FUZZ_CHECK(plc_length, text);
    FUZZ_CHECK(clat::Ipv6Prefix::make(option.prefix.address, option.prefix.length) == option.prefix,
               text);
}

// The option must say exactly what its 16 bytes say (RFC 8781 §4 layout).
void check_against_bytes(const clat::Pref64Option& option, std::span<const std::uint8_t> raw) {
    FUZZ_CHECK(raw.size() >= 16 && raw[0] == clat::kPref64OptionType && raw[1] == 2);
    const unsigned word = unsigned{raw[2]} << 8 | raw[3];
    FUZZ_CHECK((word & 7u) < kPlcLengths.size());
    FUZZ_CHECK(option.prefix.length == kPlcLengths[word & 7u], option.prefix.to_string());
    FUZZ_CHECK(option.lifetime_seconds == (word >> 3) * 8);
    clat::Ipv6Address address;
    for (std::size_t i = 0; i < 12; ++i)
        address.bytes[i] = raw[4 + i];
    FUZZ_CHECK(clat::Ipv6Prefix::make(address, option.prefix.length) == option.prefix);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    if (auto one = clat::parse_pref64_option(bytes)) {
        check_option(*one);
        check_against_bytes(*one, bytes);
    } else {
        FUZZ_CHECK(!one.error().message.empty());
    }

    const std::vector<clat::Pref64Option> all = clat::pref64_options(bytes);
    FUZZ_CHECK(all.size() <= size / 16, std::to_string(all.size()));
    // Each option found is one whose bytes start on an 8-octet boundary (RFC 4861 §4.6).
    std::size_t from = 0;
    for (const auto& option : all) {
        check_option(option);
        bool found = false;
        for (; !found && from + 16 <= size; from += 8) {
            auto parsed = clat::parse_pref64_option(bytes.subspan(from, 16));
            found = parsed && *parsed == option;
        }
        FUZZ_CHECK(found, option.prefix.to_string() + " not at an 8-octet boundary, in order");
    }
    return 0;
}
