// The Router Solicitor against the real kernel: RS captured on the far end of a veth pair, in
// a peer namespace, by a raw ICMPv6 socket opened there.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sched.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "adapters/router_solicitor.hpp"
#include "tests/integration/harness.hpp"

namespace clat::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// One ICMPv6 message as the peer received it.
struct Captured {
    std::vector<unsigned char> bytes;
    int hop_limit = -1;
    std::string source;
    std::string destination;
    Clock::time_point at;
};

std::string text(const in6_addr& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET6, &a, buf, sizeof buf);
    return buf;
}

/// A raw ICMPv6 socket in another namespace passing only Router Solicitations, member of
/// ff02::2 on `ifname` there (a host joins all-routers only when forwarding).
class RsCapture {
  public:
    RsCapture(const PeerNetns& peer, const std::string& ifname) {
        const int own = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        const std::string path = "/proc/" + std::to_string(peer.pid()) + "/ns/net";
        const int theirs = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (own < 0 || theirs < 0 || ::setns(theirs, CLONE_NEWNET) != 0)
            throw std::runtime_error("cannot enter the peer namespace");
        fd_ = ::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
        const unsigned index = ::if_nametoindex(ifname.c_str());
        const bool back = ::setns(own, CLONE_NEWNET) == 0;
        ::close(own);
        ::close(theirs);
        if (!back || fd_ < 0 || index == 0)
            throw std::runtime_error("cannot open the capture socket on " + ifname);
        icmp6_filter filter;
        ICMP6_FILTER_SETBLOCKALL(&filter);
        ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &filter);
        const int on = 1;
        ipv6_mreq group{};
        ::inet_pton(AF_INET6, "ff02::2", &group.ipv6mr_multiaddr);
        group.ipv6mr_interface = index;
        if (::setsockopt(fd_, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0 ||
            ::setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) != 0 ||
            ::setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) != 0 ||
            ::setsockopt(fd_, IPPROTO_IPV6, IPV6_JOIN_GROUP, &group, sizeof group) != 0)
            throw std::runtime_error("cannot set up the capture socket");
    }
    ~RsCapture() { ::close(fd_); }
    RsCapture(const RsCapture&) = delete;
    RsCapture& operator=(const RsCapture&) = delete;

    /// Reads whatever has arrived.
    void drain() {
        for (;;) {
            unsigned char buf[1500];
            alignas(cmsghdr) unsigned char control[256];
            sockaddr_in6 from{};
            iovec iov{buf, sizeof buf};
            msghdr msg{};
            msg.msg_name = &from;
            msg.msg_namelen = sizeof from;
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            const ssize_t n = ::recvmsg(fd_, &msg, 0);
            if (n < 0)
                return;
            Captured c;
            c.at = Clock::now();
            c.bytes.assign(buf, buf + n);
            c.source = text(from.sin6_addr);
            for (cmsghdr* h = CMSG_FIRSTHDR(&msg); h != nullptr; h = CMSG_NXTHDR(&msg, h)) {
                if (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_HOPLIMIT)
                    std::memcpy(&c.hop_limit, CMSG_DATA(h), sizeof c.hop_limit);
                if (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_PKTINFO) {
                    in6_pktinfo info;
                    std::memcpy(&info, CMSG_DATA(h), sizeof info);
                    c.destination = text(info.ipi6_addr);
                }
            }
            got.push_back(std::move(c));
        }
    }

    std::vector<Captured> got;

  private:
    int fd_ = -1;
};

