// ICMP errors through the eBPF translator with real packets (RFC 7915 §4.2/4.3, §5.2/5.3):
// crafted ICMPv4 errors from the CLAT address leave the uplink as ICMPv6 errors, crafted
// ICMPv6 errors to the CLAT address arrive on the tun as ICMPv4 errors, each with its
// embedded IP header and transport header translated; every type, code, pointer and MTU is
// checked against the RFC, and every checksum is verified from the bytes (the ICMPv6 one with
// its pseudo-header, the embedded one when the error carries the whole packet). ICMPv6 errors
// from an IPv6-only router get the source 192.0.0.8. What is not translated reaches the tun
// (TAYGA's side) as it was sent, counted by reason. And the kernel's own errors work end to
// end: a port unreachable reaches the sender either way, and a "traceroute" packet whose hop
// limit runs out at an IPv6-only router reports 192.0.0.8. The verifier takes the programs
// from a process with CAP_BPF and CAP_NET_ADMIN but neither CAP_PERFMON nor CAP_SYS_ADMIN.
#include <doctest/doctest.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <spdlog/spdlog.h>

#include <fstream>
#include <map>
#include <string>

#include "tests/integration/bpf_bed.hpp"

namespace clat::test {
namespace {

/// The embedded packet: the whole one the error is about, or its first keep bytes.
Bytes embedded4(std::uint8_t proto, std::uint16_t id, const std::string& marker,
                std::size_t keep = 0, std::size_t pad = 0) {
    Bytes inner =
        ipv4_packet(proto, kServerV4, kClatV4,
                    l4_segment(proto, id, marker + std::string(pad, 'p'), false), 0x48, 33);
    if (keep != 0)
        inner.resize(keep);
    return inner;
}

Bytes embedded6(std::uint8_t proto, std::uint16_t id, const std::string& marker,
                std::size_t keep = 0) {
    Bytes inner = ipv6_packet(proto, v6(kClatV6), v6(kServerV6),
                              l4_segment(proto, id, marker, true), 0x48, 33);
    if (keep != 0)
        inner.resize(keep);
    return inner;
}

std::size_t id_offset(std::uint8_t proto) {
    return proto == IPPROTO_ICMP ? 4 : 2;
}

/// One translated error: what is sent and the ICMP header RFC 7915 says comes out.
struct Case {
    const char* what;
    std::uint8_t type, code;
    Rest rest;
    std::uint8_t inner_proto;
    std::size_t keep;  ///< 0: the whole embedded packet; else its first bytes
    std::uint8_t out_type, out_code;
    Rest out_rest;
    std::size_t pad = 0;  ///< bytes added to the embedded payload (before keep cuts)
};

/// The transport bytes of the embedded packets agree but for checksum and ICMP type.
void check_inner_l4(const Bytes& sent, std::size_t sent_l4, const Bytes& got, std::size_t got_l4,
                    std::uint8_t proto) {
    REQUIRE(sent.size() - sent_l4 == got.size() - got_l4);
    const std::size_t check = proto == IPPROTO_TCP ? 16 : (proto == IPPROTO_UDP ? 6 : 2);
    for (std::size_t i = 0; i < sent.size() - sent_l4; ++i) {
        if (i == check || i == check + 1 || (proto == IPPROTO_ICMP && i == 0))
            continue;
        CHECK(sent[sent_l4 + i] == got[got_l4 + i]);
    }
}

/// In a child without the capabilities drop (effective, permitted, inheritable): loads the
/// programs; its exit status says whether that worked (the reason goes to stderr).
bool loads_without(std::initializer_list<int> drop) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[2]{};
        if (::syscall(SYS_capget, &header, data) != 0)
            ::_exit(2);
        for (const int cap : drop) {
            const std::uint32_t bit = 1u << (cap % 32);
            data[cap / 32].effective &= ~bit;
            data[cap / 32].permitted &= ~bit;
            data[cap / 32].inheritable &= ~bit;
        }
        if (::syscall(SYS_capset, &header, data) != 0)
            ::_exit(2);
        if (std::getenv("CLAT_TEST_LIBBPF_LOG"))  // the verifier's log, when it refuses
            spdlog::set_level(spdlog::level::debug);
        auto loaded = BpfPrograms::load();
        if (!loaded.ok())
            std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
        ::_exit(loaded.ok() ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) != 2);
    return WEXITSTATUS(status) == 0;
}

}  // namespace

