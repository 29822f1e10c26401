#pragma once
/// Derivation of the CLAT IPv6 address from the PLAT-facing device's addresses, as the Perl
/// clatd manual describes (clat-v6-addr=derived).

#include <cstdint>
#include <functional>
#include <vector>

#include "states/facts.hpp"
#include "states/ip.hpp"
#include "states/result.hpp"

namespace clat {

/// Source of randomness for interface identifiers; injectable for tests.
using RandomSource = std::function<std::uint64_t()>;

/// Longest prefix that still gets a random interface identifier (the Perl manual: "/120 or
/// smaller", as longer ones risk collisions).
inline constexpr int kMaxRandomIidPrefixLength = 120;
/// Random identifiers drawn per prefix before giving up on it (each may be taken or reserved).
inline constexpr int kRandomIidAttempts = 16;

struct ClatAddressChoice {
    Ipv6Address address;
    Ipv6Address derived_from;  ///< the host address it was derived from
    int prefix_length = 64;    ///< that address's prefix length
    bool slaac = false;        ///< derived by the fffe → c1a7 substitution
    bool operator==(const ClatAddressChoice&) const = default;
};

/// Picks the CLAT IPv6 address from candidates (the PLAT-facing device's addresses):
/// - SLAAC global /64 addresses (IID xx:xxff:fexx:xxxx): fffe → c1a7;
/// - otherwise a global address with prefix length ≤ 120: its IID replaced by a random one;
/// - among several, the one sharing the longest prefix with plat_prefix;
/// - never a ULA when the PLAT prefix is global; tentative/failed addresses are skipped;
/// - `avoid` lists addresses that must not be produced (e.g. after a DAD conflict); the
///   candidates' own addresses are never produced either. A SLAAC address whose c1a7 form is
///   excluded gets a random identifier on the same /64 instead;
/// - deprecated addresses are used only when nothing else is (a renumbered uplink moves on);
/// - random identifiers never form the Subnet-Router or RFC 2526 reserved anycast addresses;
///   random() is called once per draw, twice (low then high 64 bits) for prefixes below /64.
/// An error explains why nothing was usable.
Result<ClatAddressChoice> derive_clat_address(const std::vector<AddressV6>& candidates,
                                              const Ipv6Prefix& plat_prefix,
                                              const RandomSource& random,
                                              const std::vector<Ipv6Address>& avoid = {});

}  // namespace clat
