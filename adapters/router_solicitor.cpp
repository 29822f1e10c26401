#include "adapters/router_solicitor.hpp"

#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace clat {

namespace {

std::string reason(int error) {
    return std::strerror(error);
}

}  // namespace

RouterSolicitor::RouterSolicitor(boost::asio::io_context& io, Options options)
    : timer_(io), options_(options) {}

RouterSolicitor::~RouterSolicitor() {
    timer_.cancel();
    if (fd_ >= 0)
        ::close(fd_);
}

void RouterSolicitor::solicit(int ifindex, std::string ifname) {
    const std::uint64_t round = ++round_;
    timer_.cancel();
    ifindex_ = ifindex;
    ifname_ = std::move(ifname);
    attempts_ = 0;
    sent_ = 0;
    round_warned_ = false;
    active_ = true;
    spdlog::info("router-solicit dev={} count={} interval={}ms", ifname_,
                 options_.max_solicitations, options_.interval.count());
    send_one(round);
}

void RouterSolicitor::cancel() {
    ++round_;
    timer_.cancel();
    if (active_)
        spdlog::debug("router-solicit stop dev={} sent={}", ifname_, sent_);
    active_ = false;
}

void RouterSolicitor::send_one(std::uint64_t round) {
    ++attempts_;
    if (auto sent = send_rs(); sent) {
        ++sent_;
        spdlog::debug("router-solicit sent dev={} n={}/{}", ifname_, attempts_,
                      options_.max_solicitations);
    } else {
        fail(sent.error());
    }
    if (attempts_ >= options_.max_solicitations) {
        active_ = false;
        return;
    }
    timer_.expires_after(options_.interval);
    // `this` outlives every wait: the destructor cancels the timer, and an aborted wait
    // returns before touching it. The round number drops a wait that expired just before a
    // cancel() or a new solicit() could abort it.
    timer_.async_wait([this, round](const boost::system::error_code& ec) {
        if (ec || round != round_)
            return;
        send_one(round);
    });
}

Status RouterSolicitor::open_socket() {
    if (fd_ >= 0)
        return Ok{};
    const int fd = ::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    if (fd < 0)
        return make_error("cannot open a raw ICMPv6 socket: " + reason(errno));
    // Send-only: without a filter a raw ICMPv6 socket queues a copy of every ICMPv6 packet
    // the host receives (RFC 3542 §3.2), which nobody would read.
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    // RFC 4861 §6.1.1: a router discards an RS whose hop limit is not 255.
    const int hops = 255;
    const int loop = 0;
    if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0 ||
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0 ||
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop) != 0) {
        const int error = errno;
        ::close(fd);
        return make_error("cannot set up the raw ICMPv6 socket: " + reason(error));
    }
    fd_ = fd;
    return Ok{};
}

Status RouterSolicitor::send_rs() {
    if (auto opened = open_socket(); !opened) {
        // Not worth a warning per round: the cause (no CAP_NET_RAW) does not go away.
        round_warned_ = true;
        if (!open_warned_) {
            open_warned_ = true;
            spdlog::warn("router-solicit dev={} disabled: {}", ifname_, opened.error().message);
        }
        return opened;
    }
    const auto index = static_cast<unsigned>(ifindex_);
    if (::setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof index) != 0)
        return make_error("router solicitation on " + ifname_ + ": " + reason(errno));
    // RFC 4861 §4.1: type 133, code 0, checksum (the kernel computes it on raw ICMPv6
    // sockets, RFC 3542 §3.1), 4 reserved bytes. No source link-layer address option: it is
    // optional, and would be forbidden if the kernel had to pick the unspecified source.
    nd_router_solicit rs{};
    rs.nd_rs_type = ND_ROUTER_SOLICIT;
    rs.nd_rs_code = 0;
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    to.sin6_scope_id = index;
    // ff02::2, all-routers (RFC 4291 §2.7.1).
    to.sin6_addr.s6_addr[0] = 0xff;
    to.sin6_addr.s6_addr[1] = 0x02;
    to.sin6_addr.s6_addr[15] = 0x02;
    const ssize_t n =
        ::sendto(fd_, &rs, sizeof rs, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    if (n < 0)
        return make_error("router solicitation on " + ifname_ + ": " + reason(errno));
    return Ok{};
}

void RouterSolicitor::fail(Error error) {
    if (!round_warned_) {
        round_warned_ = true;
        spdlog::warn("router-solicit failed dev={}: {}", ifname_, error.message);
    } else {
        spdlog::debug("router-solicit failed dev={}: {}", ifname_, error.message);
    }
    last_error_ = std::move(error);
}

}  // namespace clat