TEST_CASE("the verifier takes the programs with CAP_BPF and CAP_NET_ADMIN alone") {
    constexpr int kSysAdmin = 21, kPerfmon = 38, kBpf = 39;
    CHECK(loads_without({kPerfmon, kSysAdmin}));
    CHECK_FALSE(loads_without({kPerfmon, kSysAdmin, kBpf}));  // the control: CAP_BPF is needed
}

TEST_CASE("ICMPv4 errors from the CLAT leave the uplink as ICMPv6 errors, embedded packet too") {
    Bed bed("bi1");
    const int capture_fd = in_netns(bed.peer.pid(), [&] { return packet_socket(bed.pe); });
    constexpr std::uint8_t kTcp = IPPROTO_TCP, kUdp = IPPROTO_UDP, kIcmp = IPPROTO_ICMP;
    const std::vector<Case> cases = {
        {"net unreachable", 3, 0, {}, kUdp, 0, 1, 0, {}},
        {"host unreachable, whole TCP", 3, 1, {}, kTcp, 0, 1, 0, {}},
        {"host unreachable, TCP cut to 8 bytes", 3, 1, {}, kTcp, 28, 1, 0, {}},
        {"protocol unreachable", 3, 2, {}, kUdp, 0, 4, 1, {0, 0, 0, 6}},
        {"port unreachable", 3, 3, {}, kUdp, 0, 1, 4, {}},
        {"fragmentation needed, MTU 1400", 3, 4, rest16(1400), kTcp, 0, 2, 0, rest32(1420)},
        {"fragmentation needed, MTU 1000: 1280", 3, 4, rest16(1000), kUdp, 0, 2, 0, rest32(1280)},
        {"fragmentation needed, MTU 9000: the uplink's", 3, 4, rest16(9000), kUdp, 0, 2, 0,
         rest32(1500)},
        // Total Length 1500 (28 + the 11-byte marker + 1461): plateau 1492, + 20, the uplink's
        // 1500.
        {"fragmentation needed, no MTU: plateau 1492",
         3,
         4,
         {},
         kUdp,
         60,
         2,
         0,
         rest32(1500),
         1461},
        {"source route failed", 3, 5, {}, kUdp, 0, 1, 0, {}},
        {"destination network unknown", 3, 6, {}, kUdp, 0, 1, 0, {}},
        {"destination host unknown", 3, 7, {}, kUdp, 0, 1, 0, {}},
        {"source host isolated", 3, 8, {}, kUdp, 0, 1, 0, {}},
        {"network prohibited", 3, 9, {}, kUdp, 0, 1, 1, {}},
        {"host prohibited", 3, 10, {}, kUdp, 0, 1, 1, {}},
        {"network unreachable for TOS", 3, 11, {}, kUdp, 0, 1, 0, {}},
        {"host unreachable for TOS", 3, 12, {}, kUdp, 0, 1, 0, {}},
        {"communication prohibited", 3, 13, {}, kUdp, 0, 1, 1, {}},
        {"precedence cutoff", 3, 15, {}, kUdp, 0, 1, 1, {}},
        {"TTL exceeded, echo embedded", 11, 0, {}, kIcmp, 0, 3, 0, {}},
        {"reassembly time exceeded", 11, 1, {}, kUdp, 0, 3, 1, {}},
        {"parameter problem at 0", 12, 0, {0, 0, 0, 0}, kUdp, 0, 4, 0, rest32(0)},
        {"parameter problem at 1", 12, 0, {1, 0, 0, 0}, kUdp, 0, 4, 0, rest32(1)},
        {"parameter problem at 2", 12, 0, {2, 0, 0, 0}, kUdp, 0, 4, 0, rest32(4)},
        {"parameter problem at 3", 12, 0, {3, 0, 0, 0}, kUdp, 0, 4, 0, rest32(4)},
        {"parameter problem at 8", 12, 0, {8, 0, 0, 0}, kUdp, 0, 4, 0, rest32(7)},
        {"parameter problem at 9", 12, 0, {9, 0, 0, 0}, kUdp, 0, 4, 0, rest32(6)},
        {"parameter problem at 12", 12, 0, {12, 0, 0, 0}, kUdp, 0, 4, 0, rest32(8)},
        {"parameter problem at 15", 12, 0, {15, 0, 0, 0}, kUdp, 0, 4, 0, rest32(8)},
        {"parameter problem at 16", 12, 0, {16, 0, 0, 0}, kUdp, 0, 4, 0, rest32(24)},
        {"parameter problem at 19", 12, 0, {19, 0, 0, 0}, kUdp, 0, 4, 0, rest32(24)},
        {"bad length at 2", 12, 2, {2, 0, 0, 0}, kTcp, 0, 4, 0, rest32(4)},
    };
    std::uint16_t id = 20000;
    std::uint64_t translated = 0;
    for (const auto& c : cases) {
        CAPTURE(std::string(c.what));
        const std::uint16_t this_id = ++id;
        const Bytes inner =
            embedded4(c.inner_proto, this_id, "inner-" + std::to_string(this_id), c.keep, c.pad);
        const Bytes sent = error4(c.type, c.code, c.rest, inner);
        bed.send_v4(sent);
        const std::size_t at = 40 + 8 + 40;  // the embedded transport header, translated
        auto got = capture(capture_fd, 14, [&](const Bytes& p) {
            return (p[0] >> 4) == 6 && p[6] == 58 && p.size() >= at + 8 &&
                   get16(p, at + id_offset(c.inner_proto)) == this_id;
        });
        INFO(to_string(bed.programs->counters()));
        REQUIRE(got.has_value());
        ++translated;
        const Bytes& p = *got;
        // Outer header: as for any translated packet; the payload grew by 20 inside.
        CHECK(get16(p, 0) == 0x6000);
        CHECK(get16(p, 2) == 0);
        CHECK(get16(p, 4) == sent.size() - 20 + 20);
        CHECK(p.size() == 40 + get16(p, 4));
        CHECK(p[7] == 63);
        CHECK(std::equal(p.begin() + 8, p.begin() + 24, v6(kClatV6).begin()));
        CHECK(std::equal(p.begin() + 24, p.begin() + 40, v6(kServerV6).begin()));
        // ICMPv6 header and its checksum (pseudo-header included).
        CHECK(int(p[40]) == c.out_type);
        CHECK(int(p[41]) == c.out_code);
        CHECK(Rest{p[44], p[45], p[46], p[47]} == c.out_rest);
        CHECK(l4_residue(p, 6) == 0);
        // The embedded packet: IPv6 from the server to the CLAT, its TTL kept.
        const Bytes e(p.begin() + 48, p.end());
        CHECK(get16(e, 0) == 0x6480);  // traffic class 0x48
        CHECK(get16(e, 2) == 0);
        CHECK(get16(e, 4) == get16(inner, 2) - 20);  // from its Total Length, not its size
        CHECK(e[6] == (c.inner_proto == kIcmp ? 58 : c.inner_proto));
        CHECK(e[7] == 33);
        CHECK(std::equal(e.begin() + 8, e.begin() + 24, v6(kServerV6).begin()));
        CHECK(std::equal(e.begin() + 24, e.begin() + 40, v6(kClatV6).begin()));
        check_inner_l4(inner, 20, e, 40, c.inner_proto);
        if (c.keep == 0)
            CHECK(l4_residue(e, 6) == 0);  // the embedded checksum, recomputed from the bytes
        if (c.inner_proto == kIcmp)
            CHECK(e[40] == 128);
    }
    CHECK(bed.programs->counters().egress_packets == translated);
    ::close(capture_fd);
}