/// A veth pair "rs0" here, "rs1" in the peer, both up with link-local addresses; neither
/// kernel sends RS of its own, so every RS captured is the solicitor's.
struct VethLink {
    VethLink() {
        sh("ip link add rs0 type veth peer name rs1 netns " + std::to_string(peer.pid()));
        sh("sysctl -qw net.ipv6.conf.rs0.accept_dad=0 net.ipv6.conf.rs0.router_solicitations=0");
        peer.sh(
            "sysctl -qw net.ipv6.conf.rs1.accept_dad=0 "
            "net.ipv6.conf.rs1.router_solicitations=0 && ip link set rs1 up");
        sh("ip link set rs0 up");
        for (int i = 0; i < 100 && sh("ip -6 -o addr show dev rs0 scope link").empty(); ++i)
            ::usleep(20'000);
        capture = std::make_unique<RsCapture>(peer, "rs1");
    }
    // Deleting one end removes the pair at once; the peer namespace goes away lazily.
    ~VethLink() {
        capture.reset();
        sh_status("ip link del rs0");
    }
    VethLink(const VethLink&) = delete;
    VethLink& operator=(const VethLink&) = delete;
    int index() const { return static_cast<int>(::if_nametoindex("rs0")); }

    /// Steps the loop for `time`, reading the capture every 5 ms.
    void run(boost::asio::io_context& io, std::chrono::milliseconds time) {
        const auto end = Clock::now() + time;
        while (Clock::now() < end) {
            io.restart();
            io.run_for(5ms);
            capture->drain();
        }
    }

    /// Steps the loop until `count` RS were captured or `limit` passed; true when they were.
    /// Waiting for the packets, not for a fixed time, keeps a loaded machine from moving one
    /// across a window's edge.
    bool run_until(boost::asio::io_context& io, std::size_t count,
                   std::chrono::milliseconds limit) {
        const auto end = Clock::now() + limit;
        while (capture->got.size() < count && Clock::now() < end) {
            io.restart();
            io.run_for(5ms);
            capture->drain();
        }
        return capture->got.size() >= count;
    }

    PeerNetns peer;
    std::unique_ptr<RsCapture> capture;
};

/// Steps the loop until `done` holds or `limit` passed.
template <class Done>
bool run_until(boost::asio::io_context& io, Done done, std::chrono::milliseconds limit) {
    const auto end = Clock::now() + limit;
    while (!done() && Clock::now() < end) {
        io.restart();
        io.run_for(5ms);
    }
    return done();
}

/// Routes spdlog into a buffer for the test's lifetime.
struct LogCapture {
    LogCapture() : sink(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)) {
        sink->set_pattern("%l %v");
        auto logger = std::make_shared<spdlog::logger>("test", sink);
        logger->set_level(spdlog::level::debug);
        previous = spdlog::default_logger();
        spdlog::set_default_logger(logger);
    }
    ~LogCapture() { spdlog::set_default_logger(previous); }
    int count(const std::string& start) const {
        int n = 0;
        for (const auto& line : sink->last_formatted())
            n += line.rfind(start, 0) == 0 ? 1 : 0;
        return n;
    }
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink;
    std::shared_ptr<spdlog::logger> previous;
};

TEST_CASE("three RS to ff02::2 with hop limit 255, one interval apart, then silence") {
    VethLink link;
    boost::asio::io_context io;
    RouterSolicitor solicitor(io, {3, 200ms});
    const auto start = Clock::now();
    solicitor.solicit(link.index(), "rs0");
    CHECK(solicitor.active());
    REQUIRE(link.run_until(io, 3, 5000ms));
    link.run(io, 600ms);  // three intervals of silence: no fourth

    auto& got = link.capture->got;
    REQUIRE(got.size() == 3);
    for (const auto& rs : got) {
        // RFC 4861 §4.1: 8 bytes (no option), type 133, code 0, reserved zero.
        REQUIRE(rs.bytes.size() == 8);
        CHECK(rs.bytes[0] == 133);
        CHECK(rs.bytes[1] == 0);
        CHECK(rs.bytes[4] == 0);
        CHECK(rs.bytes[7] == 0);
        CHECK(rs.hop_limit == 255);
        CHECK(rs.destination == "ff02::2");
        CHECK(rs.source.rfind("fe80:", 0) == 0);
    }
    // The first at once, the others one interval apart: timers never fire early, so the lower
    // bound is exact; the upper bounds leave room for a loaded machine.
    CHECK(got[0].at - start < 1000ms);
    for (std::size_t i = 1; i < got.size(); ++i) {
        const auto gap = got[i].at - got[i - 1].at;
        CHECK(gap >= 180ms);
        CHECK(gap < 2000ms);
    }
    CHECK(solicitor.sent() == 3);
    CHECK_FALSE(solicitor.active());
    CHECK_FALSE(solicitor.last_error().has_value());
}

