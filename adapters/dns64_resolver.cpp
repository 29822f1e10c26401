#include "adapters/dns64_resolver.hpp"

#include <ares.h>

#include <spdlog/spdlog.h>

#include "adapters/dns64_reply.hpp"
#include "adapters/dns64_servers.hpp"

namespace clat {
namespace {

using dns64::ares_reason;
using dns64::outcome_from_reply;
using dns64::servers_label;

constexpr int kClassIn = 1;    // RFC 1035 §3.2.4
constexpr int kTypeAaaa = 28;  // RFC 3596 §2.1
// Fully qualified, so that neither ndots nor the search list can rewrite it (RFC 7050 §3).
const std::string kQueryName = std::string(kIpv4OnlyName) + ".";

bool passes_rcodes(ares_channel channel) {
    ares_options saved{};
    int mask = 0;
    if (ares_save_options(channel, &saved, &mask) != ARES_SUCCESS)
        return false;
    const bool on = (saved.flags & ARES_FLAG_NOCHECKRESP) != 0;
    ares_destroy_options(&saved);
    return on;
}

/// ares_init_options with the servers given later by ares_set_servers_ports (an empty
/// ARES_OPT_SERVERS keeps c-ares from reading nameserver lines it cannot parse: scoped ones),
/// and for a single server ARES_FLAG_NOCHECKRESP: c-ares before 1.20 ends a query whose every
/// try drew SERVFAIL, REFUSED or NOTIMP with ARES_ECONNREFUSED, as if nobody had answered,
/// after asking the same server `tries` times. With one server there is none to fail over to,
/// so such an answer ends the query with ARES_ESERVFAIL etc. and the reason says what the
/// server said. Replies with another ID or question are still dropped (c-ares matches them
/// before the flag).
int init_channel(ares_channel* channel, ares_options& opts, int mask, std::size_t servers) {
    mask |= ARES_OPT_SERVERS;
    opts.servers = nullptr;
    opts.nservers = 0;
    if (servers == 1) {
        opts.flags |= ARES_FLAG_NOCHECKRESP;
        mask |= ARES_OPT_FLAGS;
    }
    return ares_init_options(channel, &opts, mask);
}

void log_server_set(const dns64::ServerSet& set) {
    for (const auto& problem : set.problems)
        spdlog::warn("dns64 {}", problem);
    if (!set.unusable.empty())
        spdlog::warn("dns64 servers none: {}", set.unusable);
    else
        spdlog::info("dns64 servers from={} list={}", set.source, dns64::servers_list(set));
}

/// One ares_query in flight; c-ares calls back exactly once for it, and that call frees it.
struct QueryContext {
    Dns64Resolver* resolver;
    std::uint64_t generation;
};

}  // namespace

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
        Dns64Outcome outcome = outcome_from_reply(status, timeouts, abuf, alen,
                                                  passes_rcodes(self->channel_), self->keep_);
        outcome.detail = servers_label(*self->servers_) + ": " + outcome.detail;
        if (!self->servers_->connect_error.empty())
            outcome.detail += "; " + self->servers_->connect_error;
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
    std::unique_ptr<Dns64Resolver> resolver(new Dns64Resolver(io, options));
    if (!options.servers.empty()) {
        auto configured = dns64::configured_servers(options.servers);
        if (!configured)
            return configured.error();
        *resolver->servers_ = std::move(*configured);
    } else {
        *resolver->servers_ = dns64::servers_from_resolv_conf(options.resolv_conf);
        log_server_set(*resolver->servers_);
    }
    if (int rc = ares_library_init(ARES_LIB_INIT_ALL); rc != ARES_SUCCESS)
        return make_error("dns64: cannot initialise c-ares: " + ares_reason(rc));
    resolver->library_ = true;
    if (auto opened = resolver->open_channel(); !opened)
        return opened.error();
    return resolver;
}

Dns64Resolver::Dns64Resolver(boost::asio::io_context& io, const Dns64ResolverOptions& options)
    : io_(io), options_(options), servers_(std::make_unique<dns64::ServerSet>()), timer_(io) {}

Dns64Resolver::~Dns64Resolver() {
    alive_.reset();
    callback_ = nullptr;
    ++generation_;
    close_channel();
    if (library_)
        ares_library_cleanup();
}

