#pragma once
/// RFC 8781: the PREF64 Router Advertisement option (type 38), parsed from raw bytes.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "states/ip.hpp"
#include "states/result.hpp"

namespace clat {

inline constexpr std::uint8_t kPref64OptionType = 38;

struct Pref64Option {
    Ipv6Prefix prefix;
    std::uint32_t lifetime_seconds = 0;  ///< scaled lifetime × 8; 0 withdraws the prefix
    bool operator==(const Pref64Option&) const = default;
};

/// Parses one option (type, length in 8-octet units, payload) from its first byte. Errors for
/// a wrong type, a length other than 2 (16 bytes), truncated input, or a PLC other than 0–5.
Result<Pref64Option> parse_pref64_option(std::span<const std::uint8_t> option);

/// Walks a sequence of RA options (as in RTM_NEWNDUSEROPT) and returns every valid PREF64
/// option; other options are skipped, a malformed option list stops the walk.
std::vector<Pref64Option> pref64_options(std::span<const std::uint8_t> options);

}  // namespace clat
