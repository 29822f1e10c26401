// The eBPF translator against TAYGA 0.9.2, the slow path it stands in front of: the same
// crafted packets (TCP, UDP with and without checksum, ICMP echo, ICMP errors with embedded
// packets, PTB and Fragmentation Needed, fragments, IPv4 options) go once through TAYGA alone
// (the programs disabled) and once through the programs, on one bed: a tun TAYGA serves with
// the tayga.conf clatd writes, and the veth uplink. IPv4 is written onto the tun (AF_PACKET:
// the egress program sees it first, else TAYGA reads it), IPv6 comes from the peer over the
// veth (the ingress program sees it first, else the kernel forwards it to TAYGA's tun).
// TAYGA's output is captured where it writes it (the tun), the programs' where they send it.
// The outputs are compared field by field. Where the two legitimately differ the case says so
// in code, with the reason; where TAYGA translates nothing, the case says what the programs
// make instead; what the programs leave must come out exactly as TAYGA alone makes it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "states/tayga_conf.hpp"
#include "tests/integration/bpf_bed.hpp"

namespace clat::test {
namespace {

using namespace std::chrono_literals;

/// TAYGA on the bed's tun with the configuration clatd renders (states/tayga_conf), run as
/// clatd runs it (tayga -d -c <conf>); killed and waited for when the case ends.
class Tayga {
  public:
    explicit Tayga(const Bed& bed) {
        char dir[] = "/tmp/clatd-diff-XXXXXX";
        REQUIRE(::mkdtemp(dir) != nullptr);
        dir_ = dir;
        TaygaSettings settings{bed.clat,
                               Ipv4Address{kTaygaV4},
                               *Ipv6Prefix::parse("2001:db8:64::/96"),
                               Ipv4Address{kClatV4},
                               *Ipv6Address::parse(kClatV6),
                               {}};
        const auto conf = render_tayga_conf(settings);
        REQUIRE(conf.ok());
        std::ofstream(dir_ + "/tayga.conf") << *conf;
        const std::string log = dir_ + "/tayga.log";
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            const std::string path = dir_ + "/tayga.conf";
            ::execl("/usr/sbin/tayga", "tayga", "-d", "-c", path.c_str(), nullptr);
            ::_exit(127);
        }
        // The tun has carrier once TAYGA holds it.
        for (int i = 0; i < 100; ++i) {
            if (sh("ip link show " + bed.clat).find("NO-CARRIER") == std::string::npos)
                return;
            std::this_thread::sleep_for(50ms);
        }
        FAIL("TAYGA did not attach to " << bed.clat << ": " << sh("cat " + log));
    }
    ~Tayga() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        sh_status("rm -rf " + dir_);
    }
    Tayga(const Tayga&) = delete;
    Tayga& operator=(const Tayga&) = delete;

  private:
    std::string dir_;
    pid_t pid_ = -1;
};

enum class Who { kNobody, kPrograms, kTayga };

struct Outcome {
    Who who = Who::kNobody;
    std::optional<Bytes> packet;  ///< the IP packet that came out, if any
};

/// The bed with TAYGA on the tun. Neither namespace answers the test's packets (nft drops
/// what their own stacks send), so nothing but the translators' output is ever captured and
/// the counters move only for the test's packets.
/// An nftables table of this namespace, deleted with the object.
struct NftTable {
    std::string name;
    explicit NftTable(std::string n) : name(std::move(n)) { sh("nft add table inet " + name); }
    ~NftTable() { sh_status("nft delete table inet " + name); }
    NftTable(const NftTable&) = delete;
    NftTable& operator=(const NftTable&) = delete;
};

struct DiffBed : Bed {
    Tayga tayga;
    NftTable table{tag};
    int peer_fd = -1;
    int tun_fd = -1;

