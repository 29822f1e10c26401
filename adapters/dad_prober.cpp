#include "adapters/dad_prober.hpp"

#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip6.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "adapters/sysctl.hpp"

namespace clat {

namespace {

constexpr std::uint8_t kNonceOption = 14;  // RFC 7527 §4.1
constexpr std::size_t kNsLength = sizeof(nd_neighbor_solicit);
constexpr std::size_t kNonceLength = 8;  // one 8-octet unit: type, length, 6-octet nonce

std::string reason(int error) {
    return std::strerror(error);
}

int sysctl_int(const std::string& path, int fallback) {
    auto value = sysctl::read(path);
    if (!value)
        return fallback;
    try {
        return std::stoi(*value);
    } catch (...) {
        return fallback;
    }
}

/// ff02::1:ffXX:XXXX, the address's solicited-node group (RFC 4291 §2.7.1).
in6_addr solicited_node(const Ipv6Address& a) {
    in6_addr group{};
    group.s6_addr[0] = 0xff;
    group.s6_addr[1] = 0x02;
    group.s6_addr[11] = 0x01;
    group.s6_addr[12] = 0xff;
    std::copy(a.bytes.begin() + 13, a.bytes.end(), group.s6_addr + 13);
    return group;
}

/// The ICMPv6 checksum over the pseudo-header (RFC 8200 §8.1) and the message.
std::uint16_t icmp6_checksum(const in6_addr& src, const in6_addr& dst, const std::uint8_t* msg,
                             std::size_t length) {
    std::uint32_t sum = 0;
    auto add = [&](const std::uint8_t* p, std::size_t n) {
        for (std::size_t i = 0; i + 1 < n; i += 2)
            sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
        if (n % 2 != 0)
            sum += static_cast<std::uint32_t>(p[n - 1] << 8);
    };
    add(src.s6_addr, 16);
    add(dst.s6_addr, 16);
    sum += static_cast<std::uint32_t>(length);
    sum += IPPROTO_ICMPV6;
    add(msg, length);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

}  // namespace

DadTiming DadTiming::of_device(const std::string& dev) {
    DadTiming t;
    // The kernel runs DAD when accept_dad is at least 1 on all or on the device.
    const int accept = std::max(sysctl_int("net/ipv6/conf/all/accept_dad", 1),
                                sysctl_int("net/ipv6/conf/" + dev + "/accept_dad", 1));
    t.transmits = sysctl_int("net/ipv6/conf/" + dev + "/dad_transmits", 1);
    t.retrans =
        std::chrono::milliseconds(sysctl_int("net/ipv6/neigh/" + dev + "/retrans_time_ms", 1000));
    t.enabled = accept >= 1 && t.transmits > 0;
    return t;
}

DadProber::DadProber(boost::asio::io_context& io) : io_(io), listen_(io), timer_(io) {}

DadProber::~DadProber() {
    timer_.cancel();
    close_sockets();
}

Status DadProber::probe(int ifindex, const std::string& dev, const Ipv6Address& address) {
    cancel();
    const std::uint64_t round = round_;
    ifindex_ = ifindex;
    dev_ = dev;
    address_ = address;
    sent_ = 0;
    timing_ = DadTiming::of_device(dev);
    if (!timing_.enabled) {
        running_ = true;
        spdlog::info("dad start address={} dev={}: DAD is off on the device", address.to_string(),
                     dev);
        boost::asio::post(io_, [this, round] {
            if (round == round_)
                finish(false, "DAD is off on " + dev_);
        });
        return Ok{};
    }
    if (auto opened = open_sockets(ifindex, dev, address); !opened) {
        close_sockets();
        return opened;
    }
    std::random_device random;
    for (auto& byte : nonce_)
        byte = static_cast<std::uint8_t>(random());
    running_ = true;
    spdlog::info("dad start address={} dev={} transmits={} retrans={}ms", address.to_string(), dev,
                 timing_.transmits, timing_.retrans.count());
    wait_packet(round);
    send_next(round);
    return Ok{};
}

void DadProber::cancel() {
    ++round_;
    timer_.cancel();
    if (running_)
        spdlog::debug("dad stop address={} dev={} sent={}", address_.to_string(), dev_, sent_);
    running_ = false;
    close_sockets();
}

Status DadProber::open_sockets(int ifindex, const std::string& dev, const Ipv6Address& address) {
    auto fail = [&](const std::string& what) {
        return make_error("DAD on " + dev + ": " + what + ": " + reason(errno));
    };
    const int listen_fd =
        ::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    if (listen_fd < 0)
        return fail("cannot open a raw ICMPv6 socket");
    boost::system::error_code ec;
    listen_.assign(listen_fd, ec);
    if (ec) {
        ::close(listen_fd);
        return make_error("DAD on " + dev + ": " + ec.message());
    }
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ND_NEIGHBOR_SOLICIT, &filter);
    ICMP6_FILTER_SETPASS(ND_NEIGHBOR_ADVERT, &filter);
    const int on = 1;
    // RFC 4862 §5.4.2: join the solicited-node group before probing, so that another node's
    // probe for the same address reaches us (the proxy entry joins it too, but only while
    // one is in place).
    ipv6_mreq join{};
    join.ipv6mr_multiaddr = solicited_node(address);
    join.ipv6mr_interface = static_cast<unsigned>(ifindex);
    if (::setsockopt(listen_fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0 ||
        ::setsockopt(listen_fd, SOL_SOCKET, SO_BINDTODEVICE, dev.c_str(),
                     static_cast<socklen_t>(dev.size())) != 0 ||
        ::setsockopt(listen_fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) != 0 ||
        ::setsockopt(listen_fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &join, sizeof join) != 0)
        return fail("cannot set up the listening socket");
    // IPPROTO_RAW: the header is ours (IPV6_HDRINCL), the only way to send from the
    // unspecified address, which the kernel never picks as a source by itself.
    send_fd_ = ::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (send_fd_ < 0)
        return fail("cannot open a raw IPv6 socket");
    const int loop = 0;
    if (::setsockopt(send_fd_, SOL_SOCKET, SO_BINDTODEVICE, dev.c_str(),
                     static_cast<socklen_t>(dev.size())) != 0 ||
        ::setsockopt(send_fd_, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop) != 0)
        return fail("cannot set up the sending socket");
    return Ok{};
}

void DadProber::close_sockets() {
    boost::system::error_code ec;
    if (listen_.is_open())
        listen_.close(ec);
    if (send_fd_ >= 0)
        ::close(send_fd_);
    send_fd_ = -1;
}

void DadProber::send_next(std::uint64_t round) {
    if (round != round_)
        return;
    if (sent_ >= timing_.transmits) {
        finish(false, std::to_string(sent_) + " solicitations unanswered");
        return;
    }
    // RFC 4861 §4.3: an NS from the unspecified address carries no source link-layer address.
    std::array<std::uint8_t, sizeof(ip6_hdr) + kNsLength + kNonceLength> packet{};
    auto* ip = reinterpret_cast<ip6_hdr*>(packet.data());
    ip->ip6_flow = htonl(6U << 28);
    ip->ip6_plen = htons(static_cast<std::uint16_t>(kNsLength + kNonceLength));
    ip->ip6_nxt = IPPROTO_ICMPV6;
    ip->ip6_hlim = 255;  // RFC 4861 §7.1.1: anything else is discarded
    ip->ip6_src = in6addr_any;
    ip->ip6_dst = solicited_node(address_);
    std::uint8_t* icmp = packet.data() + sizeof(ip6_hdr);
    icmp[0] = ND_NEIGHBOR_SOLICIT;
    std::copy(address_.bytes.begin(), address_.bytes.end(), icmp + 8);
    icmp[kNsLength] = kNonceOption;
    icmp[kNsLength + 1] = 1;
    std::copy(nonce_.begin(), nonce_.end(), icmp + kNsLength + 2);
    const std::uint16_t sum =
        icmp6_checksum(ip->ip6_src, ip->ip6_dst, icmp, kNsLength + kNonceLength);
    icmp[2] = static_cast<std::uint8_t>(sum >> 8);
    icmp[3] = static_cast<std::uint8_t>(sum & 0xff);
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    to.sin6_addr = ip->ip6_dst;
    to.sin6_scope_id = static_cast<std::uint32_t>(ifindex_);
    if (::sendto(send_fd_, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof to) < 0) {
        // Not a verdict: it is sent again a RetransTimer later. Only solicitations that went
        // out count, so a probe that cannot send never passes (the machine's DAD timeout
        // ends it).
        spdlog::warn("dad send failed address={} dev={}: {}", address_.to_string(), dev_,
                     reason(errno));
    } else {
        ++sent_;
    }
    timer_.expires_after(timing_.retrans);
    // `this` outlives every wait: the destructor cancels the timer, and the round number
    // drops a wait that completed just before a cancel() or a new probe().
    timer_.async_wait([this, round](const boost::system::error_code& ec) {
        if (ec || round != round_)
            return;
        send_next(round);
    });
}

void DadProber::wait_packet(std::uint64_t round) {
    listen_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [this, round](const boost::system::error_code& ec) {
                           if (ec || round != round_)
                               return;
                           read_packets();
                           if (round == round_)
                               wait_packet(round);
                       });
}

void DadProber::read_packets() {
    const std::uint64_t round = round_;
    while (round == round_ && listen_.is_open()) {
        std::array<std::uint8_t, 1500> buffer{};
        sockaddr_in6 from{};
        alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
        iovec iov{buffer.data(), buffer.size()};
        msghdr msg{};
        msg.msg_name = &from;
        msg.msg_namelen = sizeof from;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        const ssize_t n = ::recvmsg(listen_.native_handle(), &msg, 0);
        if (n < 0)
            return;  // EAGAIN: drained (any other error: the next wait reports it again)
        int hops = -1;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)
                std::memcpy(&hops, CMSG_DATA(c), sizeof hops);
        }
        const auto length = static_cast<std::size_t>(n);
        // RFC 4861 §7.1: hop limit 255, code 0, at least the fixed part with the target.
        if (hops != 255 || length < kNsLength || buffer[1] != 0)
            continue;
        if (!std::equal(address_.bytes.begin(), address_.bytes.end(), buffer.begin() + 8))
            continue;
        Ipv6Address source;
        std::copy(std::begin(from.sin6_addr.s6_addr), std::end(from.sin6_addr.s6_addr),
                  source.bytes.begin());
        if (buffer[0] == ND_NEIGHBOR_ADVERT) {
            finish(true, "neighbour advertisement from " + source.to_string());
            return;
        }
        // A solicitation from a node that has the address resolves it: not DAD. One from the
        // unspecified address is another node's probe, unless it carries our nonce (our own,
        // looped back).
        if (!source.is_unspecified())
            continue;
        bool ours = false;
        for (std::size_t at = kNsLength; at + 2 <= length && buffer[at + 1] != 0;
             at += buffer[at + 1] * 8u) {
            if (buffer[at] == kNonceOption && buffer[at + 1] == 1 && at + kNonceLength <= length &&
                std::equal(nonce_.begin(), nonce_.end(), buffer.begin() + at + 2))
                ours = true;
        }
        if (ours)
            continue;
        finish(true, "another node probes for it (DAD)");
        return;
    }
}

void DadProber::finish(bool duplicate, std::string detail) {
    const Ipv6Address address = address_;
    cancel();
    if (sink_)
        sink_(event::DadProbeFinished{address, duplicate, std::move(detail)});
}

}  // namespace clat
