#include "states/rfc6052.hpp"

#include <array>
#include <cstddef>

namespace clat {
namespace {

// RFC 6052 §2.2: bits 64..71 ("u") are never part of the embedded IPv4 address.
constexpr std::size_t kUOctet = 8;

// The four byte offsets that hold the IPv4 address for a prefix of the given length.
std::array<std::size_t, 4> ipv4_offsets(int length) {
    std::array<std::size_t, 4> out{};
    auto pos = static_cast<std::size_t>(length / 8);
    for (auto& o : out) {
        if (pos == kUOctet)
            ++pos;
        o = pos++;
    }
    return out;
}

}  // namespace

bool is_rfc6052_length(int length) {
    switch (length) {
        case 32:
        case 40:
        case 48:
        case 56:
        case 64:
        case 96:
            return true;
        default:
            return false;
    }
}

std::optional<Ipv6Address> embed_ipv4(const Ipv6Prefix& prefix, const Ipv4Address& v4) {
    if (!is_rfc6052_length(prefix.length))
        return std::nullopt;
    // Masking zeroes the u-octet and the suffix for every length below 96.
    Ipv6Address a = mask(prefix.address, prefix.length);
    const auto offsets = ipv4_offsets(prefix.length);
    for (std::size_t i = 0; i < offsets.size(); ++i)
        a.bytes[offsets[i]] = v4.bytes[i];
    return a;
}

std::optional<Ipv4Address> extract_ipv4(const Ipv6Address& a, int prefix_length) {
    if (!is_rfc6052_length(prefix_length))
        return std::nullopt;
    Ipv4Address v4;
    const auto offsets = ipv4_offsets(prefix_length);
    for (std::size_t i = 0; i < offsets.size(); ++i)
        v4.bytes[i] = a.bytes[offsets[i]];
    return v4;
}

}  // namespace clat