    explicit DiffBed(const std::string& t) : Bed(t, false), tayga(*this) {
        sh("nft add chain inet " + tag +
           " out '{ type filter hook output priority 0; }' && nft add rule inet " + tag +
           " out drop");
        // TAYGA's output is captured on the tun; forwarded on to the peer it would look like
        // the programs' output there (one hop lower), so the uplink gets none of it.
        sh("nft add chain inet " + tag + " fw '{ type filter hook forward priority 0; }' && " +
           "nft add rule inet " + tag + " fw oifname " + up + " drop");
        peer.sh(
            "nft add table inet q && nft add chain inet q out '{ type filter hook output "
            "priority 0; }' && nft add rule inet q out drop");
        peer_fd = in_netns(peer.pid(), [&] { return packet_socket(pe); });
        tun_fd = packet_socket(clat);
    }
    ~DiffBed() {
        ::close(peer_fd);
        ::close(tun_fd);
    }

    /// Sends packet through TAYGA alone (programs false) or through the programs with TAYGA
    /// behind them, and says who made what came out.
    Outcome run(const Bytes& packet, bool with_programs,
                const std::function<bool(const Bytes&)>& match) {
        if (with_programs)
            configure("2001:db8:64::/96");
        else
            programs->disable();
        const BpfCounters before = programs->counters();
        Outcome o;
        if ((packet[0] >> 4) == 4) {
            send_on_tun(packet);  // the egress program runs in this call
            const bool translated = programs->counters().egress_packets > before.egress_packets;
            o.packet = translated ? capture(peer_fd, 14, match, 1500ms)
                                  : capture(tun_fd, 0, match, 1500ms);
            o.who = translated ? Who::kPrograms : Who::kTayga;
        } else {
            send_v6(packet);
            o.packet = capture(tun_fd, 0, match, 1500ms);
            o.who = programs->counters().ingress_packets > before.ingress_packets ? Who::kPrograms
                                                                                  : Who::kTayga;
        }
        if (!o.packet && o.who == Who::kTayga)
            o.who = Who::kNobody;
        return o;
    }
};

/// A field where the programs' output may differ from TAYGA's: where, and why, and what is
/// checked instead of equality.
struct Difference {
    std::size_t offset;
    std::size_t length;
    const char* why;
    std::function<void(const Bytes& tayga, const Bytes& programs)> check = nullptr;
};

/// The name of the field at offset of a packet of family (for messages).
std::string field(const Bytes& p, std::size_t at) {
    const bool v4 = (p[0] >> 4) == 4;
    static const std::pair<std::size_t, const char*> f4[] = {
        {0, "version/IHL"},  {1, "TOS"},         {2, "total length"}, {4, "identification"},
        {6, "flags/offset"}, {8, "TTL"},         {9, "protocol"},     {10, "header checksum"},
        {12, "source"},      {16, "destination"}};
    static const std::pair<std::size_t, const char*> f6[] = {
        {0, "version/traffic class/flow label"},
        {4, "payload length"},
        {6, "next header"},
        {7, "hop limit"},
        {8, "source"},
        {24, "destination"}};
    const std::size_t header = v4 ? 20 : 40;
    if (at >= header)
        return "payload byte " + std::to_string(at - header) + " (offset " + std::to_string(at) +
               ")";
    const char* name = "?";
    if (v4) {
        for (const auto& [o, n] : f4)
            if (o <= at)
                name = n;
    } else {
        for (const auto& [o, n] : f6)
            if (o <= at)
                name = n;
    }
    return std::string(name) + " (offset " + std::to_string(at) + ")";
}

/// Every byte equal, except the declared differences, which are checked their own way.
void compare(const Bytes& tayga, const Bytes& programs, const std::vector<Difference>& allowed) {
    auto covered = [&](std::size_t at) {
        for (const auto& d : allowed)
            if (at >= d.offset && at < d.offset + d.length)
                return true;
        return false;
    };
    CHECK(tayga.size() == programs.size());
    for (std::size_t i = 0; i < std::min(tayga.size(), programs.size()); ++i) {
        if (covered(i))
            continue;
        INFO(field(tayga, i));
        CHECK(int(tayga[i]) == int(programs[i]));
    }
    for (const auto& d : allowed) {
        INFO(d.why);
        if (d.check)
            d.check(tayga, programs);
    }
}

