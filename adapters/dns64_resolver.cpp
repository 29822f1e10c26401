#include "adapters/dns64_resolver.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <charconv>
#include <cstring>

#include "adapters/dns64_reply.hpp"

namespace clat {
namespace {

using dns64::ares_reason;
using dns64::outcome_from_reply;

constexpr int kClassIn = 1;    // RFC 1035 §3.2.4
constexpr int kTypeAaaa = 28;  // RFC 3596 §2.1
// Fully qualified, so that neither ndots nor the search list can rewrite it (RFC 7050 §3).
const std::string kQueryName = std::string(kIpv4OnlyName) + ".";

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

/// "DNS64 2001:db8::53" or "DNS64 servers 192.0.2.53:5353, [2001:db8::53]:5353": who was
/// asked (c-ares does not say which of several answered).
std::string servers_label(ares_channel channel) {
    ares_addr_port_node* servers = nullptr;
    if (ares_get_servers_ports(channel, &servers) != ARES_SUCCESS || servers == nullptr)
        return "DNS64 (no server configured)";
    std::string list;
    int n = 0;
    for (const ares_addr_port_node* node = servers; node != nullptr; node = node->next, ++n) {
        std::array<char, INET6_ADDRSTRLEN> text{};
        inet_ntop(node->family, &node->addr, text.data(), text.size());
        const int port = node->udp_port == 0 ? 53 : node->udp_port;
        std::string one = text.data();
        if (port != 53)
            one = node->family == AF_INET6 ? "[" + one + "]:" + std::to_string(port)
                                           : one + ":" + std::to_string(port);
        list += (n > 0 ? ", " : "") + one;
    }
    ares_free_data(servers);
    return (n > 1 ? "DNS64 servers " : "DNS64 ") + list;
}

std::size_t server_count(ares_channel channel) {
    ares_addr_port_node* servers = nullptr;
    if (ares_get_servers_ports(channel, &servers) != ARES_SUCCESS)
        return 0;
    std::size_t n = 0;
    for (const ares_addr_port_node* node = servers; node != nullptr; node = node->next)
        ++n;
    ares_free_data(servers);
    return n;
}

bool passes_rcodes(ares_channel channel) {
    ares_options saved{};
    int mask = 0;
    if (ares_save_options(channel, &saved, &mask) != ARES_SUCCESS)
        return false;
    const bool on = (saved.flags & ARES_FLAG_NOCHECKRESP) != 0;
    ares_destroy_options(&saved);
    return on;
}

/// ares_init_options, and for a single server (configured, or the only one in resolv.conf)
/// ARES_FLAG_NOCHECKRESP: c-ares before 1.20 ends a query whose every try drew SERVFAIL,
/// REFUSED or NOTIMP with ARES_ECONNREFUSED, as if nobody had answered, after asking the same
/// server `tries` times. With one server there is none to fail over to, so such an answer
/// ends the query with ARES_ESERVFAIL etc. and the reason says what the server said. Replies
/// with another ID or question are still dropped (c-ares matches them before the flag).
int init_channel(ares_channel* channel, ares_options& opts, int mask, std::size_t configured) {
    if (configured != 1) {
        const int rc = ares_init_options(channel, &opts, mask);
        if (rc != ARES_SUCCESS || configured > 1 || server_count(*channel) != 1)
            return rc;
        ares_destroy(*channel);
        *channel = nullptr;
    }
    opts.flags |= ARES_FLAG_NOCHECKRESP;
    return ares_init_options(channel, &opts, mask | ARES_OPT_FLAGS);
}

/// One ares_query in flight; c-ares calls back exactly once for it, and that call frees it.
struct QueryContext {
    Dns64Resolver* resolver;
    std::uint64_t generation;
};

}  // namespace

Result<DnsServer> parse_dns_server(std::string_view text) {
    std::string_view host = text;
    std::optional<std::uint16_t> port = 53;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos)
            return make_error("DNS server '" + std::string(text) + "': missing ']'");
        host = text.substr(1, close - 1);
        auto rest = text.substr(close + 1);
        if (!rest.empty())
            port = rest.front() == ':' ? parse_port(rest.substr(1)) : std::nullopt;
        if (auto v6 = Ipv6Address::parse(host); v6 && port)
            return DnsServer{*v6, *port};
    } else if (text.find(':') == text.rfind(':') && text.find(':') != std::string_view::npos) {
        const auto colon = text.find(':');
        host = text.substr(0, colon);
        port = parse_port(text.substr(colon + 1));
        if (auto v4 = Ipv4Address::parse(host); v4 && port)
            return DnsServer{*v4, *port};
    } else if (auto v4 = Ipv4Address::parse(text)) {
        return DnsServer{*v4, 53};
    } else if (auto v6 = Ipv6Address::parse(text)) {
        return DnsServer{*v6, 53};
    }
    return make_error("DNS server '" + std::string(text) +
                      "': expected an IPv4 or IPv6 address, optionally with :port "
                      "([addr]:port for IPv6)");
}

