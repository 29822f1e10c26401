#pragma once
/// RFC 7050 §3: learning the NAT64 prefix from the AAAA answers for "ipv4only.arpa".

#include <optional>
#include <vector>

#include "states/ip.hpp"

namespace clat {

/// The name to query and the two well-known IPv4 addresses synthesised into its answers.
inline constexpr const char* kIpv4OnlyName = "ipv4only.arpa";
inline constexpr Ipv4Address kWellKnownV4a{{192, 0, 0, 170}};
inline constexpr Ipv4Address kWellKnownV4b{{192, 0, 0, 171}};

struct Rfc7050Result {
    Ipv6Prefix prefix;            ///< the prefix chosen (see prefix_from_answers), suffix zeroed
    bool ambiguous = false;       ///< answers held more than one different prefix
    std::vector<Ipv6Prefix> all;  ///< every distinct prefix found, lowest first
    bool operator==(const Rfc7050Result&) const = default;
};

/// Examines every AAAA answer; finds 192.0.0.170 or .171 at each RFC 6052 position (/96 first
/// down to /32, the u-octet skipped). Per answer the longest matching length wins, and a
/// length below /96 only matches when the u-octet is zero: with the RFC 6052 zero suffix a
/// false match can only appear at a shorter length, where the Pref64 itself holds the bit
/// pattern of a well-known address. Answers that are not synthesised are ignored; nullopt
/// when none is.
///
/// Several different prefixes (e.g. a BIND with two dns64 blocks, which answers them in random
/// order): RFC 7050 §3 leaves the choice to the node. Ours does not depend on the order of
/// the answers, so that the prefix does not flap from one answer to the next: `keep` (the
/// prefix in use) while it is among them, otherwise the lowest, comparing the addresses as
/// 128-bit numbers and, for equal addresses, the shorter prefix first.
std::optional<Rfc7050Result> prefix_from_answers(
    const std::vector<Ipv6Address>& answers, const std::optional<Ipv6Prefix>& keep = std::nullopt);

}  // namespace clat
