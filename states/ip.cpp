#include "states/ip.hpp"

#include <charconv>
#include <cstdio>
#include <vector>

namespace clat {
namespace {

std::optional<int> parse_decimal(std::string_view s, int max) {
    if (s.empty() || s.size() > 3)
        return std::nullopt;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return std::nullopt;
        v = v * 10 + (c - '0');
    }
    if (v > max)
        return std::nullopt;
    return v;
}

std::optional<int> hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return std::nullopt;
}

std::optional<std::uint16_t> parse_hextet(std::string_view s) {
    if (s.empty() || s.size() > 4)
        return std::nullopt;
    unsigned v = 0;
    for (char c : s) {
        auto d = hex_digit(c);
        if (!d)
            return std::nullopt;
        v = v * 16 + static_cast<unsigned>(*d);
    }
    return static_cast<std::uint16_t>(v);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        auto pos = s.find(sep, start);
        if (pos == std::string_view::npos) {
            out.push_back(s.substr(start));
            return out;
        }
        out.push_back(s.substr(start, pos - start));
        start = pos + 1;
    }
}

// Parses a run of colon-separated groups (no "::" inside) into hextets; the last group may be
// a dotted IPv4 address when allow_v4 is set, which then yields two hextets.
bool parse_groups(std::string_view s, bool allow_v4, std::vector<std::uint16_t>& out) {
    if (s.empty())
        return true;
    auto groups = split(s, ':');
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const bool last = i + 1 == groups.size();
        if (last && allow_v4 && groups[i].find('.') != std::string_view::npos) {
            auto v4 = Ipv4Address::parse(groups[i]);
            if (!v4)
                return false;
            out.push_back(static_cast<std::uint16_t>(v4->bytes[0] << 8 | v4->bytes[1]));
            out.push_back(static_cast<std::uint16_t>(v4->bytes[2] << 8 | v4->bytes[3]));
            continue;
        }
        auto h = parse_hextet(groups[i]);
        if (!h)
            return false;
        out.push_back(*h);
    }
    return true;
}

std::optional<int> parse_length(std::string_view s, int max) {
    if (s.empty() || s.size() > 3)
        return std::nullopt;
    if (s.size() > 1 && s[0] == '0')
        return std::nullopt;
    return parse_decimal(s, max);
}

}  // namespace

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
    auto parts = split(text, '.');
    if (parts.size() != 4)
        return std::nullopt;
    Ipv4Address a;
    for (std::size_t i = 0; i < 4; ++i) {
        // Leading zeros are refused: "010" is octal to inet_aton and decimal to others.
        if (parts[i].size() > 1 && parts[i][0] == '0')
            return std::nullopt;
        auto v = parse_decimal(parts[i], 255);
        if (!v)
            return std::nullopt;
        a.bytes[i] = static_cast<std::uint8_t>(*v);
    }
    return a;
}

Ipv4Address Ipv4Address::from_u32(std::uint32_t v) {
    return Ipv4Address{{static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                        static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)}};
}

std::uint32_t Ipv4Address::to_u32() const {
    return std::uint32_t{bytes[0]} << 24 | std::uint32_t{bytes[1]} << 16 |
           std::uint32_t{bytes[2]} << 8 | std::uint32_t{bytes[3]};
}

std::string Ipv4Address::to_string() const {
    return std::to_string(bytes[0]) + '.' + std::to_string(bytes[1]) + '.' +
           std::to_string(bytes[2]) + '.' + std::to_string(bytes[3]);
}

std::optional<Ipv6Address> Ipv6Address::parse(std::string_view text) {
    if (text.empty() || text.size() > 45)
        return std::nullopt;
    std::vector<std::uint16_t> head;
    std::vector<std::uint16_t> tail;
    const auto gap = text.find("::");
    if (gap == std::string_view::npos) {
        if (!parse_groups(text, true, head) || head.size() != 8)
            return std::nullopt;
    } else {
        if (text.find("::", gap + 1) != std::string_view::npos)
            return std::nullopt;
        auto left = text.substr(0, gap);
        auto right = text.substr(gap + 2);
        if (!parse_groups(left, false, head) || !parse_groups(right, true, tail)) {
            return std::nullopt;
        }
        // "::" stands for at least one zero group.
        if (head.size() + tail.size() > 7)
            return std::nullopt;
    }
    Ipv6Address a;
    std::size_t i = 0;
    for (auto h : head) {
        a.bytes[i++] = static_cast<std::uint8_t>(h >> 8);
        a.bytes[i++] = static_cast<std::uint8_t>(h);
    }
    i = 16 - tail.size() * 2;
    for (auto h : tail) {
        a.bytes[i++] = static_cast<std::uint8_t>(h >> 8);
        a.bytes[i++] = static_cast<std::uint8_t>(h);
    }
    return a;
}

