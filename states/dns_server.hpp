#pragma once
/// DNS server addresses as clatd reads them from `dns64-servers` and from resolv.conf(5)
/// (SPEC §5). Pure: text in, values and errors out; reading the file is the adapter's job.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "states/ip.hpp"
#include "states/result.hpp"

namespace clat {

/// One DNS server: an address, a port and, for a link-local IPv6 address (fe80::/10), the
/// interface it is reached on, which such an address is meaningless without (RFC 4007 §6).
struct DnsServer {
    std::variant<Ipv4Address, Ipv6Address> address;
    std::uint16_t port = 53;
    std::string scope;  ///< link-local only: an interface name, or its index in decimal

    /// Canonical text, read back by parse_dns_server: 192.0.2.53, 192.0.2.53:5353,
    /// 2001:db8::53, [2001:db8::53]:5353, fe80::1%eth0, [fe80::1%eth0]:5353.
    std::string to_string() const;
    bool operator==(const DnsServer&) const = default;
};

/// Parses "ADDR", "ADDR:PORT" (IPv4), "[ADDR]" or "[ADDR]:PORT" (IPv6), where an IPv6 ADDR
/// may end in "%IFACE"; "[ADDR]:PORT%IFACE" (systemd's and newer c-ares' spelling) is read
/// the same. A link-local address needs its interface, and only a link-local one may name
/// one. The error says what is wrong with `text`, without naming where it came from.
Result<DnsServer> parse_dns_server(std::string_view text);

/// What resolv.conf(5) gives for DNS: its `nameserver` lines, in order.
struct ResolvConf {
    std::vector<DnsServer> servers;  ///< the usable ones, duplicates dropped
    /// One entry per nameserver line that was skipped: "line N: why".
    std::vector<std::string> problems;
    int nameserver_lines = 0;  ///< nameserver lines seen, usable or not
};

/// Reads the nameserver lines of a resolv.conf as glibc does (keyword at the start of the
/// line, the address is the next word; `#` and `;` start comments), also accepting a port
/// ("[2001:db8::53]:5353", as c-ares ≥ 1.22 does) and a scope ("fe80::1%eth0", as glibc
/// does). Other keywords are ignored.
ResolvConf parse_resolv_conf(std::string_view text);

}  // namespace clat