TEST_CASE("ICMPv4 errors the programs cannot translate reach the tun as sent, counted") {
    Bed bed("bi2");
    struct Left {
        const char* what;
        Bytes packet;
        const char* reason;
    };
    std::vector<Left> cases;
    auto inner = [](const std::string& m, std::uint8_t proto = IPPROTO_UDP) {
        return embedded4(proto, 1, m);
    };
    cases.push_back({"host precedence violation", error4(3, 14, {}, inner("l-prec")), "icmp"});
    cases.push_back({"missing option", error4(12, 1, {}, inner("l-option")), "icmp"});
    cases.push_back({"pointer into the ID", error4(12, 0, {4, 0, 0, 0}, inner("l-ptr4")), "icmp"});
    cases.push_back(
        {"pointer into the checksum", error4(12, 0, {10, 0, 0, 0}, inner("l-ptr10")), "icmp"});
    cases.push_back({"redirect", error4(5, 0, {}, inner("l-redirect")), "icmp"});
    cases.push_back({"RFC 4884 extensions", error4(11, 0, {0, 8, 0, 0}, inner("l-4884")), "icmp"});
    Bytes other = inner("l-not-ours");
    other[19] = 5;  // to 192.0.0.5, not the CLAT
    put16(other, 10, 0);
    put16(other, 10, fold16(sum16(other.data(), 20)));
    cases.push_back({"embedded packet not to the CLAT", error4(3, 3, {}, other), "icmp-inner"});
    Bytes options = inner("l-options");
    options.insert(options.begin() + 20, {1, 1, 1, 0});  // NOP NOP NOP EOL
    options[0] = 0x46;
    put16(options, 2, static_cast<std::uint16_t>(options.size()));
    cases.push_back({"embedded IPv4 options", error4(3, 3, {}, options), "icmp-inner"});
    Bytes zero = inner("l-udp-zero");
    put16(zero, 26, 0);
    cases.push_back({"embedded UDP without checksum", error4(3, 3, {}, zero), "icmp-inner"});
    Bytes error_in_error = inner("l-nested", IPPROTO_ICMP);
    error_in_error[20] = 3;
    cases.push_back({"embedded ICMP error", error4(3, 1, {}, error_in_error), "icmp-inner"});
    Bytes fragment = inner("l-inner-frag");
    put16(fragment, 6, 0x2000);
    cases.push_back({"embedded fragment", error4(3, 3, {}, fragment), "icmp-inner"});
    const Bytes whole = inner("l-short");
    cases.push_back(
        {"too short", error4(3, 3, {}, Bytes(whole.begin(), whole.begin() + 20)), "icmp-inner"});
    Bytes big_inner = embedded4(IPPROTO_UDP, 2, "l-big", 0, 1200);
    cases.push_back({"longer than 1280 as ICMPv6", error4(3, 3, {}, big_inner), "size"});
    std::map<std::string, std::uint64_t> expected;
    for (const auto& c : cases) {
        CAPTURE(std::string(c.what));
        const Bytes& sent = c.packet;
        const std::string marker = c.what == std::string("too short")
                                       ? std::string()
                                       : std::string(sent.end() - 6, sent.end());
        const auto before = left_count(bed.programs->counters(), c.reason);
        bed.send_v4(sent);
        auto got = capture(bed.tun, 0, [&](const Bytes& p) {
            return p.size() == sent.size() && (marker.empty() || carries(p, marker)) &&
                   get16(p, 20) == get16(sent, 20);
        });
        REQUIRE(got.has_value());
        CHECK(*got == sent);
        CHECK(left_count(bed.programs->counters(), c.reason) == before + 1);
    }
    CHECK(bed.programs->counters().egress_packets == 0);
}

