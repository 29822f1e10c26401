#include "adapters/dns64_servers.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace clat::dns64 {
namespace {

constexpr std::size_t kMaxResolvConf = 64 * 1024;  // more than any real resolv.conf

/// The file's content, or the errno text of why it could not be read.
Result<std::string> read_small_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return make_error(std::strerror(errno));
    std::string text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int error = errno;
            ::close(fd);
            return make_error(std::strerror(error));
        }
        if (n == 0 || text.size() >= kMaxResolvConf)
            break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

DnsServer loopback_server() {
    return DnsServer{Ipv4Address{{127, 0, 0, 1}}, 53, {}};
}

/// The interface index a scope names: a decimal index as it is, a name looked up now (so an
/// interface created, or re-created, after the file was read is found). 0: none.
unsigned scope_index(const std::string& scope) {
    if (std::all_of(scope.begin(), scope.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return static_cast<unsigned>(std::stoul(scope));
    return if_nametoindex(scope.c_str());
}

const DnsServer* scoped_server_for(const ServerSet& set, const sockaddr_in6& target) {
    for (const auto& server : set.servers) {
        const auto* v6 = std::get_if<Ipv6Address>(&server.address);
        if (v6 != nullptr && !server.scope.empty() && server.port == ntohs(target.sin6_port) &&
            std::memcmp(v6->bytes.data(), &target.sin6_addr, v6->bytes.size()) == 0)
            return &server;
    }
    return nullptr;
}

ares_socket_t open_socket(int family, int type, int protocol, void*) {
    return ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
}

int close_socket(ares_socket_t fd, void*) {
    return ::close(fd);
}

int connect_socket(ares_socket_t fd, const sockaddr* address, ares_socklen_t length, void* data) {
    auto* set = static_cast<ServerSet*>(data);
    sockaddr_in6 scoped{};
    const DnsServer* server = nullptr;
    if (address->sa_family == AF_INET6 && length >= sizeof scoped) {
        std::memcpy(&scoped, address, sizeof scoped);
        if (IN6_IS_ADDR_LINKLOCAL(&scoped.sin6_addr) && scoped.sin6_scope_id == 0)
            server = scoped_server_for(*set, scoped);
    }
    int rc = 0;
    if (server != nullptr) {
        scoped.sin6_scope_id = scope_index(server->scope);
        if (scoped.sin6_scope_id == 0) {
            set->connect_error =
                "cannot reach " + server->to_string() + ": no interface " + server->scope;
            errno = ENODEV;
            return -1;
        }
        rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&scoped), sizeof scoped);
    } else {
        rc = ::connect(fd, address, length);
    }
    if (rc < 0 && errno != EINPROGRESS) {
        const int error = errno;
        set->connect_error = "cannot reach " +
                             (server != nullptr ? server->to_string() : std::string("a server")) +
                             ": " + std::strerror(error);
        errno = error;
    }
    return rc;
}

ares_ssize_t receive(ares_socket_t fd, void* buffer, std::size_t length, int flags, sockaddr* from,
                     ares_socklen_t* from_length, void*) {
    return ::recvfrom(fd, buffer, length, flags, from, from_length);
}

ares_ssize_t send_vector(ares_socket_t fd, const iovec* vector, int count, void*) {
    msghdr message{};
    message.msg_iov = const_cast<iovec*>(vector);
    message.msg_iovlen = static_cast<std::size_t>(count);
    return ::sendmsg(fd, &message, MSG_NOSIGNAL);
}

const ares_socket_functions kSocketFunctions{open_socket, close_socket, connect_socket, receive,
                                             send_vector};

}  // namespace

Result<ServerSet> configured_servers(const std::vector<std::string>& entries) {
    ServerSet set;
    set.source = "dns64-servers";
    for (const auto& entry : entries) {
        auto server = parse_dns_server(entry);
        if (!server)
            return make_error("dns64-servers: " + server.error().message);
        set.servers.push_back(std::move(*server));
    }
    return set;
}

ServerSet servers_from_resolv_conf(const std::string& path) {
    ServerSet set;
    set.source = path;
    auto text = read_small_file(path);
    if (!text) {
        // glibc's res_init and c-ares do the same: no file, the local resolver.
        set.servers.push_back(loopback_server());
        set.problems.push_back(path + ": " + text.error().message + "; asking 127.0.0.1");
        return set;
    }
    const ResolvConf parsed = parse_resolv_conf(*text);
    for (const auto& problem : parsed.problems)
        set.problems.push_back(path + ":" + problem.substr(5) +
                               "; nameserver skipped");  // "line N: "
    set.servers = parsed.servers;
    if (parsed.nameserver_lines == 0) {
        set.servers.push_back(loopback_server());
    } else if (set.servers.empty()) {
        set.unusable = path + " has no usable nameserver (" +
                       (parsed.problems.empty() ? std::string() : parsed.problems.front()) + ")";
    }
    return set;
}

std::string servers_label(const ServerSet& set) {
    if (set.servers.empty())
        return "DNS64 (no server)";
    std::string list;
    for (const auto& server : set.servers)
        list += (list.empty() ? "" : ", ") + server.to_string();
    return (set.servers.size() > 1 ? "DNS64 servers " : "DNS64 ") + list;
}

std::string servers_list(const ServerSet& set) {
    std::string list;
    for (const auto& server : set.servers)
        list += (list.empty() ? "" : ",") + server.to_string();
    return list;
}

std::vector<ares_addr_port_node> ares_server_nodes(const std::vector<DnsServer>& servers) {
    std::vector<ares_addr_port_node> nodes(servers.size());
    for (std::size_t i = 0; i < servers.size(); ++i) {
        auto& node = nodes[i];
        node.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
        node.udp_port = node.tcp_port = servers[i].port;
        if (const auto* v4 = std::get_if<Ipv4Address>(&servers[i].address)) {
            node.family = AF_INET;
            std::memcpy(&node.addr.addr4, v4->bytes.data(), v4->bytes.size());
        } else {
            const auto& v6 = std::get<Ipv6Address>(servers[i].address);
            node.family = AF_INET6;
            std::memcpy(&node.addr.addr6, v6.bytes.data(), v6.bytes.size());
        }
    }
    return nodes;
}

const ares_socket_functions& scoped_socket_functions() {
    return kSocketFunctions;
}

}  // namespace clat::dns64