/// Each output is valid on its own: IPv4 header checksum, L4 checksum (not for fragments).
void check_valid(const Bytes& p) {
    if ((p[0] >> 4) == 4) {
        CHECK(fold16(sum16(p.data(), 20)) == 0);
        if ((get16(p, 6) & 0x3fff) == 0 && !(p[9] == IPPROTO_UDP && get16(p, 26) == 0))
            CHECK(l4_residue(p, 4) == 0);
    } else if (p[6] != 44) {
        CHECK(l4_residue(p, 6) == 0);
    }
}

// The differences the two translators have by design, named once.

/// 6→4: the kernel forwards IPv6 for the CLAT address to TAYGA's tun, which costs a hop
/// before TAYGA takes its own; the programs translate at the uplink's ingress, one hop only.
const Difference kForwardingHop{8, 1, "TAYGA's input crossed the kernel's forwarding first",
                                [](const Bytes& t, const Bytes& p) { CHECK(t[8] + 1 == p[8]); }};
const Difference kHeaderChecksum{10, 2, "the IPv4 header checksum follows the TTL",
                                 [](const Bytes& t, const Bytes& p) {
                                     CHECK(fold16(sum16(t.data(), 20)) == 0);
                                     CHECK(fold16(sum16(p.data(), 20)) == 0);
                                 }};

Difference icmp_checksum(std::size_t at, int family) {
    return {at, 2, "the ICMP checksum follows the fields that differ",
            [family](const Bytes& t, const Bytes& p) {
                CHECK(l4_residue(t, family) == 0);
                CHECK(l4_residue(p, family) == 0);
            }};
}

Bytes inner4(std::uint8_t proto, std::uint16_t id, const std::string& m, std::size_t keep = 0) {
    Bytes b = ipv4_packet(proto, kServerV4, kClatV4, l4_segment(proto, id, m, false), 0x48, 33);
    if (keep)
        b.resize(keep);
    return b;
}

Bytes inner6(std::uint8_t proto, std::uint16_t id, const std::string& m, std::size_t keep = 0,
             std::size_t pad = 0) {
    Bytes b = ipv6_packet(proto, v6(kClatV6), v6(kServerV6),
                          l4_segment(proto, id, m + std::string(pad, 'p'), true), 0x48, 33);
    if (keep)
        b.resize(keep);
    return b;
}

/// What a case expects of the two runs.
enum class Expect {
    kSame,          ///< both translate; equal but for the declared differences
    kProgramsOnly,  ///< TAYGA 0.9.2 translates nothing (the reason is given); the programs do
    kLeft,          ///< the programs leave it (counted); TAYGA's output, byte for byte
};

struct Case {
    std::string what;
    Bytes packet;
    Expect expect;
    std::vector<Difference> differences = {};
    const char* reason = "";  ///< kProgramsOnly: why TAYGA is silent; kLeft: the counter
    std::function<void(const Bytes&)> check = nullptr;  ///< more on the programs' output
    bool output = true;  ///< kLeft: TAYGA makes something of it (else it drops it)
};

/// Matches the output carrying the case's marker (its payload ends with it), of either family.
std::function<bool(const Bytes&)> marked(const Bytes& packet) {
    const std::string marker(packet.end() - 9, packet.end());
    return [marker](const Bytes& p) { return carries(p, marker); };
}

/// Matches by the embedded transport header's identifier, for errors too short to carry the
/// marker: id at offset at of the output.
std::function<bool(const Bytes&)> by_id(std::size_t at, std::uint16_t id) {
    return [at, id](const Bytes& p) { return p.size() >= at + 2 && get16(p, at) == id; };
}

