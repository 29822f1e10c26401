#pragma once
/// The bed of the eBPF translator's kernel tests: a CLAT tun and a veth uplink to a peer
/// namespace that holds the IPv6 server, with both programs attached and configured for
/// 2001:db8:64::/96. Crafted IPv4 enters the tun (routed, or written on it with AF_PACKET),
/// crafted IPv6 comes from the peer; what the programs make is captured where it goes.

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "adapters/bpf_programs.hpp"
#include "adapters/bpf_tc.hpp"
#include "tests/integration/harness.hpp"
#include "tests/integration/packets.hpp"

namespace clat::test {

using V4 = std::array<std::uint8_t, 4>;
using V6 = std::array<std::uint8_t, 16>;

inline constexpr V4 kClatV4{192, 0, 0, 1};
inline constexpr V4 kTaygaV4{192, 0, 0, 2};
inline constexpr V4 kDummyV4{192, 0, 0, 8};
inline constexpr V4 kServerV4{198, 51, 100, 10};
inline const char* const kServerV6 = "2001:db8:64::c633:640a";
inline const char* const kClatV6 = "2001:db8:1::c1a7";
inline const char* const kUplinkV6 = "2001:db8:1::1";
inline const char* const kPeerV6 = "2001:db8:1::2";  ///< an IPv6-only router: outside the prefix

inline V6 v6(const std::string& text) {
    return Ipv6Address::parse(text)->bytes;
}

inline std::string mac_of(const std::string& where) {
    return sh(where + " | sed -n 's/.*link\\/ether \\([0-9a-f:]*\\).*/\\1/p' | tr -d '\\n'");
}

/// The packet carries the marker somewhere.
inline bool carries(const Bytes& ip, const std::string& marker) {
    return std::search(ip.begin(), ip.end(), marker.begin(), marker.end()) != ip.end();
}

/// How many packets the programs left to the normal path for reason.
inline std::uint64_t left_count(const BpfCounters& counters, const std::string& reason) {
    for (const auto& [name, n] : counters.left) {
        if (name == reason)
            return n;
    }
    FAIL("no left counter " << reason);
    return 0;
}

/// Host side (this namespace): tun <tag>clat, 192.0.0.1 on it and 198.51.100.0/24 through
/// it; veth <tag>up to the peer, 2001:db8::/32 via the peer, the CLAT IPv6 address routed
/// into the tun (the normal path, as clatd does). Peer: <tag>pe, the server's IPv6 address on
/// lo, the CLAT address as a static neighbour. With hold_tun the test holds the tun open (it
/// reads what reaches it); without, the tun is persistent and free for TAYGA.
struct Bed {
    std::string tag, clat, up, pe;
    PeerNetns peer;
    int tun = -1;
    std::unique_ptr<BpfPrograms> programs;

    explicit Bed(const std::string& t, bool hold_tun = true)
        : tag(t), clat(t + "clat"), up(t + "up"), pe(t + "pe") {
        if (hold_tun)
            tun = open_tun(clat);
        else
            sh("ip tuntap add mode tun name " + clat);
        const std::string pid = std::to_string(peer.pid());
        sh("ip link set " + clat + " up && ip addr add 192.0.0.1/32 dev " + clat +
           " && ip route add 198.51.100.0/24 dev " + clat + " src 192.0.0.1");
        sh("ip link add " + up + " type veth peer name " + pe + " && ip link set " + pe +
           " netns " + pid + " && ip -6 addr add " + kUplinkV6 + "/64 dev " + up +
           " nodad && ip link set " + up + " up");
        peer.sh("ip -6 addr add " + std::string(kPeerV6) + "/64 dev " + pe +
                " nodad && ip link set " + pe + " up && ip -6 addr add " + kServerV6 +
                "/128 dev lo nodad");
        const std::string up_mac = mac_of("ip link show " + up);
        const std::string pe_mac =
            mac_of("nsenter --net=/proc/" + pid + "/ns/net ip link show " + pe);
        sh("ip -6 neigh replace " + std::string(kPeerV6) + " lladdr " + pe_mac + " dev " + up +
           " nud permanent && ip -6 route add 2001:db8::/32 via " + kPeerV6 + " dev " + up);
        peer.sh(std::string("ip -6 neigh replace ") + kClatV6 + " lladdr " + up_mac + " dev " + pe +
                " nud permanent");
        // The normal path for what the programs leave: forwarded to the tun, as clatd does.
        sh("sysctl -qw net.ipv6.conf.all.forwarding=1 && ip -6 route add " + std::string(kClatV6) +
           " dev " + clat);
        auto loaded = BpfPrograms::load();
        REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
        programs = std::move(*loaded);
        configure("2001:db8:64::/96");
        REQUIRE(bpf_tc::create_clsact(clat).ok());
        REQUIRE(
            bpf_tc::attach(clat, bpf_tc::Hook::kEgress, programs->program_fd(bpf_tc::Hook::kEgress))
                .ok());
        REQUIRE(bpf_tc::create_clsact(up).ok());
        REQUIRE(
            bpf_tc::attach(up, bpf_tc::Hook::kIngress, programs->program_fd(bpf_tc::Hook::kIngress))
                .ok());
    }
    ~Bed() {
        if (tun >= 0)
            ::close(tun);
        sh_status("ip link del " + up);
        sh_status("ip link del " + clat);
        sh_status("sysctl -qw net.ipv6.conf.all.forwarding=0");
    }
    Bed(const Bed&) = delete;
    Bed& operator=(const Bed&) = delete;

