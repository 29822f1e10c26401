#include "adapters/netlink_observer.hpp"

#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>

#include "adapters/netlink_parse.hpp"

namespace clat {
namespace {

constexpr std::size_t kBufferBytes = 64 * 1024;
// Bounds one wake-up, so that an endless storm cannot starve the rest of the loop.
constexpr int kMaxMessagesPerPass = 8192;
/// Wake-ups closer than this to the end of the previous pass ...
constexpr auto kStormGap = std::chrono::microseconds(150);
/// ... are a storm once this many came in a row (one change is a few messages, read in a
/// pass or two; changes made one after the other stay below it) ...
constexpr int kStormWakeups = 8;
/// ... and wait this long before the next pass. Well inside the socket's receive buffer at
/// the rates a storm reaches (a few hundred messages), and far below a reconcile's target.
constexpr auto kBatchDelay = std::chrono::milliseconds(2);
constexpr int kMaxDiscarded = 1 << 20;
constexpr auto kResyncRetry = std::chrono::milliseconds(200);
// A request is answered at once; the timeout only bounds a kernel that never answers.
constexpr time_t kRequestTimeoutSeconds = 5;

struct MessageFree {
    void operator()(nl_msg* message) const { nlmsg_free(message); }
};
using MessagePtr = std::unique_ptr<nl_msg, MessageFree>;

MessagePtr make_request(int type, int flags, const void* header, std::size_t size) {
    MessagePtr message(nlmsg_alloc_simple(type, flags));
    if (message && nlmsg_append(message.get(), const_cast<void*>(header), size, NLMSG_ALIGNTO) < 0)
        message.reset();
    return message;
}

std::string errno_text(int error) {
    return std::strerror(error);
}

std::int64_t steady_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

void NetlinkObserver::SocketFree::operator()(nl_sock* socket) const {
    nl_socket_free(socket);
}

NetlinkObserver::NetlinkObserver(boost::asio::io_context& io, std::function<std::int64_t()> now_ms,
                                 std::function<void()> on_change)
    : NetlinkObserver(io, std::move(now_ms), std::move(on_change), Options{}) {}

NetlinkObserver::NetlinkObserver(boost::asio::io_context& io, std::function<std::int64_t()> now_ms,
                                 std::function<void()> on_change, Options options)
    : io_(io),
      now_ms_(std::move(now_ms)),
      on_change_(std::move(on_change)),
      options_(options),
      expiry_timer_(io),
      retry_timer_(io),
      proxy_timer_(io),
      batch_timer_(io),
      buffer_(kBufferBytes) {}

NetlinkObserver::~NetlinkObserver() {
    stop();
}

Status NetlinkObserver::start(std::function<void()> on_change) {
    on_change_ = std::move(on_change);
    return start();
}

Status NetlinkObserver::start() {
    stop();
    Status status = open_sockets();
    Observed fresh;
    if (status)
        status = dump_into(fresh);
    if (!status) {
        stop();
        return status;
    }
    observed_ = std::move(fresh);
    descriptor_.emplace(io_, nl_socket_get_fd(events_.get()));
    arm();
    schedule_proxy_poll();
    return Ok{};
}

void NetlinkObserver::stop() {
    if (descriptor_) {
        boost::system::error_code ignored;
        descriptor_->cancel(ignored);
        // libnl owns the file descriptor and closes it in nl_socket_free.
        descriptor_->release();
        descriptor_.reset();
    }
    expiry_timer_.cancel();
    retry_timer_.cancel();
    proxy_timer_.cancel();
    batch_timer_.cancel();
    events_.reset();
    requests_.reset();
    alive_ = std::make_shared<int>(0);
    pending_ = {};
    notify_pending_ = false;
}

Status NetlinkObserver::open_sockets() {
    events_.reset(nl_socket_alloc());
    requests_.reset(nl_socket_alloc());
    if (!events_ || !requests_)
        return make_error("netlink: cannot allocate sockets");
    // Events carry the kernel's sequence numbers, not ours.
    nl_socket_disable_seq_check(events_.get());
    nl_socket_disable_auto_ack(requests_.get());
    for (nl_sock* socket : {events_.get(), requests_.get()}) {
        if (int err = nl_connect(socket, NETLINK_ROUTE); err < 0)
            return make_error("netlink: cannot open a route socket: " +
                              std::string(nl_geterror(err)));
    }
    // After nl_connect, which sets its own 32 KiB default. SO_RCVBUFFORCE (CAP_NET_ADMIN) may
    // exceed net.core.rmem_max; without the capability SO_RCVBUF is capped by it.
    const int fd = nl_socket_get_fd(events_.get());
    const int size = options_.receive_buffer_bytes;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0 &&
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0)
        return make_error("netlink: cannot size the event socket: " + errno_text(errno));
    if (int err = nl_socket_add_memberships(events_.get(), RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
                                            RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE,
                                            RTNLGRP_IPV6_ROUTE, RTNLGRP_ND_USEROPT, 0);
        err < 0)
        return make_error("netlink: cannot subscribe: " + std::string(nl_geterror(err)));
    if (int err = nl_socket_set_nonblocking(events_.get()); err < 0)
        return make_error("netlink: cannot make the event socket non-blocking: " +
                          std::string(nl_geterror(err)));
    const timeval timeout{kRequestTimeoutSeconds, 0};
    if (::setsockopt(nl_socket_get_fd(requests_.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                     sizeof timeout) != 0)
        return make_error("netlink: cannot set a request timeout: " + errno_text(errno));
    return Ok{};
}

void NetlinkObserver::arm() {
    descriptor_->async_wait(
        boost::asio::posix::stream_descriptor::wait_read,
        [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
            if (ec == boost::asio::error::operation_aborted || alive.expired())
                return;
            if (ec) {
                spdlog::error("netlink observer: waiting for events failed: {}", ec.message());
                return;
            }
            // In a storm (the last pass was just now), wait a little so that one pass reads
            // what the next milliseconds bring: the cost of a wake-up is paid per batch, not
            // per message. A lone change is read at once.
            quick_wakeups_ =
                std::chrono::steady_clock::now() - last_pass_ < kStormGap ? quick_wakeups_ + 1 : 0;
            if (quick_wakeups_ >= kStormWakeups) {
                batch_timer_.expires_after(kBatchDelay);
                batch_timer_.async_wait([this, alive](const boost::system::error_code& wait) {
                    if (!wait && !alive.expired())
                        on_readable();
                });
                return;
            }
            on_readable();
        });
}

void NetlinkObserver::on_readable() {
    read_queued();
    last_pass_ = std::chrono::steady_clock::now();
    if (descriptor_)
        arm();
}

void NetlinkObserver::sync() {
    if (descriptor_)
        read_queued();
}

void NetlinkObserver::read_queued() {
    // One level check per wake-up: without debug logging nothing is stamped.
    timing_ = spdlog::should_log(spdlog::level::debug);
    try {
        bool changed = false;
        bool relevant = false;
        if (read_pass(changed, relevant)) {
            if (Status done = resync(); done) {
                changed = relevant = true;
            } else {
                spdlog::warn("netlink resync failed: {}", done.error().message);
                schedule_resync_retry();
            }
        }
        if (changed)
            schedule_expiry();
        // Changes outside the interest (a storm elsewhere) are in observed() all the same,
        // but wake nobody: the agent would only find its relevant subset unchanged.
        if (relevant)
            notify();
    } catch (const std::exception& e) {
        spdlog::error("netlink observer: {}", e.what());
    }
    // Messages that changed nothing start no batch: the next one begins afresh.
    if (!notify_pending_)
        pending_ = {};
}

void NetlinkObserver::set_interest(const ObservationInterest& interest) {
    interest_ = interest;
}

bool NetlinkObserver::read_pass(bool& changed, bool& relevant) {
    const int fd = nl_socket_get_fd(events_.get());
    const std::int64_t now = now_ms_();
    bool resync_needed = false;
    for (int handled = 0; handled < kMaxMessagesPerPass;) {
        sockaddr_nl from{};
        socklen_t from_size = sizeof from;
        // MSG_TRUNC: the real length comes back, so a message too big for the buffer shows.
        const ssize_t n = ::recvfrom(fd, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC,
                                     reinterpret_cast<sockaddr*>(&from), &from_size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0 && errno == ENOBUFS) {
            // The kernel dropped events. What is still queued predates the dump that follows
            // and could replay an add whose delete was lost: throw it away.
            ++stats_.overruns;
            spdlog::info("netlink overrun; resynchronising");
            discard_queue();
            return true;
        }
        if (n < 0 || static_cast<std::size_t>(n) > buffer_.size()) {
            spdlog::warn("netlink event lost: {}", n < 0 ? errno_text(errno) : "truncated");
            return true;
        }
        if (from.nl_pid != 0)
            continue;  // only the kernel may tell us what the kernel did
        if (timing_ && pending_.first_rx_us == 0)
            pending_.first_rx_us = steady_us();
        int remaining = static_cast<int>(n);
        for (auto* message = reinterpret_cast<nlmsghdr*>(buffer_.data());
             nlmsg_ok(message, remaining); message = nlmsg_next(message, &remaining)) {
            ++stats_.messages;
            ++pending_.messages;
            ++handled;
            const MessageEffect effect = apply_message(observed_, message, now);
            changed = changed || effect.changed;
            relevant =
                relevant || (effect.changed && (!interest_ || matters(*interest_, effect.subject)));
            resync_needed = resync_needed || effect.resync_needed;
        }
    }
    return resync_needed;
}

void NetlinkObserver::discard_queue() {
    const int fd = nl_socket_get_fd(events_.get());
    for (int i = 0; i < kMaxDiscarded; ++i) {
        const ssize_t n = ::recv(fd, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
        if (n < 0 && errno != EINTR && errno != ENOBUFS)
            return;
    }
}

Status NetlinkObserver::resync() {
    if (!requests_)
        return make_error("netlink observer is not started");
    Observed fresh;
    if (Status dumped = dump_into(fresh); !dumped)
        return dumped;
    // Router Advertisement options cannot be dumped: keep those heard, minus the expired.
    fresh.pref64 = observed_.pref64;
    std::erase_if(fresh.pref64,
                  [&](const Pref64Fact& f) { return !fresh.links.contains(f.ifindex); });
    expire_pref64(fresh, now_ms_());
    observed_ = std::move(fresh);
    ++stats_.resyncs;
    return Ok{};
}

Status NetlinkObserver::dump_into(Observed& fresh) {
    const std::int64_t now = now_ms_();
    const Handler apply = [&](const nlmsghdr* message) {
        ++stats_.dumped;
        (void)apply_message(fresh, message, now);
    };
    ifinfomsg link{};
    link.ifi_family = AF_UNSPEC;
    Status status = request(RTM_GETLINK, &link, sizeof link, "dump links", apply);
    for (const int family : {AF_INET, AF_INET6}) {
        ifaddrmsg address{};
        address.ifa_family = static_cast<std::uint8_t>(family);
        if (status)
            status = request(RTM_GETADDR, &address, sizeof address, "dump addresses", apply);
        rtmsg route{};
        route.rtm_family = static_cast<std::uint8_t>(family);
        if (status)
            status = request(RTM_GETROUTE, &route, sizeof route, "dump routes", apply);
    }
    if (status)
        status = dump_proxies(apply);
    return status;
}

Status NetlinkObserver::dump_proxies(const Handler& handler) {
    // NTF_PROXY in a dump request selects the proxy table (pneigh_dump_table).
    ndmsg proxy{};
    proxy.ndm_family = AF_INET6;
    proxy.ndm_flags = NTF_PROXY;
    return request(RTM_GETNEIGH, &proxy, sizeof proxy, "dump proxy neighbours", handler);
}

Result<bool> NetlinkObserver::refresh_proxies() {
    if (!requests_)
        return make_error("netlink observer is not started");
    Observed fresh;
    const Handler apply = [&](const nlmsghdr* message) {
        ++stats_.dumped;
        (void)apply_message(fresh, message, 0);
    };
    if (Status dumped = dump_proxies(apply); !dumped)
        return dumped.error();
    // An entry of a link deleted between the dump and now must not come back.
    std::erase_if(fresh.proxies_v6,
                  [&](const ProxyNeighbourV6& p) { return !observed_.links.contains(p.ifindex); });
    if (fresh.proxies_v6 == observed_.proxies_v6)
        return false;
    observed_.proxies_v6 = std::move(fresh.proxies_v6);
    return true;
}

void NetlinkObserver::set_proxy_poll(std::chrono::milliseconds interval) {
    if (interval == proxy_poll_)
        return;
    proxy_poll_ = interval;
    schedule_proxy_poll();
}

void NetlinkObserver::schedule_proxy_poll() {
    proxy_timer_.cancel();
    if (proxy_poll_.count() <= 0 || !requests_)
        return;
    proxy_timer_.expires_after(proxy_poll_);
    proxy_timer_.async_wait(
        [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
            if (ec || alive.expired())
                return;
            if (auto changed = refresh_proxies(); !changed)
                spdlog::warn("netlink proxy refresh failed: {}", changed.error().message);
            else if (*changed)
                notify();
            schedule_proxy_poll();
        });
}

Status NetlinkObserver::request(int type, const void* header, std::size_t header_size,
                                const std::string& what, const Handler& handler) {
    MessagePtr message = make_request(type, NLM_F_REQUEST | NLM_F_DUMP, header, header_size);
    if (!message)
        return make_error("netlink " + what + ": cannot build the request");
    return transact(message.get(), what, handler);
}

Status NetlinkObserver::transact(nl_msg* message, const std::string& what, const Handler& handler) {
    if (int err = nl_send_auto(requests_.get(), message); err < 0)
        return make_error("netlink " + what + ": cannot send: " + std::string(nl_geterror(err)));
    const std::uint32_t sequence = nlmsg_hdr(message)->nlmsg_seq;
    const int fd = nl_socket_get_fd(requests_.get());
    std::vector<std::uint8_t> buffer(kBufferBytes);
    for (;;) {
        const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return make_error(what + ": " +
                              (errno == EAGAIN ? "no answer from the kernel" : errno_text(errno)));
        int remaining = static_cast<int>(n);
        for (auto* reply = reinterpret_cast<nlmsghdr*>(buffer.data()); nlmsg_ok(reply, remaining);
             reply = nlmsg_next(reply, &remaining)) {
            if (reply->nlmsg_seq != sequence)
                continue;  // a late answer to an earlier request
            if (reply->nlmsg_type == NLMSG_DONE || reply->nlmsg_type == NLMSG_ERROR) {
                // Both carry an int first: 0, or the kernel's negative errno.
                int error = 0;
                if (nlmsg_datalen(reply) >= static_cast<int>(sizeof error))
                    std::memcpy(&error, nlmsg_data(reply), sizeof error);
                if (error < 0)
                    return make_error(what + ": " + errno_text(-error));
                return Ok{};
            }
            handler(reply);
            if ((reply->nlmsg_flags & NLM_F_MULTI) == 0)
                return Ok{};
        }
    }
}

Result<RouteAnswer> NetlinkObserver::lookup(int family, const std::uint8_t* address,
                                            std::size_t size, const std::string& what) {
    if (!requests_)
        return make_error(what + ": netlink observer is not started");
    rtmsg rt{};
    rt.rtm_family = static_cast<std::uint8_t>(family);
    rt.rtm_dst_len = static_cast<std::uint8_t>(size * 8);
    MessagePtr message = make_request(RTM_GETROUTE, NLM_F_REQUEST, &rt, sizeof rt);
    if (!message || nla_put(message.get(), RTA_DST, static_cast<int>(size), address) < 0)
        return make_error(what + ": cannot build the request");
    std::optional<RouteAnswer> answer;
    Status status = transact(message.get(), what,
                             [&](const nlmsghdr* reply) { answer = parse_route_answer(reply); });
    if (!status)
        return status.error();
    if (!answer || answer->oif == 0)
        return make_error(what + ": the kernel's answer names no output device");
    return *answer;
}

Result<RouteLookup> NetlinkObserver::lookup_route(const Ipv6Address& dst) {
    auto answer =
        lookup(AF_INET6, dst.bytes.data(), dst.bytes.size(), "route lookup " + dst.to_string());
    if (!answer)
        return answer.error();
    return RouteLookup{answer->oif, ifname(answer->oif), answer->source_v6};
}

Result<RouteLookupV4> NetlinkObserver::lookup_route(const Ipv4Address& dst) {
    auto answer =
        lookup(AF_INET, dst.bytes.data(), dst.bytes.size(), "route lookup " + dst.to_string());
    if (!answer)
        return answer.error();
    return RouteLookupV4{answer->oif, ifname(answer->oif), answer->source_v4};
}

std::string NetlinkObserver::ifname(int ifindex) const {
    if (const Link* link = observed_.link_by_index(ifindex))
        return link->name;
    char name[IF_NAMESIZE] = {};
    return ::if_indextoname(static_cast<unsigned>(ifindex), name) != nullptr ? name : "";
}

void NetlinkObserver::after_change() {
    schedule_expiry();
    notify();
}

void NetlinkObserver::notify() {
    if (notify_pending_)
        return;
    notify_pending_ = true;
    boost::asio::post(io_, [this, alive = std::weak_ptr<int>(alive_)] {
        if (alive.expired())
            return;
        notify_pending_ = false;
        ++stats_.notifications;
        notified_ = pending_;
        notified_.notification = stats_.notifications;
        pending_ = {};
        try {
            if (on_change_)
                on_change_();
        } catch (const std::exception& e) {
            spdlog::error("netlink observer: change handler failed: {}", e.what());
        }
    });
}

void NetlinkObserver::schedule_expiry() {
    const std::optional<std::int64_t> earliest = earliest_pref64_expiry(observed_);
    if (!earliest) {
        expiry_timer_.cancel();
        return;
    }
    const std::int64_t delay = std::max<std::int64_t>(0, *earliest - now_ms_());
    expiry_timer_.expires_after(std::chrono::milliseconds(delay));
    expiry_timer_.async_wait(
        [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
            if (ec || alive.expired())
                return;
            if (expire_pref64(observed_, now_ms_()))
                notify();
            schedule_expiry();
        });
}

void NetlinkObserver::schedule_resync_retry() {
    retry_timer_.expires_after(kResyncRetry);
    retry_timer_.async_wait(
        [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
            if (ec || alive.expired())
                return;
            if (Status done = resync(); done) {
                after_change();
            } else {
                spdlog::warn("netlink resync failed: {}", done.error().message);
                schedule_resync_retry();
            }
        });
}

}  // namespace clat