void run_case(DiffBed& bed, const Case& c, const std::function<bool(const Bytes&)>& match) {
    CAPTURE(c.what);
    const Outcome alone = bed.run(c.packet, false, match);
    const BpfCounters before = bed.programs->counters();
    const Outcome fast = bed.run(c.packet, true, match);
    INFO("programs: " << to_string(bed.programs->counters()));
    if (c.expect == Expect::kSame) {
        REQUIRE_MESSAGE(alone.packet.has_value(), "TAYGA made nothing");
        REQUIRE_MESSAGE(fast.packet.has_value(), "the programs made nothing");
        CHECK(alone.who == Who::kTayga);
        CHECK(fast.who == Who::kPrograms);
        compare(*alone.packet, *fast.packet, c.differences);
        check_valid(*fast.packet);
    } else if (c.expect == Expect::kProgramsOnly) {
        INFO("TAYGA: " << c.reason);
        CHECK_FALSE(alone.packet.has_value());
        REQUIRE(fast.packet.has_value());
        CHECK(fast.who == Who::kPrograms);
        check_valid(*fast.packet);
    } else {
        CHECK(fast.who != Who::kPrograms);
        CHECK(left_count(bed.programs->counters(), c.reason) == left_count(before, c.reason) + 1);
        CHECK(alone.packet.has_value() == c.output);
        CHECK(fast.packet.has_value() == c.output);
        if (alone.packet && fast.packet)
            CHECK(*alone.packet == *fast.packet);
    }
    if (c.check && fast.packet)
        c.check(*fast.packet);
}

std::string mark(int n) {
    char b[16];
    std::snprintf(b, sizeof(b), "dm-%06d", n);
    return b;
}

}  // namespace