/// Trampolines from c-ares' C callbacks into the resolver.
struct AresCallbacks {
    static void socket_state(void* data, ares_socket_t fd, int readable, int writable) {
        static_cast<Dns64Resolver*>(data)->on_socket_state(fd, readable != 0, writable != 0);
    }

    static void answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen) {
        std::unique_ptr<QueryContext> context(static_cast<QueryContext*>(arg));
        // Cancelled by query()/cancel(), or the channel is being destroyed: the resolver may be
        // half gone, so touch nothing.
        if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION)
            return;
        Dns64Resolver* self = context->resolver;
        if (context->generation != self->generation_)
            return;
        Dns64Outcome outcome =
            outcome_from_reply(status, timeouts, abuf, alen, passes_rcodes(self->channel_));
        outcome.detail = servers_label(self->channel_) + ": " + outcome.detail;
        self->deliver(context->generation, std::move(outcome));
    }
};

struct Dns64Resolver::SocketWatch {
    explicit SocketWatch(boost::asio::io_context& io) : descriptor(io) {}
    ~SocketWatch() { close(); }
    SocketWatch(const SocketWatch&) = delete;
    SocketWatch& operator=(const SocketWatch&) = delete;
    /// c-ares owns the fd: stop watching it (pending waits end with operation_aborted).
    void close() {
        if (descriptor.is_open())
            descriptor.release();
        open = false;
    }

    boost::asio::posix::stream_descriptor descriptor;
    bool open = false;
    bool want_read = false;
    bool want_write = false;
    bool read_armed = false;
    bool write_armed = false;
};

Result<std::unique_ptr<Dns64Resolver>> Dns64Resolver::create(boost::asio::io_context& io,
                                                             const Dns64ResolverOptions& options) {
    std::vector<ares_addr_port_node> servers(options.servers.size());
    for (std::size_t i = 0; i < options.servers.size(); ++i) {
        auto server = parse_dns_server(options.servers[i]);
        if (!server)
            return make_error("dns64-servers: " + server.error().message);
        auto& node = servers[i];
        node.next = i + 1 < servers.size() ? &servers[i + 1] : nullptr;
        node.udp_port = node.tcp_port = server->port;
        if (auto* v4 = std::get_if<Ipv4Address>(&server->address)) {
            node.family = AF_INET;
            std::memcpy(&node.addr.addr4, v4->bytes.data(), v4->bytes.size());
        } else {
            const auto& v6 = std::get<Ipv6Address>(server->address);
            node.family = AF_INET6;
            std::memcpy(&node.addr.addr6, v6.bytes.data(), v6.bytes.size());
        }
    }

    std::unique_ptr<Dns64Resolver> resolver(new Dns64Resolver(io));
    if (int rc = ares_library_init(ARES_LIB_INIT_ALL); rc != ARES_SUCCESS)
        return make_error("dns64: cannot initialise c-ares: " + ares_reason(rc));
    ares_options ares_opts{};
    int mask = ARES_OPT_SOCK_STATE_CB;
    ares_opts.sock_state_cb = &AresCallbacks::socket_state;
    ares_opts.sock_state_cb_data = resolver.get();
    if (options.timeout_ms) {
        ares_opts.timeout = *options.timeout_ms;
        mask |= ARES_OPT_TIMEOUTMS;
    }
    if (options.tries) {
        ares_opts.tries = *options.tries;
        mask |= ARES_OPT_TRIES;
    }
    ares_channel channel = nullptr;
    if (int rc = init_channel(&channel, ares_opts, mask, servers.size()); rc != ARES_SUCCESS) {
        ares_library_cleanup();
        return make_error("dns64: cannot initialise c-ares: " + ares_reason(rc));
    }
    resolver->channel_ = channel;  // from here the destructor cleans up
    if (!servers.empty()) {
        if (int rc = ares_set_servers_ports(channel, servers.data()); rc != ARES_SUCCESS)
            return make_error("dns64-servers: c-ares refused them: " + ares_reason(rc));
    }
    return resolver;
}

