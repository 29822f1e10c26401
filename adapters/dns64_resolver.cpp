#include "adapters/dns64_resolver.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>

namespace clat {
namespace {

constexpr int kClassIn = 1;      // RFC 1035 §3.2.4
constexpr int kTypeAaaa = 28;    // RFC 3596 §2.1
constexpr int kMaxAnswers = 64;  // more AAAA records than this for one name are ignored
// Fully qualified, so that neither ndots nor the search list can rewrite it (RFC 7050 §3).
const std::string kQueryName = std::string(kIpv4OnlyName) + ".";

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

std::string ares_reason(int status) {
    return ares_strerror(status);
}

/// The minimum TTL among the answers that, on their own, yield `prefix`.
std::uint32_t min_ttl_for(const Ipv6Prefix& prefix, const std::vector<Ipv6Address>& addresses,
                          const std::vector<std::uint32_t>& ttls) {
    std::uint32_t ttl = std::numeric_limits<std::uint32_t>::max();
    for (std::size_t i = 0; i < addresses.size(); ++i) {
        auto single = prefix_from_answers({addresses[i]});
        if (single && single->prefix == prefix)
            ttl = std::min(ttl, ttls[i]);
    }
    return ttl == std::numeric_limits<std::uint32_t>::max() ? 0 : ttl;
}

}  // namespace

Dns64Outcome outcome_from_answer(const unsigned char* abuf, int alen) {
    std::array<ares_addr6ttl, kMaxAnswers> records{};
    int count = kMaxAnswers;
    const int rc = ares_parse_aaaa_reply(abuf, alen, nullptr, records.data(), &count);
    if (rc == ARES_ENODATA) {
        // The answer section is not empty (c-ares calls that NODATA before we parse), but no
        // record in it is an AAAA of 16 bytes for the name: CNAMEs only, or broken AAAAs.
        const int records_in = alen >= 12 ? (abuf[6] << 8 | abuf[7]) : 0;
        return {std::nullopt, 0, Dns64OutcomeKind::kNoDns64,
                std::to_string(records_in) +
                    " answer record(s), none a valid AAAA for ipv4only.arpa: no DNS64 here"};
    }
    if (rc != ARES_SUCCESS) {
        return {std::nullopt, 0, Dns64OutcomeKind::kFailed,
                "malformed answer (" + ares_reason(rc) + ")"};
    }
    std::vector<Ipv6Address> addresses;
    std::vector<std::uint32_t> ttls;
    for (int i = 0; i < count; ++i) {
        Ipv6Address a;
        std::memcpy(a.bytes.data(), &records[i].ip6addr, a.bytes.size());
        addresses.push_back(a);
        ttls.push_back(static_cast<std::uint32_t>(std::max(records[i].ttl, 0)));
    }
    auto result = prefix_from_answers(addresses);
    if (!result) {
        // RFC 7050 §3: without the well-known address the answers are not DNS64 synthesis.
        std::string detail = std::to_string(count) + " AAAA answer(s)";
        if (!addresses.empty())
            detail += " (" + addresses.front().to_string() + (count > 1 ? ", ...)" : ")");
        return {std::nullopt, 0, Dns64OutcomeKind::kNoDns64,
                detail + " hold neither 192.0.0.170 nor .171: no DNS64 synthesis"};
    }
    const std::uint32_t ttl = min_ttl_for(result->prefix, addresses, ttls);
    std::string detail = "prefix " + result->prefix.to_string() + " ttl=" + std::to_string(ttl);
    if (result->ambiguous) {
        detail += " ambiguous, also";
        for (std::size_t i = 1; i < result->all.size(); ++i)
            detail += " " + result->all[i].to_string();
    }
    return {std::move(result), ttl, Dns64OutcomeKind::kFound, std::move(detail)};
}

namespace {

/// Why c-ares gave up, in DNS terms (RCODE names from RFC 1035 §4.1.1). `rcodes_seen`: the
/// channel passes SERVFAIL, REFUSED and NOTIMP through (see init_channel).
std::string failure_text(int status, int timeouts, bool rcodes_seen) {
    switch (status) {
        case ARES_ETIMEOUT:
            return "no answer (timeout, " + std::to_string(timeouts) + " tries)";
        case ARES_ECONNREFUSED:
            if (rcodes_seen)
                return "unreachable (ICMP port unreachable or connection refused)";
            return "no usable answer (unreachable, or SERVFAIL, REFUSED or NOTIMP to every try)";
        case ARES_ESERVFAIL:
            return "query failed: the server answered SERVFAIL";
        case ARES_EREFUSED:
            return "query failed: the server answered REFUSED";
        case ARES_EFORMERR:
            return "query failed: the server answered FORMERR";
        case ARES_ENOTIMP:
            return "query failed: the server answered NOTIMP";
        case ARES_EBADRESP:
            return "malformed reply (" + ares_reason(status) + ")";
        default:
            break;
    }
    std::string detail = "query failed: " + ares_reason(status);
    if (timeouts > 0)
        detail += " (" + std::to_string(timeouts) + " timeout(s))";
    return detail;
}

Dns64Outcome outcome_from_reply(int status, int timeouts, const unsigned char* abuf, int alen,
                                bool rcodes_seen) {
    switch (status) {
        case ARES_SUCCESS:
            return outcome_from_answer(abuf, alen);
        // RFC 7050 §3: a negative answer means the network has no DNS64.
        case ARES_ENODATA:
            return {std::nullopt, 0, Dns64OutcomeKind::kNoDns64,
                    "ipv4only.arpa has no AAAA record (NODATA): no DNS64 here"};
        case ARES_ENOTFOUND:
            return {std::nullopt, 0, Dns64OutcomeKind::kNoDns64,
                    "ipv4only.arpa does not exist (NXDOMAIN): no DNS64 here"};
        default:
            break;
    }
    return {std::nullopt, 0, Dns64OutcomeKind::kFailed,
            failure_text(status, timeouts, rcodes_seen)};
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

std::int64_t steady_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

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

Dns64Discovery::Dns64Discovery(boost::asio::io_context& io, std::unique_ptr<Dns64Resolver> resolver,
                               Publish publish, Dns64SchedulePolicy policy)
    : resolver_(std::move(resolver)), publish_(std::move(publish)), policy_(policy), timer_(io) {}

Dns64Discovery::~Dns64Discovery() {
    alive_.reset();
}

void Dns64Discovery::rediscover_now() {
    failures_ = 0;
    absent_ = 0;
    // Whoever asks (a new activation of the agent starts with no DNS64 verdict) hears the
    // next outcome even when it is the same as the last one published.
    published_.reset();
    ++epoch_;
    timer_.cancel();
    resolver_->query([this](const Dns64Outcome& outcome) { on_outcome(outcome); });
}

void Dns64Discovery::stop() {
    ++epoch_;
    timer_.cancel();
    resolver_->cancel();
}

void Dns64Discovery::on_outcome(const Dns64Outcome& outcome) {
    const std::int64_t now = steady_now_ms();
    current_.last_kind = outcome.kind;
    current_.detail = outcome.detail;
    std::chrono::milliseconds delay{0};
    switch (outcome.kind) {
        case Dns64OutcomeKind::kFound:
            failures_ = absent_ = 0;
            current_.result = outcome.result;
            current_.expires_at_ms = now + dns64_hold_time(outcome.ttl_seconds, policy_).count();
            delay = dns64_next_query_delay(outcome.kind, outcome.ttl_seconds, 1, policy_);
            break;
        case Dns64OutcomeKind::kNoDns64:
            failures_ = 0;
            current_.result.reset();
            current_.expires_at_ms = 0;
            delay = dns64_next_query_delay(outcome.kind, 0, ++absent_, policy_);
            break;
        case Dns64OutcomeKind::kFailed:
            absent_ = 0;
            delay = dns64_next_query_delay(outcome.kind, 0, ++failures_, policy_);
            if (current_.result && now >= current_.expires_at_ms) {
                current_.result.reset();
                current_.expires_at_ms = 0;
            } else if (current_.result) {
                // Always try once more right at expiry, so a lapse is noticed on time.
                delay = std::min(delay, std::chrono::milliseconds(current_.expires_at_ms - now));
            }
            break;
    }
    schedule(delay);
    publish_if_changed();
}

void Dns64Discovery::schedule(std::chrono::milliseconds delay) {
    ++epoch_;
    timer_.expires_after(delay);
    timer_.async_wait(
        [this, alive = std::weak_ptr<bool>(alive_), epoch = epoch_](boost::system::error_code ec) {
            // A wait that had already completed when stop() or rediscover_now() ran still comes
            // here with success: the epoch tells it apart.
            if (ec || alive.expired() || epoch != epoch_)
                return;
            resolver_->query([this](const Dns64Outcome& outcome) { on_outcome(outcome); });
        });
}

void Dns64Discovery::publish_if_changed() {
    // The detail is the agent's "why it waits": a server that stops timing out and starts
    // answering SERVFAIL must say so, though both are failures.
    if (published_ && published_->result == current_.result &&
        published_->expires_at_ms == current_.expires_at_ms &&
        published_->last_kind == current_.last_kind && published_->detail == current_.detail)
        return;
    published_ = current_;
    if (publish_)
        publish_(current_);  // last: it may destroy this object
}

}  // namespace clat