TEST_CASE("ICMPv6 errors to the CLAT arrive on the tun as ICMPv4 errors, embedded packet too") {
    Bed bed("bi3");
    const int capture_fd = packet_socket(bed.clat);
    constexpr std::uint8_t kTcp = IPPROTO_TCP, kUdp = IPPROTO_UDP, kIcmp = IPPROTO_ICMP;
    const std::vector<Case> cases = {
        {"no route", 1, 0, {}, kUdp, 0, 3, 1, {}},
        {"prohibited", 1, 1, {}, kTcp, 0, 3, 10, {}},
        {"beyond scope", 1, 2, {}, kUdp, 0, 3, 1, {}},
        {"address unreachable, TCP cut to 8 bytes", 1, 3, {}, kTcp, 48, 3, 1, {}},
        {"port unreachable", 1, 4, {}, kUdp, 0, 3, 3, {}},
        {"packet too big 1400", 2, 0, rest32(1400), kTcp, 0, 3, 4, rest16(1380)},
        {"packet too big 1000: taken as 1280", 2, 0, rest32(1000), kUdp, 0, 3, 4, rest16(1260)},
        {"packet too big 9000: the uplink's", 2, 0, rest32(9000), kUdp, 0, 3, 4, rest16(1480)},
        {"hop limit exceeded, echo embedded", 3, 0, {}, kIcmp, 0, 11, 0, {}},
        {"reassembly time exceeded", 3, 1, {}, kUdp, 0, 11, 1, {}},
        {"parameter problem at 0", 4, 0, rest32(0), kUdp, 0, 12, 0, {0, 0, 0, 0}},
        {"parameter problem at 1", 4, 0, rest32(1), kUdp, 0, 12, 0, {1, 0, 0, 0}},
        {"parameter problem at 4", 4, 0, rest32(4), kUdp, 0, 12, 0, {2, 0, 0, 0}},
        {"parameter problem at 5", 4, 0, rest32(5), kUdp, 0, 12, 0, {2, 0, 0, 0}},
        {"parameter problem at 6", 4, 0, rest32(6), kUdp, 0, 12, 0, {9, 0, 0, 0}},
        {"parameter problem at 7", 4, 0, rest32(7), kUdp, 0, 12, 0, {8, 0, 0, 0}},
        {"parameter problem at 8", 4, 0, rest32(8), kUdp, 0, 12, 0, {12, 0, 0, 0}},
        {"parameter problem at 23", 4, 0, rest32(23), kUdp, 0, 12, 0, {12, 0, 0, 0}},
        {"parameter problem at 24", 4, 0, rest32(24), kUdp, 0, 12, 0, {16, 0, 0, 0}},
        {"parameter problem at 39", 4, 0, rest32(39), kIcmp, 0, 12, 0, {16, 0, 0, 0}},
        {"unrecognised next header", 4, 1, rest32(6), kUdp, 0, 3, 2, {}},
    };
    std::uint16_t id = 30000;
    std::uint64_t translated = 0;
    for (const auto& c : cases) {
        CAPTURE(std::string(c.what));
        const std::uint16_t this_id = ++id;
        const Bytes inner =
            embedded6(c.inner_proto, this_id, "inner-" + std::to_string(this_id), c.keep);
        const Bytes sent = error6(c.type, c.code, c.rest, inner, v6(kServerV6));
        bed.send_v6(sent);
        const std::size_t at = 20 + 8 + 20;
        auto got = capture(capture_fd, 0, [&](const Bytes& p) {
            return p[0] == 0x45 && p[9] == 1 && p.size() >= at + 8 &&
                   get16(p, at + id_offset(c.inner_proto)) == this_id;
        });
        INFO(to_string(bed.programs->counters()));
        REQUIRE(got.has_value());
        ++translated;
        const Bytes& p = *got;
        CHECK(p[1] == 0);
        CHECK(get16(p, 2) == sent.size() - 40);  // 20 less outside, 20 less inside
        CHECK(p.size() == get16(p, 2));
        CHECK(get16(p, 4) == 0);
        CHECK(get16(p, 6) == 0x4000);
        CHECK(p[8] == 63);
        CHECK(fold16(sum16(p.data(), 20)) == 0);
        CHECK(std::equal(p.begin() + 12, p.begin() + 16, kServerV4.begin()));
        CHECK(std::equal(p.begin() + 16, p.begin() + 20, kClatV4.begin()));
        CHECK(int(p[20]) == c.out_type);
        CHECK(int(p[21]) == c.out_code);
        CHECK(Rest{p[24], p[25], p[26], p[27]} == c.out_rest);
        CHECK(l4_residue(p, 4) == 0);  // ICMPv4: no pseudo-header
        const Bytes e(p.begin() + 28, p.end());
        CHECK(e[0] == 0x45);
        CHECK(e[1] == 0x48);
        CHECK(get16(e, 2) == get16(inner, 4) + 20);
        CHECK(get16(e, 4) == 0);
        CHECK(get16(e, 6) == 0x4000);
        CHECK(e[8] == 33);
        CHECK(e[9] == c.inner_proto);
        CHECK(fold16(sum16(e.data(), 20)) == 0);
        CHECK(std::equal(e.begin() + 12, e.begin() + 16, kClatV4.begin()));
        CHECK(std::equal(e.begin() + 16, e.begin() + 20, kServerV4.begin()));
        check_inner_l4(inner, 40, e, 20, c.inner_proto);
        if (c.keep == 0)
            CHECK(l4_residue(e, 4) == 0);
        if (c.inner_proto == kIcmp)
            CHECK(e[20] == 8);
    }
    CHECK(bed.programs->counters().ingress_packets == translated);
    ::close(capture_fd);
}