Dns64Resolver::Dns64Resolver(boost::asio::io_context& io) : io_(io), timer_(io) {}

Dns64Resolver::~Dns64Resolver() {
    alive_.reset();
    callback_ = nullptr;
    ++generation_;
    if (channel_ != nullptr) {
        // Calls back with ARES_EDESTRUCTION (ignored) and closes its sockets through
        // on_socket_state, which releases our watches while the map still exists.
        ares_destroy(channel_);
        ares_library_cleanup();
    }
}

void Dns64Resolver::query(Callback on_done) {
    cancel();
    callback_ = std::move(on_done);
    auto* context = new QueryContext{this, generation_};
    // May call back synchronously (e.g. no usable server): deliver() posts, so that is safe.
    ares_query(channel_, kQueryName.c_str(), kClassIn, kTypeAaaa, &AresCallbacks::answer, context);
    update_timer();
}

void Dns64Resolver::cancel() {
    ++generation_;
    callback_ = nullptr;
    ares_cancel(channel_);
    update_timer();
}

void Dns64Resolver::deliver(std::uint64_t generation, Dns64Outcome outcome) {
    boost::asio::post(
        io_, [this, alive = std::weak_ptr<bool>(alive_), generation, outcome = std::move(outcome)] {
            if (alive.expired() || generation != generation_ || !callback_)
                return;
            Callback done = std::move(callback_);
            callback_ = nullptr;
            done(outcome);  // last: it may destroy this resolver
        });
}

void Dns64Resolver::on_socket_state(int fd, bool readable, bool writable) {
    auto it = sockets_.find(fd);
    if (!readable && !writable) {
        // c-ares is about to close fd.
        if (it != sockets_.end()) {
            it->second->close();
            sockets_.erase(it);
        }
        return;
    }
    if (it == sockets_.end()) {
        auto watch = std::make_shared<SocketWatch>(io_);
        boost::system::error_code ec;
        watch->descriptor.assign(fd, ec);
        // Unwatchable: c-ares' own timeout still ends the query through the timer.
        if (ec)
            return;
        watch->open = true;
        it = sockets_.emplace(fd, std::move(watch)).first;
    }
    it->second->want_read = readable;
    it->second->want_write = writable;
    arm(it->second);
}

void Dns64Resolver::arm(const std::shared_ptr<SocketWatch>& watch) {
    using Wait = boost::asio::posix::stream_descriptor::wait_type;
    auto start = [&](Wait type, bool& armed) {
        armed = true;
        watch->descriptor.async_wait(
            type, [this, weak = std::weak_ptr<SocketWatch>(watch),
                   read = type == Wait::wait_read](auto ec) { on_ready(weak, read, ec); });
    };
    if (watch->want_read && !watch->read_armed)
        start(Wait::wait_read, watch->read_armed);
    if (watch->want_write && !watch->write_armed)
        start(Wait::wait_write, watch->write_armed);
}

void Dns64Resolver::on_ready(const std::weak_ptr<SocketWatch>& weak, bool read,
                             boost::system::error_code ec) {
    // The watch lives in this resolver's map: if it is still there, so is the resolver.
    auto watch = weak.lock();
    if (!watch)
        return;
    (read ? watch->read_armed : watch->write_armed) = false;
    if (ec || !watch->open)
        return;
    const int fd = watch->descriptor.native_handle();
    if (read ? watch->want_read : watch->want_write) {
        ares_process_fd(channel_, read ? fd : ARES_SOCKET_BAD, read ? ARES_SOCKET_BAD : fd);
    }
    if (watch->open)
        arm(watch);
    update_timer();
}

void Dns64Resolver::update_timer() {
    timeval buffer{};
    const timeval* next = ares_timeout(channel_, nullptr, &buffer);
    if (next == nullptr) {
        timer_.cancel();
        return;
    }
    timer_.expires_after(std::chrono::seconds(next->tv_sec) +
                         std::chrono::microseconds(next->tv_usec));
    timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired())
            return;
        // No socket is ready: this only runs c-ares' timeouts and retransmissions.
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        update_timer();
    });
}

}  // namespace clat
