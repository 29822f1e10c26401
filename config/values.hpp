#pragma once
/// Typed value parsers for configuration keys. Each returns the value or an Error whose message
/// describes only the value (e.g. "'abc' is not an integer"); the caller prefixes the place and
/// the key.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "states/ip.hpp"
#include "states/result.hpp"

namespace clat::config {

/// Strips leading and trailing blanks (space, tab, CR, LF, FF, VT).
std::string_view trim(std::string_view text);

/// 1/0, yes/no, true/false, on/off, in any letter case.
Result<bool> parse_bool(std::string_view text);

/// A non-negative integer, decimal or 0x-hexadecimal, no greater than max.
Result<std::uint32_t> parse_uint(std::string_view text, std::uint32_t max = UINT32_MAX);

/// A duration in decimal seconds with at most 3 decimals ("1", "0.05", "2.5"), returned in
/// milliseconds, from min_ms to max_ms.
Result<std::uint32_t> parse_seconds_ms(std::string_view text, std::uint32_t min_ms,
                                       std::uint32_t max_ms);

/// Milliseconds as the shortest decimal seconds that parse_seconds_ms reads back: 50 ->
/// "0.05", 1500 -> "1.5", 1000 -> "1".
std::string seconds_text(std::uint32_t ms);

/// A dotted-quad IPv4 address.
Result<Ipv4Address> parse_ipv4(std::string_view text);

/// An IPv6 address usable as a unicast host address (not ::, ::1 or multicast).
Result<Ipv6Address> parse_ipv6_unicast(std::string_view text);

/// An IPv6 translation prefix: ADDRESS/LENGTH with one of the RFC 6052 §2.2 lengths (32, 40,
/// 48, 56, 64, 96) and no bits set beyond the length.
Result<Ipv6Prefix> parse_rfc6052_prefix(std::string_view text);

/// A comma-separated list of DNS servers (blanks around items allowed; each as
/// parse_dns_server reads it: an address, optionally a port, and for a link-local IPv6 address
/// its %interface), returned in canonical text form (DnsServer::to_string). An address and
/// port given twice is an error.
Result<std::vector<std::string>> parse_address_list(std::string_view text);

/// A Linux network interface name that also works in /proc/sys paths, tayga.conf and the
/// firewall tools' commands: 1 to 15 bytes, no '/', ':', blanks, quotes ('"', '\''), '\\',
/// '%' or control characters, not "." or "..".
Result<std::string> parse_ifname(std::string_view text);

/// The longest script-up/script-down: the kernel copies each argument and environment string
/// of execve() with a limit of MAX_ARG_STRLEN (131072 bytes with its NUL), and a script is
/// both `/bin/sh -c SCRIPT` and the environment variable `script_down=SCRIPT`.
inline constexpr std::size_t kMaxScriptBytes = 131072 - 1 - std::string_view("script_down=").size();

/// A shell command for script-up/script-down: at most kMaxScriptBytes, no NUL byte.
Result<std::string> parse_script(std::string_view text);

}  // namespace clat::config
