#include "config/values.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "states/dns_server.hpp"

namespace clat::config {
namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string quoted(std::string_view text) {
    return "'" + std::string(text) + "'";
}

int digit_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

// The six prefix lengths of RFC 6052 §2.2.
bool is_translation_length(int length) {
    constexpr std::array<int, 6> kLengths{32, 40, 48, 56, 64, 96};
    return std::find(kLengths.begin(), kLengths.end(), length) != kLengths.end();
}

}  // namespace

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_blank(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_blank(text.back()))
        text.remove_suffix(1);
    return text;
}

Result<bool> parse_bool(std::string_view text) {
    const std::string v = lower(text);
    if (v == "1" || v == "yes" || v == "true" || v == "on")
        return true;
    if (v == "0" || v == "no" || v == "false" || v == "off")
        return false;
    return make_error(quoted(text) + " is not a boolean (use 1/0, yes/no, true/false or on/off)");
}

Result<std::uint32_t> parse_uint(std::string_view text, std::uint32_t max) {
    std::string_view digits = text;
    unsigned base = 10;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
        digits.remove_prefix(2);
        base = 16;
    }
    if (digits.empty())
        return make_error(quoted(text) + " is not an integer");
    std::uint64_t value = 0;
    for (char c : digits) {
        const int d = digit_value(c);
        if (d >= static_cast<int>(base))
            return make_error(quoted(text) + " is not an integer");
        value = value * base + static_cast<unsigned>(d);
        if (value > max)
            return make_error(quoted(text) + " is out of range (0 to " + std::to_string(max) + ")");
    }
    return static_cast<std::uint32_t>(value);
}

Result<std::uint32_t> parse_seconds_ms(std::string_view text, std::uint32_t min_ms,
                                       std::uint32_t max_ms) {
    const auto dot = text.find('.');
    const std::string_view whole = text.substr(0, dot);
    const std::string_view fraction =
        dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
    auto is_digits = [](std::string_view s) {
        return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (whole.empty() || !is_digits(whole) || !is_digits(fraction) ||
        (dot != std::string_view::npos && fraction.empty()))
        return make_error(quoted(text) + " is not a number of seconds");
    if (fraction.size() > 3)
        return make_error(quoted(text) + " has more than 3 decimals (milliseconds)");
    std::uint64_t ms = 0;
    for (char c : whole) {
        ms = ms * 10 + static_cast<unsigned>(c - '0');
        if (ms > max_ms)
            break;
    }
    ms *= 1000;
    std::uint64_t scale = 100;
    for (char c : fraction) {
        ms += static_cast<unsigned>(c - '0') * scale;
        scale /= 10;
    }
    if (ms < min_ms || ms > max_ms)
        return make_error(quoted(text) + " is out of range (" + seconds_text(min_ms) + " to " +
                          seconds_text(max_ms) + " seconds)");
    return static_cast<std::uint32_t>(ms);
}

std::string seconds_text(std::uint32_t ms) {
    std::string out = std::to_string(ms / 1000);
    if (ms % 1000 != 0) {
        std::string fraction = std::to_string(1000 + ms % 1000).substr(1);
        while (fraction.back() == '0')
            fraction.pop_back();
        out += "." + fraction;
    }
    return out;
}

Result<Ipv4Address> parse_ipv4(std::string_view text) {
    auto a = Ipv4Address::parse(text);
    if (!a)
        return make_error(quoted(text) + " is not an IPv4 address");
    return *a;
}

Result<Ipv6Address> parse_ipv6_unicast(std::string_view text) {
    auto a = Ipv6Address::parse(text);
    if (!a)
        return make_error(quoted(text) + " is not an IPv6 address");
    if (a->is_unspecified() || a->is_loopback() || a->is_multicast())
        return make_error(std::string(text) + " is not a unicast address");
    return *a;
}

Result<Ipv6Prefix> parse_rfc6052_prefix(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos || !Ipv6Address::parse(text.substr(0, slash)) ||
        !Ipv6Prefix::parse(text, true))
        return make_error(quoted(text) + " is not an IPv6 prefix (ADDRESS/LENGTH)");
    auto prefix = Ipv6Prefix::parse(text);
    if (!prefix)
        return make_error(std::string(text) + " has bits set beyond the prefix length");
    if (!is_translation_length(prefix->length))
        return make_error(std::string(text) +
                          " is not an RFC 6052 prefix length (32, 40, 48, 56, 64 or 96)");
    // RFC 6052 §2.2: bits 64 to 71 (the "u" octet) must be zero; only a /96 covers them.
    if (prefix->length == 96 && prefix->address.bytes[8] != 0)
        return make_error(std::string(text) +
                          " has bits 64 to 71 set, which RFC 6052 section 2.2 reserves");
    return *prefix;
}

Result<std::vector<std::string>> parse_address_list(std::string_view text) {
    std::vector<std::string> out;
    std::vector<DnsServer> seen;
    std::size_t start = 0;
    for (;;) {
        const auto comma = text.find(',', start);
        const auto item =
            trim(text.substr(start, comma == std::string_view::npos ? comma : comma - start));
        if (item.empty())
            return make_error(quoted(text) + " has an empty item");
        auto server = parse_dns_server(item);
        if (!server)
            return server.error();
        // The scope is not part of what c-ares tells the socket layer, so two entries may
        // not differ in it alone (see the resolver's connect hook).
        for (const auto& other : seen) {
            if (other.address == server->address && other.port == server->port)
                return make_error(quoted(item) + " repeats the address and port of " +
                                  quoted(other.to_string()));
        }
        seen.push_back(*server);
        out.push_back(server->to_string());
        if (comma == std::string_view::npos)
            return out;
        start = comma + 1;
    }
}

Result<std::string> parse_ifname(std::string_view text) {
    // The kernel's dev_valid_name(): 1 to 15 bytes (IFNAMSIZ 16 with the NUL), no '/', ':' or
    // white space, not "." or "..". Stricter than the kernel: the name also goes into
    // /proc/sys paths, tayga.conf (blank-separated words), the firewall tools' rule language
    // (quoted words) and log lines, so quotes, backslashes, '%' and control bytes are refused.
    if (text.empty())
        return make_error("an interface name cannot be empty");
    if (text.size() > 15)
        return make_error(quoted(text) + " is longer than 15 characters");
    if (text == "." || text == "..")
        return make_error(quoted(text) + " is not a valid interface name");
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '/' || c == ':' || is_blank(c))
            return make_error(quoted(text) + " is not a valid interface name");
        if (u < 0x20 || u == 0x7f || c == '"' || c == '\'' || c == '\\' || c == '%')
            return make_error(quoted(text) +
                              " is not a usable interface name (it has a quote, a backslash, "
                              "'%' or a control character)");
    }
    return std::string(text);
}

Result<std::string> parse_script(std::string_view text) {
    if (text.size() > kMaxScriptBytes)
        return make_error("the script is " + std::to_string(text.size()) +
                          " bytes long, more than the " + std::to_string(kMaxScriptBytes) +
                          " that execve() accepts in one argument (MAX_ARG_STRLEN)");
    if (text.find('\0') != std::string_view::npos)
        return make_error("the script has a NUL byte");
    return std::string(text);
}

}  // namespace clat::config