TEST_CASE("IPv4 from the CLAT: the programs translate as TAYGA does, or leave it to TAYGA") {
    DiffBed bed("bd1");
    int n = 100;
    std::vector<Case> cases;
    auto udp = [&](const std::string& m) { return l4_segment(IPPROTO_UDP, 7, m, false); };
    cases.push_back(
        {"TCP",
         ipv4_packet(IPPROTO_TCP, kClatV4, kServerV4, l4_segment(IPPROTO_TCP, 7, mark(++n), false)),
         Expect::kSame});
    cases.push_back(
        {"UDP", ipv4_packet(IPPROTO_UDP, kClatV4, kServerV4, udp(mark(++n))), Expect::kSame});
    Bytes zero = ipv4_packet(IPPROTO_UDP, kClatV4, kServerV4, udp(mark(++n)));
    put16(zero, 26, 0);
    cases.push_back({"UDP without checksum (TAYGA 0.9.2 drops it)",
                     zero,
                     Expect::kLeft,
                     {},
                     "udp-zero-checksum",
                     nullptr,
                     false});
    cases.push_back({"UDP, DF clear",
                     ipv4_packet(IPPROTO_UDP, kClatV4, kServerV4, udp(mark(++n)), 0x28, 17, 0),
                     Expect::kSame});
    cases.push_back({"ICMP echo request",
                     ipv4_packet(IPPROTO_ICMP, kClatV4, kServerV4,
                                 l4_segment(IPPROTO_ICMP, 7, mark(++n), false)),
                     Expect::kSame});
    cases.push_back({"port unreachable about UDP",
                     error4(3, 3, {}, inner4(IPPROTO_UDP, 7, mark(++n))), Expect::kSame});
    cases.push_back({"host unreachable about TCP",
                     error4(3, 1, {}, inner4(IPPROTO_TCP, 7, mark(++n))), Expect::kSame});
    cases.push_back({"protocol unreachable -> parameter problem",
                     error4(3, 2, {}, inner4(IPPROTO_UDP, 7, mark(++n))), Expect::kSame});
    cases.push_back({"time exceeded about an echo",
                     error4(11, 0, {}, inner4(IPPROTO_ICMP, 7, mark(++n))), Expect::kSame});
    cases.push_back({"fragmentation needed 1400 -> packet too big 1420",
                     error4(3, 4, rest16(1400), inner4(IPPROTO_UDP, 7, mark(++n))), Expect::kSame});
    // Both give 1280 (RFC 7915 §6 item 1; TAYGA 0.9.2 with its ident generation, which from
    // then on also gives that server's IPv4 packets an identification and no DF).
    cases.push_back({"fragmentation needed 1000 -> packet too big 1280",
                     error4(3, 4, rest16(1000), inner4(IPPROTO_UDP, 7, mark(++n))),
                     Expect::kSame,
                     {},
                     "",
                     [](const Bytes& p) { CHECK(get16(p, 46) == 1280); }});
    cases.push_back({"parameter problem",
                     error4(12, 0, {9, 0, 0, 0}, inner4(IPPROTO_UDP, 7, mark(++n))),
                     Expect::kProgramsOnly,
                     {},
                     "0.9.2 does not translate Parameter Problem ('XXX do this')",
                     [](const Bytes& p) {
                         CHECK(p[40] == 4);
                         CHECK(get16(p, 46) == 6);  // Protocol -> Next Header
                     }});
    Case cut{"error about TCP cut to 8 bytes",
             error4(3, 3, {}, inner4(IPPROTO_TCP, 4242, "", 28)),
             Expect::kProgramsOnly,
             {},
             "0.9.2 wants 20 bytes of an embedded TCP header to adjust its checksum"};
    // A fragment with more to come carries a multiple of 8 bytes (TAYGA drops others).
    const Bytes fragment =
        ipv4_packet(IPPROTO_UDP, kClatV4, kServerV4, udp("fffffff" + mark(++n)), 0x28, 17, 0x2000);
    cases.push_back({"first fragment (MF)", fragment, Expect::kLeft, {}, "fragment"});
    Bytes later = ipv4_packet(IPPROTO_UDP, kClatV4, kServerV4, udp(mark(++n)), 0x28, 17, 0x0003);
    cases.push_back({"later fragment", later, Expect::kLeft, {}, "fragment"});
    Bytes options = ipv4_packet(IPPROTO_UDP, kClatV4, kServerV4, udp(mark(++n)));
    options.insert(options.begin() + 20, {1, 1, 1, 0});
    options[0] = 0x46;
    put16(options, 2, static_cast<std::uint16_t>(options.size()));
    put16(options, 10, 0);
    put16(options, 10, fold16(sum16(options.data(), 24)));
    cases.push_back({"IPv4 options", options, Expect::kLeft, {}, "options"});
    cases.push_back({"TTL 1: TAYGA answers Time Exceeded",
                     ipv4_packet(IPPROTO_UDP, kClatV4, kServerV4, udp(mark(++n)), 0x28, 1),
                     Expect::kLeft,
                     {},
                     "ttl"});
    for (const auto& c : cases)
        run_case(bed, c, marked(c.packet));
    run_case(bed, cut, by_id(88 + 2, 4242));
}

