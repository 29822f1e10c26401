#pragma once
/// IPv4/IPv6 address and prefix value types: parse, format, compare, mask. Pure; no libc
/// networking headers, so that the core stays free of C library dependencies.

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace clat {

/// An IPv4 address in network byte order.
struct Ipv4Address {
    std::array<std::uint8_t, 4> bytes{};

    static std::optional<Ipv4Address> parse(std::string_view text);
    static Ipv4Address from_u32(std::uint32_t host_order);
    std::uint32_t to_u32() const;
    std::string to_string() const;
    bool is_unspecified() const { return to_u32() == 0; }
    auto operator<=>(const Ipv4Address&) const = default;
};

/// An IPv6 address in network byte order.
struct Ipv6Address {
    std::array<std::uint8_t, 16> bytes{};

    static std::optional<Ipv6Address> parse(std::string_view text);
    /// RFC 5952 canonical text form.
    std::string to_string() const;
    bool is_unspecified() const;
    bool is_link_local() const { return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80; }
    bool is_ula() const { return (bytes[0] & 0xfe) == 0xfc; }
    bool is_multicast() const { return bytes[0] == 0xff; }
    bool is_loopback() const;
    /// Global unicast in the sense used for CLAT derivation: not unspecified, loopback,
    /// link-local, multicast or ULA.
    bool is_global_unicast() const;
    /// The 64-bit interface identifier (low 64 bits), host order.
    std::uint64_t interface_id() const;
    auto operator<=>(const Ipv6Address&) const = default;
};

/// Number of leading bits two IPv6 addresses share.
int common_prefix_length(const Ipv6Address& a, const Ipv6Address& b);

/// An IPv4 prefix; the address is always masked to the length.
struct Ipv4Prefix {
    Ipv4Address address;
    int length = 0;

    /// Parses "a.b.c.d/len"; a bare address is a /32. Host bits must be zero unless
    /// allow_host_bits (then they are masked off).
    static std::optional<Ipv4Prefix> parse(std::string_view text, bool allow_host_bits = false);
    static Ipv4Prefix make(Ipv4Address address, int length);
    bool contains(const Ipv4Address& a) const;
    std::string to_string() const;
    auto operator<=>(const Ipv4Prefix&) const = default;
};

/// An IPv6 prefix; the address is always masked to the length.
struct Ipv6Prefix {
    Ipv6Address address;
    int length = 0;

    /// Parses "addr/len"; a bare address is a /128. Host bits must be zero unless
    /// allow_host_bits (then they are masked off).
    static std::optional<Ipv6Prefix> parse(std::string_view text, bool allow_host_bits = false);
    static Ipv6Prefix make(Ipv6Address address, int length);
    bool contains(const Ipv6Address& a) const;
    std::string to_string() const;
    auto operator<=>(const Ipv6Prefix&) const = default;
};

Ipv4Address mask(Ipv4Address a, int length);
Ipv6Address mask(Ipv6Address a, int length);

}  // namespace clat

template <>
struct std::hash<clat::Ipv6Address> {
    std::size_t operator()(const clat::Ipv6Address& a) const noexcept {
        std::size_t h = 1469598103934665603ULL;
        for (auto b : a.bytes)
            h = (h ^ b) * 1099511628211ULL;
        return h;
    }
};
