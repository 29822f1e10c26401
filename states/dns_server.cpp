#include "states/dns_server.hpp"

#include <algorithm>
#include <optional>

namespace clat {
namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (!all_digits(text) || text.size() > 5)
        return std::nullopt;
    unsigned value = 0;
    for (char c : text)
        value = value * 10 + static_cast<unsigned>(c - '0');
    if (value == 0 || value > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

/// An interface as the kernel names one (dev_valid_name: 1 to 15 bytes, no '/', ':' or
/// blank, not "." or ".."), or an interface index in decimal.
bool valid_scope(std::string_view s) {
    if (all_digits(s))
        return s.size() <= 10 && s != "0";
    if (s.empty() || s.size() > 15 || s == "." || s == "..")
        return false;
    return std::none_of(s.begin(), s.end(),
                        [](char c) { return c == '/' || c == ':' || is_blank(c); });
}

std::string quoted(std::string_view text) {
    return "'" + std::string(text) + "'";
}

Error generic_error(std::string_view text) {
    return make_error(quoted(text) +
                      " is not a DNS server: expected an IPv4 or IPv6 address, optionally with "
                      ":port ([address]:port for IPv6) and, for a link-local address, "
                      "%interface");
}

/// The address part of an IPv6 server, "ADDR" or "ADDR%SCOPE", checked and split.
Result<DnsServer> parse_ipv6_host(std::string_view whole, std::string_view host, std::uint16_t port,
                                  std::string_view scope_after) {
    std::string_view scope = scope_after;
    if (const auto pct = host.find('%'); pct != std::string_view::npos) {
        if (!scope_after.empty())
            return make_error(quoted(whole) + " names its interface twice");
        scope = host.substr(pct + 1);
        host = host.substr(0, pct);
        if (scope.empty())
            return make_error(quoted(whole) + ": the interface after '%' is missing");
    }
    auto v6 = Ipv6Address::parse(host);
    if (!v6)
        return generic_error(whole);
    if (!scope.empty() && !valid_scope(scope))
        return make_error(quoted(whole) + ": " + quoted(scope) +
                          " is not an interface name or index");
    if (v6->is_link_local() && scope.empty())
        return make_error(quoted(whole) +
                          " is a link-local address without an interface; write it as " +
                          v6->to_string() + "%INTERFACE, e.g. " + v6->to_string() + "%eth0");
    if (!v6->is_link_local() && !scope.empty())
        return make_error(quoted(whole) + ": an interface (%" + std::string(scope) +
                          ") is only meaningful for a link-local (fe80::/10) address");
    return DnsServer{*v6, port, std::string(scope)};
}

}  // namespace

std::string DnsServer::to_string() const {
    if (const auto* v4 = std::get_if<Ipv4Address>(&address))
        return port == 53 ? v4->to_string() : v4->to_string() + ":" + std::to_string(port);
    std::string host = std::get<Ipv6Address>(address).to_string();
    if (!scope.empty())
        host += "%" + scope;
    return port == 53 ? host : "[" + host + "]:" + std::to_string(port);
}

Result<DnsServer> parse_dns_server(std::string_view text) {
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos)
            return make_error(quoted(text) + ": missing ']'");
        const std::string_view host = text.substr(1, close - 1);
        std::string_view rest = text.substr(close + 1);
        std::string_view scope_after;
        if (const auto pct = rest.find('%'); pct != std::string_view::npos) {
            scope_after = rest.substr(pct + 1);
            rest = rest.substr(0, pct);
            if (scope_after.empty())
                return make_error(quoted(text) + ": the interface after '%' is missing");
        }
        std::optional<std::uint16_t> port = 53;
        if (!rest.empty())
            port = rest.front() == ':' ? parse_port(rest.substr(1)) : std::nullopt;
        if (!port)
            return generic_error(text);
        return parse_ipv6_host(text, host, *port, scope_after);
    }
    const auto colon = text.find(':');
    if (colon != std::string_view::npos && colon == text.rfind(':')) {
        auto v4 = Ipv4Address::parse(text.substr(0, colon));
        auto port = parse_port(text.substr(colon + 1));
        if (v4 && port)
            return DnsServer{*v4, *port, {}};
        return generic_error(text);
    }
    if (auto v4 = Ipv4Address::parse(text))
        return DnsServer{*v4, 53, {}};
    if (colon == std::string_view::npos)
        return generic_error(text);
    return parse_ipv6_host(text, text, 53, {});
}

ResolvConf parse_resolv_conf(std::string_view text) {
    ResolvConf out;
    std::vector<int> line_of;  // the line each usable server came from
    int line_number = 0;
    while (!text.empty()) {
        const auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
        ++line_number;
        constexpr std::string_view kKeyword = "nameserver";
        // glibc: the keyword starts the line and is followed by a blank.
        if (line.substr(0, kKeyword.size()) != kKeyword || line.size() == kKeyword.size() ||
            !is_blank(line[kKeyword.size()]))
            continue;
        line.remove_prefix(kKeyword.size());
        while (!line.empty() && is_blank(line.front()))
            line.remove_prefix(1);
        const auto end = line.find_first_of(" \t\r\f\v;#");
        const std::string_view word = line.substr(0, end);
        ++out.nameserver_lines;
        const std::string where = "line " + std::to_string(line_number) + ": ";
        if (word.empty()) {
            out.problems.push_back(where + "nameserver without an address");
            continue;
        }
        auto server = parse_dns_server(word);
        if (!server) {
            out.problems.push_back(where + server.error().message);
            continue;
        }
        const auto same = std::find_if(out.servers.begin(), out.servers.end(), [&](const auto& s) {
            return s.address == server->address && s.port == server->port;
        });
        if (same != out.servers.end()) {
            out.problems.push_back(
                where + quoted(word) + " repeats the server of line " +
                std::to_string(line_of[static_cast<std::size_t>(same - out.servers.begin())]));
            continue;
        }
        out.servers.push_back(*server);
        line_of.push_back(line_number);
    }
    return out;
}

}  // namespace clat