std::string Ipv6Address::to_string() const {
    std::array<unsigned, 8> h{};
    for (std::size_t i = 0; i < 8; ++i)
        h[i] = unsigned{bytes[2 * i]} << 8 | bytes[2 * i + 1];
    // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first if tied.
    int best = -1;
    int best_len = 1;
    for (int i = 0; i < 8;) {
        if (h[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && h[j] == 0)
            ++j;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    std::string out;
    char buf[8];
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':')
            out += ':';
        std::snprintf(buf, sizeof buf, "%x", h[i]);
        out += buf;
    }
    return out;
}

bool Ipv6Address::is_unspecified() const {
    for (auto b : bytes) {
        if (b != 0)
            return false;
    }
    return true;
}

bool Ipv6Address::is_loopback() const {
    for (std::size_t i = 0; i < 15; ++i) {
        if (bytes[i] != 0)
            return false;
    }
    return bytes[15] == 1;
}

bool Ipv6Address::is_global_unicast() const {
    return !is_unspecified() && !is_loopback() && !is_link_local() && !is_multicast() && !is_ula();
}

std::uint64_t Ipv6Address::interface_id() const {
    std::uint64_t v = 0;
    for (std::size_t i = 8; i < 16; ++i)
        v = v << 8 | bytes[i];
    return v;
}

int common_prefix_length(const Ipv6Address& a, const Ipv6Address& b) {
    int n = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        const std::uint8_t x = a.bytes[i] ^ b.bytes[i];
        if (x == 0) {
            n += 8;
            continue;
        }
        for (int bit = 7; bit >= 0 && !(x & (1u << bit)); --bit)
            ++n;
        break;
    }
    return n;
}

Ipv4Address mask(Ipv4Address a, int length) {
    const std::uint32_t m = length <= 0 ? 0 : ~std::uint32_t{0} << (32 - length);
    return Ipv4Address::from_u32(a.to_u32() & m);
}

Ipv6Address mask(Ipv6Address a, int length) {
    for (int i = 0; i < 16; ++i) {
        const int keep = length - i * 8;
        if (keep >= 8)
            continue;
        a.bytes[i] = keep <= 0 ? 0 : static_cast<std::uint8_t>(a.bytes[i] & (0xff << (8 - keep)));
    }
    return a;
}

std::optional<Ipv4Prefix> Ipv4Prefix::parse(std::string_view text, bool allow_host_bits) {
    const auto slash = text.find('/');
    auto addr = Ipv4Address::parse(text.substr(0, slash));
    if (!addr)
        return std::nullopt;
    int len = 32;
    if (slash != std::string_view::npos) {
        auto l = parse_length(text.substr(slash + 1), 32);
        if (!l)
            return std::nullopt;
        len = *l;
    }
    if (!allow_host_bits && mask(*addr, len) != *addr)
        return std::nullopt;
    return make(*addr, len);
}

Ipv4Prefix Ipv4Prefix::make(Ipv4Address address, int length) {
    return Ipv4Prefix{mask(address, length), length};
}

bool Ipv4Prefix::contains(const Ipv4Address& a) const {
    return mask(a, length) == address;
}

std::string Ipv4Prefix::to_string() const {
    return address.to_string() + '/' + std::to_string(length);
}

std::optional<Ipv6Prefix> Ipv6Prefix::parse(std::string_view text, bool allow_host_bits) {
    const auto slash = text.find('/');
    auto addr = Ipv6Address::parse(text.substr(0, slash));
    if (!addr)
        return std::nullopt;
    int len = 128;
    if (slash != std::string_view::npos) {
        auto l = parse_length(text.substr(slash + 1), 128);
        if (!l)
            return std::nullopt;
        len = *l;
    }
    if (!allow_host_bits && mask(*addr, len) != *addr)
        return std::nullopt;
    return make(*addr, len);
}

Ipv6Prefix Ipv6Prefix::make(Ipv6Address address, int length) {
    return Ipv6Prefix{mask(address, length), length};
}

bool Ipv6Prefix::contains(const Ipv6Address& a) const {
    return mask(a, length) == address;
}

std::string Ipv6Prefix::to_string() const {
    return address.to_string() + '/' + std::to_string(length);
}

}  // namespace clat
