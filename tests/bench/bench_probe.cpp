// clat_bench probe: a tight IPv4 probe loop. Every --interval-ms it starts a non-blocking TCP
// connect to --dst:--port and reports the steady-clock µs of the first answer (SYN-ACK, or
// RST: either came back through the CLAT). With --new-prefix P --dev D, only answers after
// the first IPv6 reply packet addressed into P arrived on D count (renumbering: IPv4 works
// through the *new* CLAT address); with --watch-prefix, also when an address in P on D
// became usable (not tentative).

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "states/ip.hpp"
#include "tests/bench/bench_util.hpp"

namespace clat::test {
namespace {

constexpr std::size_t kMaxOpen = 400;
constexpr std::uint8_t kTcp = 6;

struct Attempt {
    int fd = -1;
    std::int64_t started_us = 0;
};

/// Opens a non-blocking connect; nullopt when it failed at once (no route yet).
std::optional<Attempt> start_attempt(const sockaddr_in& target) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof target);
    if (rc == 0 || errno == EINPROGRESS)
        return Attempt{fd, steady_us()};
    ::close(fd);
    return std::nullopt;
}

/// True if the connect completed with an answer from the far side.
bool answered(int fd) {
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
    return error == 0 || error == ECONNREFUSED;
}

/// IPv6 packets arriving on a device: the first TCP packet from the probed port addressed
/// into a prefix.
class ReplyWatch {
  public:
    ReplyWatch(const std::string& dev, const Ipv6Prefix& prefix, std::uint16_t port)
        : prefix_(prefix), port_(port) {
        // ETH_P_ALL, not ETH_P_IPV6: only taps for every protocol see a packet before tc
        // ingress, where the eBPF data path translates it and moves it to the CLAT device.
        fd_ = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
        if (fd_ < 0)
            throw std::runtime_error(std::string("packet socket: ") + std::strerror(errno));
        sockaddr_ll where{};
        where.sll_family = AF_PACKET;
        where.sll_protocol = htons(ETH_P_ALL);
        where.sll_ifindex = static_cast<int>(::if_nametoindex(dev.c_str()));
        if (where.sll_ifindex == 0 ||
            ::bind(fd_, reinterpret_cast<sockaddr*>(&where), sizeof where) != 0)
            throw std::runtime_error("cannot watch packets on " + dev);
    }
    ~ReplyWatch() { ::close(fd_); }
    ReplyWatch(const ReplyWatch&) = delete;
    ReplyWatch& operator=(const ReplyWatch&) = delete;
    int fd() const { return fd_; }

    /// Reads what is queued; true once a matching packet was seen.
    bool drain() {
        std::uint8_t packet[128];
        sockaddr_ll from{};
        socklen_t from_size = sizeof from;
        for (ssize_t n; (n = ::recvfrom(fd_, packet, sizeof packet, MSG_TRUNC,
                                        reinterpret_cast<sockaddr*>(&from), &from_size)) > 0;
             from_size = sizeof from) {
            // Fixed header (40 bytes): next header at 6, destination at 24; TCP ports follow.
            if (from.sll_protocol != htons(ETH_P_IPV6) || n < 44 || packet[6] != kTcp)
                continue;
            Ipv6Address dst;
            std::memcpy(dst.bytes.data(), packet + 24, 16);
            const std::uint16_t source_port =
                static_cast<std::uint16_t>(packet[40] << 8 | packet[41]);
            if (source_port == port_ && prefix_.contains(dst))
                return true;
        }
        return false;
    }

  private:
    Ipv6Prefix prefix_;
    std::uint16_t port_;
    int fd_ = -1;
};

/// Address notifications: the first usable (not tentative) address inside a prefix.
class AddressWatch {
  public:
    explicit AddressWatch(const Ipv6Prefix& prefix)
        : prefix_(prefix), socket_(RTMGRP_IPV6_IFADDR) {}
    int fd() const { return socket_.fd(); }
    bool drain() {
        bool seen = false;
        while (socket_.receive(0, [&](const nlmsghdr* m) { seen = seen || usable(m); })) {
        }
        return seen;
    }

