#pragma once
/// RFC 6052 §2.2: IPv4-embedded IPv6 addresses for prefix lengths 32, 40, 48, 56, 64 and 96.
/// Bits 64..71 (the "u" octet) are always zero and are skipped when embedding.

#include <optional>

#include "states/ip.hpp"

namespace clat {

/// True for the six prefix lengths RFC 6052 allows.
bool is_rfc6052_length(int length);

/// Embeds v4 into prefix; nullopt if the prefix length is not an RFC 6052 length.
std::optional<Ipv6Address> embed_ipv4(const Ipv6Prefix& prefix, const Ipv4Address& v4);

/// Extracts the IPv4 address embedded in a at the position given by prefix_length; nullopt if
/// the length is not an RFC 6052 length.
std::optional<Ipv4Address> extract_ipv4(const Ipv6Address& a, int prefix_length);

}  // namespace clat
