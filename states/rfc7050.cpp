#include "states/rfc7050.hpp"

#include <algorithm>
#include <array>

#include "states/rfc6052.hpp"

namespace clat {
namespace {

// Longest first: a synthesised address whose suffix is zero (RFC 6052 §2.2 "SHOULD") can only
// show a well-known address at a position *shorter* than its true one, and only when the
// Pref64 itself happens to hold the bit pattern 192.0.0.170/171. Trying /96 first therefore
// never takes such a coincidence for the prefix.
constexpr std::array<int, 6> kLengthsLongestFirst{96, 64, 56, 48, 40, 32};

bool is_well_known(const Ipv4Address& v4) {
    return v4 == kWellKnownV4a || v4 == kWellKnownV4b;
}

std::optional<Ipv6Prefix> prefix_of(const Ipv6Address& answer) {
    for (int length : kLengthsLongestFirst) {
        // RFC 6052 §2.2: the u-octet MUST be zero; below /96 it lies outside the prefix, so a
        // non-zero one rules that length out.
        if (length < 96 && answer.bytes[8] != 0)
            continue;
        auto v4 = extract_ipv4(answer, length);
        if (v4 && is_well_known(*v4))
            return Ipv6Prefix::make(answer, length);
    }
    return std::nullopt;
}

}  // namespace

std::optional<Rfc7050Result> prefix_from_answers(const std::vector<Ipv6Address>& answers,
                                                 const std::optional<Ipv6Prefix>& keep) {
    Rfc7050Result result;
    for (const auto& answer : answers) {
        auto prefix = prefix_of(answer);
        if (!prefix)
            continue;
        if (std::find(result.all.begin(), result.all.end(), *prefix) == result.all.end())
            result.all.push_back(*prefix);
    }
    if (result.all.empty())
        return std::nullopt;
    // Ipv6Prefix orders by address bytes (big-endian: as numbers), then by length.
    std::sort(result.all.begin(), result.all.end());
    const bool kept =
        keep && std::find(result.all.begin(), result.all.end(), *keep) != result.all.end();
    result.prefix = kept ? *keep : result.all.front();
    result.ambiguous = result.all.size() > 1;
    return result;
}

}  // namespace clat
