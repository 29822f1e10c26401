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
/// - `avoid` lists addresses that must not be produced (e.g. after a DAD conflict).
/// An error explains why nothing was usable.
Result<ClatAddressChoice> derive_clat_address(const std::vector<AddressV6>& candidates,
                                              const Ipv6Prefix& plat_prefix,
                                              const RandomSource& random,
                                              const std::vector<Ipv6Address>& avoid = {});

}  // namespace clat
