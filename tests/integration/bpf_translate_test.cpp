// The eBPF translator with real packets: crafted IPv4 sent into the CLAT tun leaves the
// uplink veth as IPv6 (captured in the peer namespace), crafted IPv6 sent by the peer arrives
// on the CLAT tun as IPv4; every header field and checksum is checked, for every RFC 6052
// prefix length; what the programs do not translate reaches the tun (TAYGA's side)
// unchanged; and ping, TCP and UDP work both ways through it.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "tests/integration/bpf_bed.hpp"

namespace clat::test {
namespace {

const std::uint8_t kProtocols[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP};

std::size_t check_offset(std::uint8_t proto) {
    return proto == IPPROTO_TCP ? 16 : (proto == IPPROTO_UDP ? 6 : 2);
}

/// The L4 bytes other than the checksum (and the ICMP type) are carried unchanged.
void check_same_payload(const Bytes& sent, std::size_t sent_l4, const Bytes& got,
                        std::size_t got_l4, std::uint8_t proto) {
    REQUIRE(sent.size() - sent_l4 == got.size() - got_l4);
    for (std::size_t i = 0; i < sent.size() - sent_l4; ++i) {
        const bool checksum = i == check_offset(proto) || i == check_offset(proto) + 1;
        const bool type = proto == IPPROTO_ICMP && i == 0;
        if (!checksum && !type)
            CHECK(sent[sent_l4 + i] == got[got_l4 + i]);
    }
}

}  // namespace

TEST_CASE("IPv4 TCP, UDP and ICMP echo leave the uplink as IPv6, every field as RFC 7915 says") {
    Bed bed("bt1");
    const int capture_fd = in_netns(bed.peer.pid(), [&] { return packet_socket(bed.pe); });
    std::uint16_t id = 7000;
    for (const std::uint8_t proto : kProtocols) {
        CAPTURE(int(proto));
        const std::string marker = "egress-" + std::to_string(++id);
        const Bytes sent =
            ipv4_packet(proto, kClatV4, kServerV4, l4_segment(proto, id, marker, false));
        bed.send_v4(sent);
        auto got = capture(capture_fd, 14,
                           [&](const Bytes& p) { return (p[0] >> 4) == 6 && carries(p, marker); });
        INFO(to_string(bed.programs->counters()));
        REQUIRE(got.has_value());
        const Bytes& p = *got;
        CHECK((p[0] >> 4) == 6);
        CHECK(((p[0] & 0xf) << 4 | p[1] >> 4) == 0x28);  // traffic class = TOS
        CHECK((p[1] & 0xf) == 0);
        CHECK(p[2] == 0);
        CHECK(p[3] == 0);  // flow label 0
        CHECK(get16(p, 4) == sent.size() - 20);
        CHECK(p[6] == (proto == IPPROTO_ICMP ? std::uint8_t{IPPROTO_ICMPV6} : proto));
        CHECK(p[7] == 16);  // TTL 17, less the translator's hop
        CHECK(V6{} != v6(kClatV6));
        CHECK(std::equal(p.begin() + 8, p.begin() + 24, v6(kClatV6).begin()));
        CHECK(std::equal(p.begin() + 24, p.begin() + 40, v6(kServerV6).begin()));
        CHECK(l4_residue(p, 6) == 0);
        if (proto == IPPROTO_ICMP)
            CHECK(p[40] == 128);
        check_same_payload(sent, 20, p, 40, proto);
    }
    const BpfCounters c = bed.programs->counters();
    CHECK(c.egress_packets == 3);
    ::close(capture_fd);
}

TEST_CASE("IPv6 TCP, UDP and ICMP echo to the CLAT address arrive on the CLAT tun as IPv4") {
    Bed bed("bt2");
    const int capture_fd = packet_socket(bed.clat);
    std::uint16_t id = 8000;
    for (const std::uint8_t proto : kProtocols) {
        CAPTURE(int(proto));
        const std::string marker = "ingress-" + std::to_string(++id);
        const Bytes sent =
            ipv6_packet(proto, v6(kServerV6), v6(kClatV6), l4_segment(proto, id, marker, true));
        bed.send_v6(sent);
        auto got = capture(capture_fd, 0,
                           [&](const Bytes& p) { return (p[0] >> 4) == 4 && carries(p, marker); });
        REQUIRE(got.has_value());
        const Bytes& p = *got;
        CHECK(p[0] == 0x45);
        CHECK(p[1] == 0x28);
        CHECK(get16(p, 2) == sent.size() - 40 + 20);
        CHECK(get16(p, 4) == 0);       // identification
        CHECK(get16(p, 6) == 0x4000);  // DF, no fragment
        CHECK(p[8] == 16);
        CHECK(p[9] == proto);
        CHECK(fold16(sum16(p.data(), 20)) == 0);
        CHECK(std::equal(p.begin() + 12, p.begin() + 16, kServerV4.begin()));
        CHECK(std::equal(p.begin() + 16, p.begin() + 20, kClatV4.begin()));
        CHECK(l4_residue(p, 4) == 0);
        if (proto == IPPROTO_ICMP)
            CHECK(p[20] == 8);
        check_same_payload(sent, 40, p, 20, proto);
    }
    CHECK(bed.programs->counters().ingress_packets == 3);
    ::close(capture_fd);
}

TEST_CASE("every RFC 6052 prefix length, changed in place, both ways") {
    Bed bed("bt3");
    const int peer_fd = in_netns(bed.peer.pid(), [&] { return packet_socket(bed.pe); });
    const int clat_fd = packet_socket(bed.clat);
    // RFC 6052 §2.4's examples, with 198.51.100.10 embedded.
    const std::pair<const char*, const char*> cases[] = {
        {"2001:db8::/32", "2001:db8:c633:640a::"},
        {"2001:db8:100::/40", "2001:db8:1c6:3364:a::"},
        {"2001:db8:122::/48", "2001:db8:122:c633:64:a00::"},
        {"2001:db8:122:300::/56", "2001:db8:122:3c6:33:640a::"},
        {"2001:db8:122:344::/64", "2001:db8:122:344:c6:3364:a00:0"},
        {"2001:db8:122:344::/96", "2001:db8:122:344::c633:640a"},
    };
    std::uint16_t id = 9000;
    for (const auto& [prefix, embedded] : cases) {
        CAPTURE(prefix);
        bed.configure(prefix);
        const std::string out = "out-" + std::to_string(++id);
        bed.send_v4(
            ipv4_packet(IPPROTO_UDP, kClatV4, kServerV4, l4_segment(IPPROTO_UDP, id, out, false)));
        auto sent = capture(peer_fd, 14, [&](const Bytes& p) { return carries(p, out); });
        REQUIRE(sent.has_value());
        CHECK(std::equal(sent->begin() + 24, sent->begin() + 40, v6(embedded).begin()));
        CHECK(l4_residue(*sent, 6) == 0);
        const std::string in = "in-" + std::to_string(id);
        bed.send_v6(ipv6_packet(IPPROTO_UDP, v6(embedded), v6(kClatV6),
                                l4_segment(IPPROTO_UDP, id, in, true)));
        auto got =
            capture(clat_fd, 0, [&](const Bytes& p) { return (p[0] >> 4) == 4 && carries(p, in); });
        REQUIRE(got.has_value());
        CHECK(std::equal(got->begin() + 12, got->begin() + 16, kServerV4.begin()));
        CHECK(l4_residue(*got, 4) == 0);
    }
    ::close(peer_fd);
    ::close(clat_fd);
}

TEST_CASE("what the programs do not translate reaches the tun, TAYGA's side, unchanged") {
    Bed bed("bt4");
    struct Left {
        const char* what;
        Bytes packet;
    };
    std::vector<Left> cases;
    auto udp = [](std::uint16_t id, const std::string& m) {
        return l4_segment(IPPROTO_UDP, id, m, false);
    };
    cases.push_back({"fragment", ipv4_packet(IPPROTO_UDP, kClatV4, kServerV4,
                                             udp(1, "left-fragment"), 0, 17, 0x2000)});
    cases.push_back(
        {"ttl", ipv4_packet(IPPROTO_UDP, kClatV4, kServerV4, udp(2, "left-ttl"), 0, 1)});
    Bytes zero = ipv4_packet(IPPROTO_UDP, kClatV4, kServerV4, udp(3, "left-udp-zero"));
    put16(zero, 26, 0);
    cases.push_back({"udp-zero-checksum", zero});
    Bytes timestamp = ipv4_packet(IPPROTO_ICMP, kClatV4, kServerV4,
                                  l4_segment(IPPROTO_ICMP, 4, "left-icmp-timestamp", false));
    timestamp[20] = 13;  // timestamp request: RFC 7915 §4.2 drops it, TAYGA decides
    put16(timestamp, 22, 0);
    put16(timestamp, 22, l4_residue(timestamp, 4));
    cases.push_back({"icmp", timestamp});
    cases.push_back({"protocol", ipv4_packet(47, kClatV4, kServerV4, udp(5, "left-gre"))});
    for (const auto& c : cases) {
        CAPTURE(c.what);
        const std::string marker(c.packet.end() - 8, c.packet.end());
        bed.send_v4(c.packet);
        auto got = capture(bed.tun, 0, [&](const Bytes& p) { return carries(p, marker); });
        REQUIRE(got.has_value());
        CHECK(std::equal(got->begin() + 20, got->end(), c.packet.begin() + 20));
        CHECK((*got)[9] == c.packet[9]);
    }
    // IPv6 with a Fragment header for the CLAT address: forwarded to the tun as it came.
    Bytes frag = ipv6_packet(IPPROTO_UDP, v6(kServerV6), v6(kClatV6),
                             l4_segment(IPPROTO_UDP, 6, "left-v6-fragment", true));
    const Bytes header = {IPPROTO_UDP, 0, 0, 0, 0, 0, 0, 42};
    frag.insert(frag.begin() + 40, header.begin(), header.end());
    frag[6] = 44;
    put16(frag, 4, static_cast<std::uint16_t>(frag.size() - 40));
    bed.send_v6(frag);
    auto got = capture(bed.tun, 0, [&](const Bytes& p) { return carries(p, "left-v6-fragment"); });
    REQUIRE(got.has_value());
    CHECK((*got)[6] == 44);
    const BpfCounters counters = bed.programs->counters();
    auto left = [&](const std::string& reason) {
        for (const auto& [name, n] : counters.left) {
            if (name == reason)
                return n;
        }
        return std::uint64_t{0};
    };
    CHECK(left("fragment") >= 2);
    CHECK(left("ttl") == 1);
    CHECK(left("udp-zero-checksum") == 1);
    CHECK(left("icmp") >= 1);
    CHECK(left("protocol") == 1);
    CHECK(counters.egress_packets == 0);
    CHECK(counters.ingress_packets == 0);
}

TEST_CASE("ping, TCP and UDP work through the programs, started from either side") {
    Bed bed("bt5");
    CHECK(sh_status("ping -c 2 -W 2 -q 198.51.100.10 >/dev/null") == 0);
    CHECK(sh_status("nsenter --net=/proc/" + std::to_string(bed.peer.pid()) +
                    "/ns/net ping -6 -c 2 -W 2 -q -I " + kServerV6 + " " + kClatV6 +
                    " >/dev/null") == 0);
    // TCP, 4 MB from the IPv6 server to the IPv4 client, then 4 MB back (GSO both ways).
    const std::string peer = "nsenter --net=/proc/" + std::to_string(bed.peer.pid()) + "/ns/net ";
    const std::string server =
        "import socket,hashlib\n"
        "s=socket.socket(socket.AF_INET6);s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        "s.bind(('" +
        std::string(kServerV6) +
        "',8080));s.listen(1);print('up',flush=True)\n"
        "c,_=s.accept();c.sendall(bytes(range(256))*16384);d=b''\n"
        "while len(d)<4194304:\n  b=c.recv(65536)\n  if not b: break\n  d+=b\n"
        "print(hashlib.sha1(d).hexdigest(),flush=True)\n";
    const std::string client =
        "import socket,hashlib\n"
        "c=socket.create_connection(('198.51.100.10',8080),timeout=10);d=b''\n"
        "while len(d)<4194304:\n  b=c.recv(65536)\n  if not b: break\n  d+=b\n"
        "c.sendall(d);print(hashlib.sha1(d).hexdigest())\n";
    std::ofstream("/tmp/" + bed.tag + "-server.py") << server;
    std::ofstream("/tmp/" + bed.tag + "-client.py") << client;
    sh("(" + peer + "timeout 20 python3 /tmp/" + bed.tag + "-server.py > /tmp/" + bed.tag +
       "-server.out 2>&1 &) ; for i in $(seq 50); do grep -q up /tmp/" + bed.tag +
       "-server.out && break; sleep 0.1; done");
    const std::string got = sh("timeout 20 python3 /tmp/" + bed.tag + "-client.py");
    const std::string expected =
        sh("python3 -c 'import hashlib;print(hashlib.sha1(bytes(range(256))*16384).hexdigest())'");
    CHECK(got == expected);
    sh_status("for i in $(seq 50); do [ $(wc -l < /tmp/" + bed.tag +
              "-server.out) -ge 2 ] && break; sleep 0.1; done");
    CHECK(sh("tail -1 /tmp/" + bed.tag + "-server.out") == expected);
    // UDP: a datagram out and its echo back.
    std::ofstream("/tmp/" + bed.tag + "-udp.py")
        << "import socket\ns=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\n"
           "s.bind(('"
        << kServerV6
        << "',5353));print('up',flush=True)\n"
           "d,a=s.recvfrom(2000);s.sendto(d[::-1],a)\n";
    sh("(" + peer + "timeout 10 python3 /tmp/" + bed.tag + "-udp.py > /tmp/" + bed.tag +
       "-udp.out 2>&1 &) ; for i in $(seq 50); do grep -q up /tmp/" + bed.tag +
       "-udp.out && break; sleep 0.1; done");
    const std::string reply = sh(
        "timeout 10 python3 -c \"import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
        "s.settimeout(5);s.sendto(b'datagram-1234',('198.51.100.10',5353));"
        "print(s.recvfrom(2000)[0].decode())\"");
    CHECK(reply == "4321-margatad\n");
    const BpfCounters c = bed.programs->counters();
    CHECK(c.egress_packets > 100);
    CHECK(c.ingress_packets > 100);
    sh_status("rm -f /tmp/" + bed.tag + "-*");
}

}  // namespace clat::test