TEST_CASE("ICMPv6 errors from an IPv6-only router on the path come from 192.0.0.8") {
    Bed bed("bi4");
    const int capture_fd = packet_socket(bed.clat);
    const Case cases[] = {
        {"hop limit exceeded (traceroute)", 3, 0, {}, IPPROTO_UDP, 0, 11, 0, {}},
        {"no route", 1, 0, {}, IPPROTO_TCP, 0, 3, 1, {}},
        {"port unreachable", 1, 4, {}, IPPROTO_UDP, 0, 3, 3, {}},
        {"packet too big", 2, 0, rest32(1400), IPPROTO_ICMP, 0, 3, 4, rest16(1380)},
    };
    std::uint16_t id = 31000;
    for (const auto& c : cases) {
        CAPTURE(std::string(c.what));
        const std::uint16_t this_id = ++id;
        const Bytes inner = embedded6(c.inner_proto, this_id, "v6only-" + std::to_string(this_id));
        const Bytes sent = error6(c.type, c.code, c.rest, inner, v6(kPeerV6));
        bed.send_v6(sent);
        auto got = capture(capture_fd, 0, [&](const Bytes& p) {
            return p[0] == 0x45 && p[9] == 1 && p.size() >= 56 &&
                   get16(p, 48 + id_offset(c.inner_proto)) == this_id;
        });
        REQUIRE(got.has_value());
        const Bytes& p = *got;
        CHECK(std::equal(p.begin() + 12, p.begin() + 16, kDummyV4.begin()));
        CHECK(std::equal(p.begin() + 16, p.begin() + 20, kClatV4.begin()));
        CHECK(fold16(sum16(p.data(), 20)) == 0);
        CHECK(int(p[20]) == c.out_type);
        CHECK(int(p[21]) == c.out_code);
        CHECK(Rest{p[24], p[25], p[26], p[27]} == c.out_rest);
        CHECK(l4_residue(p, 4) == 0);
        const Bytes e(p.begin() + 28, p.end());
        CHECK(std::equal(e.begin() + 12, e.begin() + 16, kClatV4.begin()));
        CHECK(std::equal(e.begin() + 16, e.begin() + 20, kServerV4.begin()));
        CHECK(l4_residue(e, 4) == 0);
    }
    // From the router, only errors about the CLAT's own packets; the rest goes to TAYGA.
    struct Left {
        const char* what;
        Bytes packet;
        const char* reason;
    };
    Bytes not_ours = embedded6(IPPROTO_UDP, 1, "v6only-not-ours");
    not_ours[23] = 0x99;  // from 2001:db8:1::c199, not the CLAT
    const Left left[] = {
        {"parameter problem",
         error6(4, 0, rest32(6), embedded6(IPPROTO_UDP, 2, "v6only-pp"), v6(kPeerV6)), "address"},
        {"echo request",
         ipv6_packet(IPPROTO_ICMP, v6(kPeerV6), v6(kClatV6),
                     l4_segment(IPPROTO_ICMP, 3, "v6only-echo", true)),
         "address"},
        {"error about another's packet", error6(3, 0, {}, not_ours, v6(kPeerV6)), "icmp-inner"},
    };
    for (const auto& c : left) {
        CAPTURE(std::string(c.what));
        const std::string marker(c.packet.end() - 6, c.packet.end());
        const auto before = left_count(bed.programs->counters(), c.reason);
        bed.send_v6(c.packet);
        auto got = capture(bed.tun, 0,
                           [&](const Bytes& p) { return (p[0] >> 4) == 6 && carries(p, marker); });
        REQUIRE(got.has_value());
        Bytes expected = c.packet;
        --expected[7];  // forwarded by the kernel to the tun
        CHECK(*got == expected);
        CHECK(left_count(bed.programs->counters(), c.reason) == before + 1);
    }
    ::close(capture_fd);
}