TEST_CASE("IPv6 to the CLAT: the programs translate as TAYGA does, or leave it to TAYGA") {
    DiffBed bed("bd2");
    int n = 500;
    const V6 server = v6(kServerV6);
    // Every IPv4 packet the programs make here has a TTL one higher than TAYGA's (see
    // kForwardingHop) and so its own header checksum; nothing else may differ by default.
    const std::vector<Difference> hop = {kForwardingHop, kHeaderChecksum};
    std::vector<Case> cases;
    auto direct = [&](std::uint8_t proto) {
        return ipv6_packet(proto, server, v6(kClatV6), l4_segment(proto, 7, mark(++n), true));
    };
    cases.push_back({"TCP", direct(IPPROTO_TCP), Expect::kSame, hop});
    cases.push_back({"UDP", direct(IPPROTO_UDP), Expect::kSame, hop});
    cases.push_back({"ICMPv6 echo request", direct(IPPROTO_ICMP), Expect::kSame, hop});
    Bytes zero = direct(IPPROTO_UDP);
    put16(zero, 46, 0);
    cases.push_back({"UDP without checksum (invalid in IPv6; TAYGA drops it)",
                     zero,
                     Expect::kLeft,
                     {},
                     "udp-zero-checksum",
                     nullptr,
                     false});
    cases.push_back({"port unreachable about UDP",
                     error6(1, 4, {}, inner6(IPPROTO_UDP, 7, mark(++n)), server), Expect::kSame,
                     hop});
    cases.push_back({"administratively prohibited about TCP",
                     error6(1, 1, {}, inner6(IPPROTO_TCP, 7, mark(++n)), server), Expect::kSame,
                     hop});
    cases.push_back({"no route", error6(1, 0, {}, inner6(IPPROTO_UDP, 7, mark(++n)), server),
                     Expect::kSame, hop});
    cases.push_back({"address unreachable",
                     error6(1, 3, {}, inner6(IPPROTO_UDP, 7, mark(++n)), server),
                     Expect::kProgramsOnly,
                     {},
                     "0.9.2 drops code 3; RFC 7915 §5.2 makes it host unreachable",
                     [](const Bytes& p) { CHECK(get16(p, 20) == 0x0301); }});
    cases.push_back({"hop limit exceeded about an echo",
                     error6(3, 0, {}, inner6(IPPROTO_ICMP, 7, mark(++n)), server), Expect::kSame,
                     hop});
    cases.push_back({"packet too big 1400 -> fragmentation needed 1380",
                     error6(2, 0, rest32(1400), inner6(IPPROTO_TCP, 7, mark(++n)), server),
                     Expect::kSame, hop});
    std::vector<Difference> small = hop;
    small.push_back({24, 4, "MTU below 1280: the programs take 1280 (RFC 8201 §4), TAYGA 1000",
                     [](const Bytes& t, const Bytes& p) {
                         CHECK(get16(t, 26) == 980);
                         CHECK(get16(p, 26) == 1260);
                     }});
    small.push_back(icmp_checksum(22, 4));
    cases.push_back({"packet too big 1000",
                     error6(2, 0, rest32(1000), inner6(IPPROTO_UDP, 7, mark(++n)), server),
                     Expect::kSame, small});
    cases.push_back({"parameter problem, erroneous header field",
                     error6(4, 0, rest32(7), inner6(IPPROTO_UDP, 7, mark(++n)), server),
                     Expect::kProgramsOnly,
                     {},
                     "0.9.2 does not translate Parameter Problem code 0 ('XXX do this')",
                     [](const Bytes& p) {
                         CHECK(get16(p, 20) == 0x0c00);
                         CHECK(p[24] == 8);  // Hop Limit -> TTL
                     }});
    cases.push_back({"parameter problem, unrecognised next header",
                     error6(4, 1, rest32(6), inner6(IPPROTO_UDP, 7, mark(++n)), server),
                     Expect::kSame, hop});
    // A long error: TAYGA cuts the IPv4 message to 576 bytes (RFC 1812 §4.3.2.3 for errors a
    // router makes); the programs translate in place and keep it all.
    const Bytes long_error = error6(1, 4, {}, inner6(IPPROTO_UDP, 7, mark(++n), 0, 900), server);
    Case long_case{"long port unreachable (TAYGA cuts to 576)", long_error, Expect::kSame};
    std::vector<Difference> cut = hop;
    // Checked below on the whole of both packets (compare() sees the programs' first 576).
    cut.push_back({2, 2, "total length: TAYGA's 576, the programs' the whole message"});
    cut.push_back({22, 2, "the ICMPv4 checksum covers the bytes TAYGA cut"});
    // The embedded UDP checksum and all bytes past 576 are compared on the programs' side.
    Bytes v6only_te = error6(3, 0, {}, inner6(IPPROTO_UDP, 7, mark(++n)), v6(kPeerV6));
    cases.push_back({"hop limit exceeded from an IPv6-only router",
                     v6only_te,
                     Expect::kProgramsOnly,
                     {},
                     "0.9.2 drops errors from addresses it cannot map, but for a few codes",
                     [](const Bytes& p) {
                         CHECK(std::equal(p.begin() + 12, p.begin() + 16, kDummyV4.begin()));
                     }});
    std::vector<Difference> source = hop;
    source.push_back({12, 4, "source: 192.0.0.8 (icmpext-xlat-v6only-source); TAYGA its own",
                      [](const Bytes& t, const Bytes& p) {
                          CHECK(std::equal(t.begin() + 12, t.begin() + 16, kTaygaV4.begin()));
                          CHECK(std::equal(p.begin() + 12, p.begin() + 16, kDummyV4.begin()));
                      }});
    cases.push_back({"no route from an IPv6-only router",
                     error6(1, 0, {}, inner6(IPPROTO_UDP, 7, mark(++n)), v6(kPeerV6)),
                     Expect::kSame, source});
    Bytes fragment = direct(IPPROTO_UDP);
    const Bytes header = {IPPROTO_UDP, 0, 0, 0, 0, 0, 0x12, 0x34};
    fragment.insert(fragment.begin() + 40, header.begin(), header.end());
    fragment[6] = 44;
    put16(fragment, 4, static_cast<std::uint16_t>(fragment.size() - 40));
    cases.push_back({"atomic fragment", fragment, Expect::kLeft, {}, "fragment"});
    Bytes first = ipv6_packet(IPPROTO_UDP, server, v6(kClatV6),
                              l4_segment(IPPROTO_UDP, 7, "fffffff" + mark(++n), true));
    first.insert(first.begin() + 40, header.begin(), header.end());
    first[6] = 44;
    first[40 + 3] = 1;  // offset 0, more fragments; 24 bytes after the header
    put16(first, 4, static_cast<std::uint16_t>(first.size() - 40));
    cases.push_back({"first of two fragments", first, Expect::kLeft, {}, "fragment"});
    for (const auto& c : cases)
        run_case(bed, c, marked(c.packet));

    // The long error, compared over the 576 bytes TAYGA keeps.
    {
        CAPTURE(long_case.what);
        const std::string marker = "pppppppp";  // its padding; no other case has any
        auto m = [&](const Bytes& p) { return p.size() > 500 && carries(p, marker); };
        const Outcome alone = bed.run(long_error, false, m);
        const Outcome fast = bed.run(long_error, true, m);
        REQUIRE(alone.packet.has_value());
        REQUIRE(fast.packet.has_value());
        CHECK(fast.who == Who::kPrograms);
        Bytes head(fast.packet->begin(), fast.packet->begin() + 576);
        compare(*alone.packet, head, cut);
        CHECK(get16(*alone.packet, 2) == 576);
        CHECK(alone.packet->size() == 576);
        CHECK(get16(*fast.packet, 2) == long_error.size() - 40);
        CHECK(fast.packet->size() == long_error.size() - 40);
        CHECK(l4_residue(*alone.packet, 4) == 0);
        CHECK(l4_residue(*fast.packet, 4) == 0);
        const Bytes e(fast.packet->begin() + 28, fast.packet->end());
        INFO("embedded " << e.size() << " bytes, total length " << get16(e, 2) << ", UDP length "
                         << get16(e, 24));
        CHECK(l4_residue(e, 4) == 0);
    }
    Case cut8{"error about TCP cut to 8 bytes",
              error6(1, 4, {}, inner6(IPPROTO_TCP, 4343, "", 48), server),
              Expect::kProgramsOnly,
              {},
              "0.9.2 wants 20 bytes of an embedded TCP header to adjust its checksum"};
    run_case(bed, cut8, by_id(48 + 2, 4343));
}

}  // namespace clat::test