TEST_CASE("cancel() stops the round; solicit() starts a new one") {
    VethLink link;
    boost::asio::io_context io;
    // A 1 s interval: the first RS goes at once, and is seen long before the second is due.
    RouterSolicitor solicitor(io, {3, 1000ms});
    solicitor.solicit(link.index(), "rs0");
    REQUIRE(link.run_until(io, 1, 900ms));
    solicitor.cancel();
    CHECK_FALSE(solicitor.active());
    link.run(io, 1500ms);
    CHECK(link.capture->got.size() == 1);

    // A second solicit() while a round runs replaces it: 3 RS in all, not 4.
    solicitor.solicit(link.index(), "rs0");
    REQUIRE(link.run_until(io, 2, 900ms));
    solicitor.solicit(link.index(), "rs0");
    CHECK(link.run_until(io, 1 + 1 + 3, 8000ms));
    link.run(io, 1500ms);  // past the interval: no RS of the replaced round follows
    CHECK(link.capture->got.size() == 1 + 1 + 3);
    CHECK(solicitor.sent() == 3);
}

TEST_CASE("a link that is down: one warning naming it, no RS, works once it is up") {
    LogCapture log;
    sh("ip link add rsdown0 type veth peer name rsdown1");
    sh("sysctl -qw net.ipv6.conf.rsdown0.accept_dad=0 net.ipv6.conf.rsdown1.accept_dad=0");
    const int index = static_cast<int>(::if_nametoindex("rsdown0"));
    boost::asio::io_context io;
    RouterSolicitor solicitor(io, {3, 50ms});
    solicitor.solicit(index, "rsdown0");
    io.run_for(400ms);
    CHECK(solicitor.sent() == 0);
    CHECK_FALSE(solicitor.active());
    REQUIRE(solicitor.last_error().has_value());
    const std::string& message = solicitor.last_error()->message;
    INFO(message);
    CHECK(message.find("rsdown0") != std::string::npos);
    // The kernel refuses, for a link that is down, with ENETUNREACH (no route to ff02::/8
    // on it: Linux 6.x here), ENETDOWN or EADDRNOTAVAIL (no link-local source address).
    CHECK((message.find("Network is unreachable") != std::string::npos ||
           message.find("Network is down") != std::string::npos ||
           message.find("Cannot assign requested address") != std::string::npos));
    CHECK(log.count("warning router-solicit failed dev=rsdown0") == 1);

    sh("ip link set rsdown0 up && ip link set rsdown1 up");
    for (int i = 0; i < 100 && sh("ip -6 -o addr show dev rsdown0 scope link").empty(); ++i)
        ::usleep(20'000);
    solicitor.solicit(index, "rsdown0");
    CHECK(run_until(
        io, [&] { return solicitor.sent() == 3; }, 5000ms));
    CHECK(solicitor.sent() == 3);
    sh("ip link del rsdown0");
}

/// Drops CAP_NET_RAW from the effective set of this (child) process.
bool drop_net_raw() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (::syscall(SYS_capget, &header, data) != 0)
        return false;
    data[CAP_TO_INDEX(CAP_NET_RAW)].effective &= ~CAP_TO_MASK(CAP_NET_RAW);
    return ::syscall(SYS_capset, &header, data) == 0;
}

TEST_CASE("without CAP_NET_RAW: one warning over several rounds, never fatal") {
    VethLink link;
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // Exit codes name the check that failed (doctest is not used in the child).
        if (!drop_net_raw())
            ::_exit(10);
        LogCapture log;
        boost::asio::io_context io;
        RouterSolicitor solicitor(io, {2, 20ms});
        for (int round = 0; round < 3; ++round) {
            solicitor.solicit(link.index(), "rs0");
            io.restart();
            io.run_for(100ms);
        }
        if (solicitor.sent() != 0 || !solicitor.last_error())
            ::_exit(11);
        if (solicitor.last_error()->message.find("Operation not permitted") == std::string::npos)
            ::_exit(12);
        if (log.count("warning router-solicit dev=rs0 disabled") != 1 || log.count("warning") != 1)
            ::_exit(13);
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    boost::asio::io_context io;
    link.run(io, 100ms);
    CHECK(link.capture->got.empty());
}

}  // namespace
}  // namespace clat::test