Status Dns64Resolver::open_channel() {
    if (servers_->servers.empty())
        return Ok{};  // each query says why (servers_->unusable)
    ares_options ares_opts{};
    int mask = ARES_OPT_SOCK_STATE_CB;
    ares_opts.sock_state_cb = &AresCallbacks::socket_state;
    ares_opts.sock_state_cb_data = this;
    // c-ares takes the options line (timeout, attempts, rotate) from the same file.
    std::string path = options_.resolv_conf;
    if (!path.empty()) {
        ares_opts.resolvconf_path = path.data();
        mask |= ARES_OPT_RESOLVCONF;
    }
    if (options_.timeout_ms) {
        ares_opts.timeout = *options_.timeout_ms;
        mask |= ARES_OPT_TIMEOUTMS;
    }
    if (options_.tries) {
        ares_opts.tries = *options_.tries;
        mask |= ARES_OPT_TRIES;
    }
    ares_channel channel = nullptr;
    if (int rc = init_channel(&channel, ares_opts, mask, servers_->servers.size());
        rc != ARES_SUCCESS)
        return make_error("dns64: cannot initialise c-ares: " + ares_reason(rc));
    channel_ = channel;  // from here close_channel() cleans up
    ares_set_socket_functions(channel_, &dns64::scoped_socket_functions(), servers_.get());
    auto nodes = dns64::ares_server_nodes(servers_->servers);
    if (int rc = ares_set_servers_ports(channel_, nodes.data()); rc != ARES_SUCCESS)
        return make_error(servers_->source + ": c-ares refused the servers: " + ares_reason(rc));
    return Ok{};
}

void Dns64Resolver::close_channel() {
    if (channel_ == nullptr)
        return;
    // Calls back with ARES_EDESTRUCTION (ignored) and closes its sockets through
    // on_socket_state, which releases our watches while the map still exists.
    ares_destroy(channel_);
    channel_ = nullptr;
    timer_.cancel();
}

std::string Dns64Resolver::followed_file() const {
    return options_.servers.empty() ? options_.resolv_conf : std::string();
}

std::string Dns64Resolver::label() const {
    return servers_label(*servers_);
}

bool Dns64Resolver::reload() {
    if (!options_.servers.empty())
        return false;
    auto fresh = dns64::servers_from_resolv_conf(options_.resolv_conf);
    if (fresh.same_as(*servers_))
        return false;
    log_server_set(fresh);
    const bool servers_changed = fresh.servers != servers_->servers;
    if (!servers_changed && fresh.unusable == servers_->unusable) {
        servers_->problems = std::move(fresh.problems);  // only what was skipped changed
        return false;
    }
    ++generation_;
    callback_ = nullptr;
    close_channel();
    *servers_ = std::move(fresh);
    if (auto opened = open_channel(); !opened) {
        // Unexpected (c-ares out of memory): queries say so until the next reload.
        close_channel();
        servers_->servers.clear();
        servers_->unusable = opened.error().message;
        spdlog::error("dns64 {}", opened.error().message);
    }
    return true;
}

void Dns64Resolver::query(Callback on_done, std::optional<Ipv6Prefix> keep) {
    cancel();
    reload();
    callback_ = std::move(on_done);
    keep_ = keep;
    servers_->connect_error.clear();
    if (channel_ == nullptr) {
        deliver(generation_, Dns64Outcome{std::nullopt, 0, Dns64OutcomeKind::kFailed,
                                          "DNS64 (no server): " + servers_->unusable});
        return;
    }
    auto* context = new QueryContext{this, generation_};
    // May call back synchronously (e.g. no usable server): deliver() posts, so that is safe.
    ares_query(channel_, kQueryName.c_str(), kClassIn, kTypeAaaa, &AresCallbacks::answer, context);
    update_timer();
}

void Dns64Resolver::cancel() {
    ++generation_;
    callback_ = nullptr;
    if (channel_ != nullptr)
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
    if (channel_ == nullptr) {
        timer_.cancel();
        return;
    }
    timeval buffer{};
    const timeval* next = ares_timeout(channel_, nullptr, &buffer);
    if (next == nullptr) {
        timer_.cancel();
        return;
    }
    timer_.expires_after(std::chrono::seconds(next->tv_sec) +
                         std::chrono::microseconds(next->tv_usec));
    timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired() || channel_ == nullptr)
            return;
        // No socket is ready: this only runs c-ares' timeouts and retransmissions.
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        update_timer();
    });
}

}  // namespace clat