TEST_CASE("ICMPv6 errors the programs cannot translate reach the tun as sent, counted") {
    Bed bed("bi5");
    struct Left {
        const char* what;
        Bytes packet;
        const char* reason;
    };
    auto inner = [](const std::string& m) { return embedded6(IPPROTO_UDP, 1, m); };
    const V6 server = v6(kServerV6);
    std::vector<Left> cases;
    cases.push_back(
        {"destination unreachable code 5", error6(1, 5, {}, inner("l6-code5"), server), "icmp"});
    cases.push_back(
        {"parameter problem code 2", error6(4, 2, {}, inner("l6-pp2"), server), "icmp"});
    cases.push_back(
        {"pointer into the flow label", error6(4, 0, rest32(2), inner("l6-ptr2"), server), "icmp"});
    cases.push_back(
        {"pointer past the header", error6(4, 0, rest32(40), inner("l6-ptr40"), server), "icmp"});
    cases.push_back(
        {"RFC 4884 extensions", error6(3, 0, {8, 0, 0, 0}, inner("l6-4884"), server), "icmp"});
    Bytes not_ours = inner("l6-not-ours");
    not_ours[23] = 0x99;
    cases.push_back(
        {"embedded packet not from the CLAT", error6(1, 4, {}, not_ours, server), "icmp-inner"});
    Bytes fragment = inner("l6-inner-frag");
    const Bytes header = {IPPROTO_UDP, 0, 0, 0, 0, 0, 0, 42};
    fragment.insert(fragment.begin() + 40, header.begin(), header.end());
    fragment[6] = 44;
    put16(fragment, 4, static_cast<std::uint16_t>(fragment.size() - 40));
    cases.push_back({"embedded fragment header", error6(1, 4, {}, fragment, server), "icmp-inner"});
    Bytes zero = inner("l6-udp-zero");
    put16(zero, 46, 0);
    cases.push_back(
        {"embedded UDP without checksum", error6(1, 4, {}, zero, server), "icmp-inner"});
    Bytes nested = embedded6(IPPROTO_ICMP, 1, "l6-nested");
    nested[40] = 1;
    cases.push_back({"embedded ICMPv6 error", error6(1, 4, {}, nested, server), "icmp-inner"});
    for (const auto& c : cases) {
        CAPTURE(std::string(c.what));
        const std::string marker(c.packet.end() - 6, c.packet.end());
        const auto before = left_count(bed.programs->counters(), c.reason);
        bed.send_v6(c.packet);
        auto got = capture(bed.tun, 0,
                           [&](const Bytes& p) { return (p[0] >> 4) == 6 && carries(p, marker); });
        REQUIRE(got.has_value());
        Bytes expected = c.packet;
        --expected[7];
        CHECK(*got == expected);
        CHECK(left_count(bed.programs->counters(), c.reason) == before + 1);
    }
    // Shorter than its Payload Length says: left, and the kernel's IPv6 input drops it.
    Bytes shorter = error6(1, 4, {}, inner("l6-short"), server);
    put16(shorter, 4, static_cast<std::uint16_t>(get16(shorter, 4) + 8));
    const auto before = left_count(bed.programs->counters(), "icmp-inner");
    bed.send_v6(shorter);
    for (int i = 0; i < 100 && left_count(bed.programs->counters(), "icmp-inner") == before; ++i)
        ::usleep(20000);
    CHECK(left_count(bed.programs->counters(), "icmp-inner") == before + 1);
    CHECK(bed.programs->counters().ingress_packets == 0);
}

