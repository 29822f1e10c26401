#pragma once
/// Internal to the DNS64 adapter: which servers a channel asks (configured, or resolv.conf's
/// nameserver lines) and the socket functions that reach a link-local one on its interface
/// (dns64_servers.cpp), for the channel (dns64_resolver.cpp).

#include <ares.h>

#include <string>
#include <vector>

#include "states/dns_server.hpp"
#include "states/result.hpp"

namespace clat::dns64 {

/// The servers of one channel and where they came from.
struct ServerSet {
    std::vector<DnsServer> servers;
    std::string source;                 ///< "dns64-servers" or the resolv.conf path
    std::string unusable;               ///< no server to ask: why (then the channel is not opened)
    std::vector<std::string> problems;  ///< "PATH:LINE: why" for each nameserver line skipped
    /// Set by the connect hook when a socket could not be given its server's scope; the
    /// resolver clears it before each query and adds it to a failure's reason.
    std::string connect_error;

    /// Same servers, same reason for having none, same problems: nothing to rebuild or log.
    bool same_as(const ServerSet& other) const {
        return servers == other.servers && unusable == other.unusable && problems == other.problems;
    }
};

/// `dns64-servers` as given; fails naming the bad entry.
Result<ServerSet> configured_servers(const std::vector<std::string>& entries);

/// The nameserver lines of resolv.conf at `path`. A file that cannot be read or holds no
/// nameserver line gives 127.0.0.1, as glibc and c-ares do; one whose nameserver lines are
/// all unusable gives no server and says why.
ServerSet servers_from_resolv_conf(const std::string& path);

/// "DNS64 192.0.2.53" or "DNS64 servers 192.0.2.53:5353, fe80::1%eth0": who is asked.
std::string servers_label(const ServerSet& set);
/// "192.0.2.53:5353,fe80::1%eth0" (for key=value log lines).
std::string servers_list(const ServerSet& set);

/// The list for ares_set_servers_ports, linked in order.
std::vector<ares_addr_port_node> ares_server_nodes(const std::vector<DnsServer>& servers);

/// For ares_set_socket_functions with the channel's ServerSet as user data: non-blocking,
/// close-on-exec sockets (c-ares configures none of its own once these are set), sends
/// without SIGPIPE, and a connect() that gives a link-local server the scope c-ares 1.18
/// cannot carry (its server list has no scope id; RFC 4007 §6 makes the address ambiguous
/// without one, and Linux refuses such a connect with EINVAL).
const ares_socket_functions& scoped_socket_functions();

}  // namespace clat::dns64
