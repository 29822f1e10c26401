#include "states/pref64.hpp"

#include <array>
#include <string>

namespace clat {
namespace {

// RFC 8781 §4: Type, Length, Scaled Lifetime (13 bits) + PLC (3 bits), 96 prefix bits.
constexpr std::size_t kPref64Bytes = 16;
constexpr std::uint8_t kPref64Length = 2;
constexpr std::size_t kOptionUnit = 8;

// RFC 8781 §4: Prefix Length Code 0..5.
constexpr std::array<int, 6> kPlcLengths{96, 64, 56, 48, 40, 32};

}  // namespace

Result<Pref64Option> parse_pref64_option(std::span<const std::uint8_t> option) {
    if (option.size() < 2)
        return make_error("PREF64 option truncated: " + std::to_string(option.size()) +
                          " bytes, need 16");
    if (option[0] != kPref64OptionType)
        return make_error("not a PREF64 option: type " + std::to_string(option[0]));
    // RFC 8781 §4: "the receiver MUST ignore the PREF64 option if the Length field value is
    // not 2".
    if (option[1] != kPref64Length)
        return make_error("PREF64 option length " + std::to_string(option[1]) +
                          " (units of 8 octets), must be 2");
    if (option.size() < kPref64Bytes)
        return make_error("PREF64 option truncated: " + std::to_string(option.size()) +
                          " bytes, need 16");
    const unsigned word = unsigned{option[2]} << 8 | option[3];
    const unsigned plc = word & 0x7u;
    if (plc >= kPlcLengths.size())
        return make_error("PREF64 option with reserved prefix length code " + std::to_string(plc));
    Ipv6Address address;
    for (std::size_t i = 0; i < 12; ++i)
        address.bytes[i] = option[4 + i];
    Pref64Option out;
    // RFC 8781 §4: bits beyond the prefix length are ignored by the receiver.
    out.prefix = Ipv6Prefix::make(address, kPlcLengths[plc]);
    out.lifetime_seconds = (word >> 3) * 8;
    return out;
}

std::vector<Pref64Option> pref64_options(std::span<const std::uint8_t> options) {
    std::vector<Pref64Option> out;
    while (options.size() >= 2) {
        const std::size_t bytes = std::size_t{options[1]} * kOptionUnit;
        // RFC 4861 §4.6: a zero length is invalid, and one running past the end means the
        // rest cannot be delimited; either way nothing after it can be trusted.
        if (bytes == 0 || bytes > options.size())
            break;
        if (options[0] == kPref64OptionType) {
            auto parsed = parse_pref64_option(options.first(bytes));
            if (parsed)
                out.push_back(*parsed);
        }
        options = options.subspan(bytes);
    }
    return out;
}

}  // namespace clat
