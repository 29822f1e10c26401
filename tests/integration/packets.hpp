#pragma once
/// Raw packets for the data-path tests: builders of IPv4/IPv6 packets with TCP, UDP or ICMP,
/// a checksum verifier, and sockets that send or capture frames in a given network namespace.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace clat::test {

using Bytes = std::vector<std::uint8_t>;

inline std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2)
        sum += static_cast<std::uint32_t>(p[n - 1] << 8);
    return sum;
}

inline std::uint16_t fold16(std::uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

inline void put16(Bytes& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}

inline std::uint16_t get16(const Bytes& b, std::size_t at) {
    return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

/// The L4 segment of an IP packet of family 4 or 6: where it starts and what the checksum
/// over it and its pseudo-header folds to (0 when valid).
inline std::uint16_t l4_residue(const Bytes& ip, int family) {
    const std::size_t l4 = family == 4 ? static_cast<std::size_t>((ip[0] & 0xf) * 4) : 40;
    const std::uint8_t proto = family == 4 ? ip[9] : ip[6];
    const std::size_t length = ip.size() - l4;
    std::uint32_t sum = sum16(ip.data() + l4, length);
    if (family == 4 && proto == IPPROTO_ICMP)
        return fold16(sum);
    sum = sum16(ip.data() + (family == 4 ? 12 : 8), family == 4 ? 8 : 32, sum);
    sum += proto;
    sum += static_cast<std::uint32_t>(length);
    return fold16(sum);
}

/// An L4 segment: TCP (a SYN with data), UDP or ICMP echo request, with a zero checksum.
inline Bytes l4_segment(std::uint8_t proto, std::uint16_t id, const std::string& data, bool v6) {
    Bytes b;
    if (proto == IPPROTO_TCP) {
        b.assign(20, 0);
        put16(b, 0, 40000);
        put16(b, 2, id);
        b[12] = 0x50;
        b[13] = 0x18;  // PSH, ACK
        put16(b, 14, 512);
    } else if (proto == IPPROTO_UDP) {
        b.assign(8, 0);
        put16(b, 0, 40000);
        put16(b, 2, id);
        put16(b, 4, static_cast<std::uint16_t>(8 + data.size()));
    } else {
        b.assign(8, 0);
        b[0] = v6 ? 128 : 8;
        put16(b, 4, id);
        put16(b, 6, 1);
    }
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

/// An IPv4 packet around segment, with valid header and L4 checksums.
inline Bytes ipv4_packet(std::uint8_t proto, const std::array<std::uint8_t, 4>& src,
                         const std::array<std::uint8_t, 4>& dst, Bytes segment,
                         std::uint8_t tos = 0x28, std::uint8_t ttl = 17,
                         std::uint16_t frag = 0x4000) {
    Bytes p(20, 0);
    p[0] = 0x45;
    p[1] = tos;
    put16(p, 2, static_cast<std::uint16_t>(20 + segment.size()));
    put16(p, 4, 0x1234);
    put16(p, 6, frag);
    p[8] = ttl;
    p[9] = proto;
    std::memcpy(&p[12], src.data(), 4);
    std::memcpy(&p[16], dst.data(), 4);
    p.insert(p.end(), segment.begin(), segment.end());
    const std::size_t check = proto == IPPROTO_TCP ? 16 : (proto == IPPROTO_UDP ? 6 : 2);
    put16(p, 20 + check, l4_residue(p, 4));
    put16(p, 10, fold16(sum16(p.data(), 20)));
    return p;
}

/// An IPv6 packet around segment, with a valid L4 checksum.
inline Bytes ipv6_packet(std::uint8_t proto, const std::array<std::uint8_t, 16>& src,
                         const std::array<std::uint8_t, 16>& dst, Bytes segment,
                         std::uint8_t tclass = 0x28, std::uint8_t hop_limit = 17) {
    Bytes p(40, 0);
    p[0] = static_cast<std::uint8_t>(0x60 | tclass >> 4);
    p[1] = static_cast<std::uint8_t>(tclass << 4);
    put16(p, 4, static_cast<std::uint16_t>(segment.size()));
    p[6] = proto == IPPROTO_ICMP ? std::uint8_t{IPPROTO_ICMPV6} : proto;
    p[7] = hop_limit;
    std::memcpy(&p[8], src.data(), 16);
    std::memcpy(&p[24], dst.data(), 16);
    p.insert(p.end(), segment.begin(), segment.end());
    const std::size_t check = proto == IPPROTO_TCP ? 16 : (proto == IPPROTO_UDP ? 6 : 2);
    put16(p, 40 + check, l4_residue(p, 6));
    return p;
}

/// Runs make() with the calling thread in the network namespace of pid, then returns.
inline int in_netns(pid_t pid, const std::function<int()>& make) {
    const int home = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    const int there =
        ::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
    if (home < 0 || there < 0 || ::setns(there, CLONE_NEWNET) != 0)
        throw std::runtime_error("setns failed");
    const int fd = make();
    (void)!::setns(home, CLONE_NEWNET);
    ::close(home);
    ::close(there);
    return fd;
}

/// An AF_PACKET socket bound to dev of the current namespace (all protocols).
inline int packet_socket(const std::string& dev) {
    const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
    sockaddr_ll a{};
    a.sll_family = AF_PACKET;
    a.sll_protocol = htons(ETH_P_ALL);
    a.sll_ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
    if (fd < 0 || a.sll_ifindex == 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
        throw std::runtime_error("packet socket on " + dev + " failed");
    return fd;
}

/// Opens the tun dev (IFF_TUN | IFF_NO_PI) and holds it, so it has carrier; what the kernel
/// sends to it can be read.
inline int open_tun(const std::string& dev) {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    ifreq r{};
    r.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(r.ifr_name, dev.c_str(), IFNAMSIZ - 1);
    if (fd < 0 || ::ioctl(fd, TUNSETIFF, &r) != 0)
        throw std::runtime_error("TUNSETIFF " + dev + " failed");
    return fd;
}

/// The first frame read from fd within timeout that match accepts (skipping outgoing copies
/// of AF_PACKET sockets), with offset bytes of link-layer header removed.
inline std::optional<Bytes> capture(int fd, std::size_t offset,
                                    const std::function<bool(const Bytes&)>& match,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::array<std::uint8_t, 70000> buffer{};
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0)
            continue;
        sockaddr_ll from{};
        socklen_t length = sizeof(from);
        ssize_t n = ::recvfrom(fd, buffer.data(), buffer.size(), 0,
                               reinterpret_cast<sockaddr*>(&from), &length);
        if (n < 0 && errno == ENOTSOCK)  // a tun's file descriptor
            n = ::read(fd, buffer.data(), buffer.size());
        if (n <= static_cast<ssize_t>(offset) || from.sll_pkttype == PACKET_OUTGOING)
            continue;
        Bytes frame(buffer.begin() + static_cast<std::ptrdiff_t>(offset), buffer.begin() + n);
        if (match(frame))
            return frame;
    }
    return std::nullopt;
}

}  // namespace clat::test