    void configure(const std::string& prefix) {
        BpfTranslation t;
        t.plat_prefix = *Ipv6Prefix::parse(prefix);
        t.clat_v6 = *Ipv6Address::parse(kClatV6);
        t.clat_v4 = Ipv4Address{kClatV4};
        t.tayga_v4 = Ipv4Address{kTaygaV4};
        t.clat_dev = clat;
        t.uplink_dev = up;
        auto s = programs->configure(t);
        REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    }
    /// Sends an IPv4 packet (header included) from this namespace; it routes into the tun.
    void send_v4(const Bytes& packet) const {
        const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        std::memcpy(&to.sin_addr, &packet[16], 4);
        REQUIRE(fd >= 0);
        CHECK(::sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to),
                       sizeof(to)) == static_cast<ssize_t>(packet.size()));
        ::close(fd);
    }
    /// Transmits an IP packet on the tun as it is (AF_PACKET): it passes the egress program
    /// and, when that leaves it, reaches whoever reads the tun; no routing, no local output.
    void send_on_tun(const Bytes& packet) const {
        const int fd = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        sockaddr_ll to{};
        to.sll_family = AF_PACKET;
        to.sll_ifindex = static_cast<int>(if_nametoindex(clat.c_str()));
        to.sll_protocol = htons((packet[0] >> 4) == 4 ? ETH_P_IP : ETH_P_IPV6);
        CHECK(::sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to),
                       sizeof(to)) == static_cast<ssize_t>(packet.size()));
        ::close(fd);
    }
    /// Sends an IPv6 packet from the peer onto the veth, to the host's MAC.
    void send_v6(const Bytes& packet) const {
        const int fd = in_netns(peer.pid(), [&] { return packet_socket(pe); });
        const std::string mac = mac_of("ip link show " + up);
        Bytes frame(14, 0);
        for (int i = 0; i < 6; ++i)
            frame[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(
                std::stoi(mac.substr(static_cast<std::size_t>(i) * 3, 2), nullptr, 16));
        frame[12] = 0x86;
        frame[13] = 0xdd;
        frame.insert(frame.end(), packet.begin(), packet.end());
        CHECK(::send(fd, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size()));
        ::close(fd);
    }
};

/// The 4 bytes after an ICMP type, code and checksum.
using Rest = std::array<std::uint8_t, 4>;

/// An ICMP (or ICMPv6) message of type/code with rest and inner after its header; checksum 0
/// (the packet builders fill it in).
inline Bytes icmp_message(std::uint8_t type, std::uint8_t code, const Rest& rest,
                          const Bytes& inner) {
    Bytes m = {type, code, 0, 0, rest[0], rest[1], rest[2], rest[3]};
    m.insert(m.end(), inner.begin(), inner.end());
    return m;
}

/// An ICMPv4 error the CLAT host sends to the server, about inner.
inline Bytes error4(std::uint8_t type, std::uint8_t code, const Rest& rest, const Bytes& inner) {
    return ipv4_packet(IPPROTO_ICMP, kClatV4, kServerV4, icmp_message(type, code, rest, inner), 0,
                       64, 0);
}

/// An ICMPv6 error from source to the CLAT address, about inner.
inline Bytes error6(std::uint8_t type, std::uint8_t code, const Rest& rest, const Bytes& inner,
                    const V6& source) {
    return ipv6_packet(IPPROTO_ICMP, source, v6(kClatV6), icmp_message(type, code, rest, inner), 0,
                       64);
}

/// rest with a 16-bit value in its second half (an MTU) or a 32-bit value (an MTU, a pointer).
inline Rest rest16(std::uint16_t v) {
    return {0, 0, static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}
inline Rest rest32(std::uint32_t v) {
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

}  // namespace clat::test