TEST_CASE("the kernel's ICMP errors cross the programs: port unreachable and a v6-only hop") {
    Bed bed("bi6");
    const std::string peer = "nsenter --net=/proc/" + std::to_string(bed.peer.pid()) + "/ns/net ";
    // IPv4 client to a closed port of the IPv6 server: the server's ICMPv6 port unreachable
    // comes back as ICMPv4 and the connected socket sees ECONNREFUSED.
    CHECK(sh("timeout 10 python3 -c \"import socket,time\n"
             "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(3)\n"
             "s.connect(('198.51.100.10',9));s.send(b'x')\n"
             "try:\n  s.recv(100);print('answered')\n"
             "except ConnectionRefusedError:\n  print('refused')\n"
             "except socket.timeout:\n  print('timeout')\"") == "refused\n");
    // IPv6 client (the server) to a closed port of the CLAT's IPv4 address: the host's ICMPv4
    // port unreachable leaves as ICMPv6.
    CHECK(sh(peer +
             "timeout 10 python3 -c \"import socket\n"
             "s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM);s.settimeout(3)\n"
             "s.bind(('" +
             kServerV6 + "',0));s.connect(('" + kClatV6 +
             "',9));s.send(b'x')\n"
             "try:\n  s.recv(100);print('answered')\n"
             "except ConnectionRefusedError:\n  print('refused')\n"
             "except socket.timeout:\n  print('timeout')\"") == "refused\n");
    // A traceroute probe with TTL 2: the translator takes one hop, the peer, forwarding as an
    // IPv6-only router, the second; its Time Exceeded from 2001:db8:1::2 reports 192.0.0.8.
    bed.peer.sh(
        "sysctl -qw net.ipv6.conf.all.forwarding=1 && ip -6 route add "
        "2001:db8:64::c633:6414/128 via " +
        std::string(kUplinkV6) + " dev " + bed.pe);
    std::ofstream("/tmp/" + bed.tag + "-trace.py")
        << "import socket,struct\n"
           "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
           "s.setsockopt(socket.IPPROTO_IP,socket.IP_TTL,2)\n"
           "IP_RECVERR=11\n"
           "s.setsockopt(socket.IPPROTO_IP,IP_RECVERR,1)\n"
           "s.connect(('198.51.100.20',33434));s.send(b'probe')\n"
           "import select\n"
           "select.select([s],[],[],3)\n"
           "d,anc,f,a=s.recvmsg(100,512,socket.MSG_ERRQUEUE)\n"
           "for level,kind,data in anc:\n"
           "  if level==socket.IPPROTO_IP and kind==IP_RECVERR:\n"
           "    err,origin,t,code=struct.unpack('=IBBB',data[:7])\n"
           "    print(t,code,socket.inet_ntoa(data[20:24]))\n";
    CHECK(sh("timeout 10 python3 /tmp/" + bed.tag + "-trace.py") == "11 0 192.0.0.8\n");
    sh_status("rm -f /tmp/" + bed.tag + "-*");
    INFO(to_string(bed.programs->counters()));
    CHECK(bed.programs->counters().ingress_packets >= 2);
    CHECK(bed.programs->counters().egress_packets >= 3);
}

}  // namespace clat::test