  private:
    bool usable(const nlmsghdr* m) const {
        if (m->nlmsg_type != RTM_NEWADDR)
            return false;
        const auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(m));
        std::uint32_t flags = ifa->ifa_flags;
        std::optional<Ipv6Address> address;
        int length = static_cast<int>(IFA_PAYLOAD(m));
        for (auto* a = IFA_RTA(ifa); RTA_OK(a, length); a = RTA_NEXT(a, length)) {
            if (a->rta_type == IFA_ADDRESS && RTA_PAYLOAD(a) == 16) {
                address.emplace();
                std::memcpy(address->bytes.data(), RTA_DATA(a), 16);
            } else if (a->rta_type == IFA_FLAGS && RTA_PAYLOAD(a) == 4) {
                std::memcpy(&flags, RTA_DATA(a), 4);
            }
        }
        return address && prefix_.contains(*address) && (flags & IFA_F_TENTATIVE) == 0;
    }
    Ipv6Prefix prefix_;
    RawNetlink socket_;
};

}  // namespace

int run_probe(const Options& options) {
    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_port = htons(static_cast<std::uint16_t>(options.number("port", 80)));
    if (::inet_pton(AF_INET, options.text("dst", "198.51.100.10").c_str(), &target.sin_addr) != 1)
        throw std::runtime_error("bad --dst");
    const std::int64_t interval_us = options.number("interval-ms", 5) * 1000;
    const std::int64_t deadline = steady_us() + options.number("timeout-ms", 15000) * 1000;
    std::unique_ptr<ReplyWatch> replies;
    std::unique_ptr<AddressWatch> addresses;
    if (options.has("new-prefix")) {
        auto prefix = Ipv6Prefix::parse(options.text("new-prefix"));
        if (!prefix)
            throw std::runtime_error("bad --new-prefix");
        replies = std::make_unique<ReplyWatch>(options.text("dev", "eth0"), *prefix,
                                               ntohs(target.sin_port));
        addresses = std::make_unique<AddressWatch>(*prefix);
    }
    if (options.has("ready-file"))
        std::ofstream(options.text("ready-file")) << steady_us() << "\n";

    std::deque<Attempt> open;
    std::int64_t next_start = 0, path_us = 0, address_us = 0, reply_us = 0;
    long long attempts = 0;
    while (reply_us == 0 && steady_us() < deadline) {
        if (steady_us() >= next_start) {
            next_start = steady_us() + interval_us;
            ++attempts;
            if (auto a = start_attempt(target))
                open.push_back(*a);
            if (open.size() > kMaxOpen) {
                ::close(open.front().fd);
                open.pop_front();
            }
        }
        std::vector<pollfd> fds;
        for (const auto& a : open)
            fds.push_back({a.fd, POLLOUT, 0});
        if (replies)
            fds.push_back({replies->fd(), POLLIN, 0});
        if (addresses)
            fds.push_back({addresses->fd(), POLLIN, 0});
        const auto wait_ms = static_cast<int>((next_start - steady_us() + 999) / 1000);
        ::poll(fds.data(), fds.size(), std::max(0, wait_ms));
        // The IPv6 side first: a reply packet reaches the uplink before TAYGA hands it on.
        if (addresses && address_us == 0 && addresses->drain())
            address_us = steady_us();
        if (replies && path_us == 0 && replies->drain())
            path_us = steady_us();
        const bool counting = !replies || path_us != 0;
        for (std::size_t i = 0; i < open.size();) {
            if ((fds[i].revents & (POLLOUT | POLLERR | POLLHUP)) == 0) {
                ++i;
                continue;
            }
            if (counting && answered(open[i].fd) && reply_us == 0)
                reply_us = steady_us();
            ::close(open[i].fd);
            open.erase(open.begin() + static_cast<long>(i));
            fds.erase(fds.begin() + static_cast<long>(i));
        }
    }
    for (const auto& a : open)
        ::close(a.fd);
    std::printf("reply_us=%lld attempts=%lld\n", static_cast<long long>(reply_us), attempts);
    if (replies)
        std::printf("path_us=%lld address_us=%lld\n", static_cast<long long>(path_us),
                    static_cast<long long>(address_us));
    return reply_us != 0 ? 0 : 1;
}

}  // namespace clat::test
