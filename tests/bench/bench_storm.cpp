// clat_bench storm: a storm of unrelated netlink events, of one --kind:
//   route6  unreachable routes to distinct 2001:db8:ffff:N::/64 in table --table (default)
//   route4  unreachable host routes into 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 in
//           table --table, metrics 1, 2, ... once the 768 addresses are used up
//   addr6   addresses 2001:db8:fffe::N:0:1/128 (nodad) on device --dev (not the uplink); the
//           low 24 bits are the same in all, so they share one solicited-node group (with one
//           group each, the kernel's multicast list makes 10 000 events take 26 s, not 4 s)
// --count of them are added, then deleted again (--routes is the older name of --count),
// batched (--batch requests per datagram, no NLM_F_ACK: the kernel answers only failures), or
// with --acked one request per datagram, each acknowledged before the next (as `ip -batch`).
// Between the two halves it deletes the IPv4 default route through --break-dev (the one
// clatd installs) and watches, on a thread, for that route to come back.

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "tests/bench/bench_util.hpp"

namespace clat::test {
namespace {

enum class Kind { kRoute6, kRoute4, kAddress6 };

struct Storm {
    Kind kind = Kind::kRoute6;
    std::uint32_t table = 1234;
    int ifindex = 0;     // addr6: the device the addresses go on
    bool acked = false;  // one request per datagram, each acknowledged before the next
};

Kind parse_kind(const std::string& text) {
    if (text == "route6")
        return Kind::kRoute6;
    if (text == "route4")
        return Kind::kRoute4;
    if (text == "addr6")
        return Kind::kAddress6;
    throw std::runtime_error("unknown --kind " + text + " (route6, route4 or addr6)");
}

void append_route6(std::vector<std::uint8_t>& buffer, bool add, std::uint32_t table,
                   std::uint16_t index) {
    rtmsg rt{};
    rt.rtm_family = AF_INET6;
    rt.rtm_dst_len = 64;
    rt.rtm_table = RT_TABLE_UNSPEC;
    rt.rtm_protocol = RTPROT_STATIC;
    rt.rtm_scope = RT_SCOPE_UNIVERSE;
    rt.rtm_type = RTN_UNREACHABLE;
    const std::uint16_t flags =
        add ? NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL : static_cast<std::uint16_t>(NLM_F_REQUEST);
    const std::size_t m =
        begin_message(buffer, add ? RTM_NEWROUTE : RTM_DELROUTE, flags, &rt, sizeof rt);
    std::uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff};
    dst[6] = static_cast<std::uint8_t>(index >> 8);
    dst[7] = static_cast<std::uint8_t>(index & 0xff);
    add_attribute(buffer, m, RTA_DST, dst, sizeof dst);
    add_attribute(buffer, m, RTA_TABLE, &table, sizeof table);
}

/// Route `index`: host address index % 768 of the three documentation /24s, metric
/// 1 + index / 768 (a route is told apart by its metric as well as its destination).
void append_route4(std::vector<std::uint8_t>& buffer, bool add, std::uint32_t table,
                   std::uint32_t index) {
    static constexpr std::uint8_t kNets[3][3] = {{192, 0, 2}, {198, 51, 100}, {203, 0, 113}};
    rtmsg rt{};
    rt.rtm_family = AF_INET;
    rt.rtm_dst_len = 32;
    rt.rtm_table = RT_TABLE_UNSPEC;
    rt.rtm_protocol = RTPROT_STATIC;
    rt.rtm_scope = RT_SCOPE_UNIVERSE;
    rt.rtm_type = RTN_UNREACHABLE;
    const std::uint16_t flags =
        add ? NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL : static_cast<std::uint16_t>(NLM_F_REQUEST);
    const std::size_t m =
        begin_message(buffer, add ? RTM_NEWROUTE : RTM_DELROUTE, flags, &rt, sizeof rt);
    const std::uint32_t host = index % 768;
    const std::uint8_t* net = kNets[host / 256];
    const std::uint8_t dst[4] = {net[0], net[1], net[2], static_cast<std::uint8_t>(host % 256)};
    const std::uint32_t metric = 1 + index / 768;
    add_attribute(buffer, m, RTA_DST, dst, sizeof dst);
    add_attribute(buffer, m, RTA_TABLE, &table, sizeof table);
    add_attribute(buffer, m, RTA_PRIORITY, &metric, sizeof metric);
}

void append_address6(std::vector<std::uint8_t>& buffer, bool add, int ifindex,
                     std::uint16_t index) {
    ifaddrmsg ifa{};
    ifa.ifa_family = AF_INET6;
    ifa.ifa_prefixlen = 128;
    ifa.ifa_flags = IFA_F_NODAD;
    ifa.ifa_scope = RT_SCOPE_UNIVERSE;
    ifa.ifa_index = static_cast<std::uint32_t>(ifindex);
    const std::uint16_t flags =
        add ? NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL : static_cast<std::uint16_t>(NLM_F_REQUEST);
    const std::size_t m =
        begin_message(buffer, add ? RTM_NEWADDR : RTM_DELADDR, flags, &ifa, sizeof ifa);
    std::uint8_t address[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xfe};
    address[10] = static_cast<std::uint8_t>(index >> 8);
    address[11] = static_cast<std::uint8_t>(index & 0xff);
    address[15] = 1;
    add_attribute(buffer, m, IFA_LOCAL, address, sizeof address);
    add_attribute(buffer, m, IFA_ADDRESS, address, sizeof address);
}

void append_request(std::vector<std::uint8_t>& buffer, const Storm& storm, bool add,
                    long long index) {
    switch (storm.kind) {
        case Kind::kRoute6:
            append_route6(buffer, add, storm.table, static_cast<std::uint16_t>(index));
            break;
        case Kind::kRoute4:
            append_route4(buffer, add, storm.table, static_cast<std::uint32_t>(index));
            break;
        case Kind::kAddress6:
            append_address6(buffer, add, storm.ifindex, static_cast<std::uint16_t>(index));
            break;
    }
}

/// Sends one request with NLM_F_ACK and waits for its answer; true if it succeeded.
bool send_acked(RawNetlink& socket, std::vector<std::uint8_t>& buffer) {
    reinterpret_cast<nlmsghdr*>(buffer.data())->nlmsg_flags |= NLM_F_ACK;
    socket.send(buffer);
    int error = 1;
    while (error == 1 && socket.receive(2000, [&](const nlmsghdr* reply) {
        if (reply->nlmsg_type == NLMSG_ERROR)
            error = static_cast<const nlmsgerr*>(NLMSG_DATA(reply))->error;
    })) {
    }
    return error == 0;
}

/// Sends the adds (or deletes) of requests [0, count) in batches, or (acked) one by one, each
/// waiting for its acknowledgement as `ip -batch` does; returns the failures.
int send_requests(RawNetlink& socket, const Storm& storm, bool add, long long count, int batch) {
    int errors = 0;
    std::vector<std::uint8_t> buffer;
    for (long long i = 0; i < count; ++i) {
        append_request(buffer, storm, add, i);
        if (storm.acked) {
            errors += send_acked(socket, buffer) ? 0 : 1;
            buffer.clear();
            continue;
        }
        if ((i + 1) % batch == 0 || i + 1 == count) {
            socket.send(buffer);
            buffer.clear();
            errors += socket.drain_errors();
        }
    }
    return errors;
}

bool is_default_via(const nlmsghdr* m, int ifindex) {
    if (m->nlmsg_type != RTM_NEWROUTE)
        return false;
    const auto* rt = static_cast<const rtmsg*>(NLMSG_DATA(m));
    if (rt->rtm_family != AF_INET || rt->rtm_dst_len != 0)
        return false;
    std::uint32_t table = rt->rtm_table;
    int oif = 0;
    int length = static_cast<int>(RTM_PAYLOAD(m));
    for (auto* a = RTM_RTA(rt); RTA_OK(a, length); a = RTA_NEXT(a, length)) {
        if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
            std::memcpy(&oif, RTA_DATA(a), 4);
        else if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) == 4)
            std::memcpy(&table, RTA_DATA(a), 4);
    }
    return table == RT_TABLE_MAIN && oif == ifindex;
}

/// Deletes the IPv4 default route through ifindex, with an acknowledgement.
void delete_default(int ifindex) {
    RawNetlink socket;
    rtmsg rt{};
    rt.rtm_family = AF_INET;
    rt.rtm_table = RT_TABLE_MAIN;
    rt.rtm_scope = RT_SCOPE_NOWHERE;
    std::vector<std::uint8_t> buffer;
    const std::size_t m =
        begin_message(buffer, RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, &rt, sizeof rt);
    add_attribute(buffer, m, RTA_OIF, &ifindex, sizeof ifindex);
    socket.send(buffer);
    int error = 1;
    while (error == 1 && socket.receive(2000, [&](const nlmsghdr* reply) {
        if (reply->nlmsg_type == NLMSG_ERROR)
            error = static_cast<const nlmsgerr*>(NLMSG_DATA(reply))->error;
    })) {
    }
    if (error != 0)
        throw std::runtime_error("deleting the IPv4 default route failed: " +
                                 std::string(error == 1 ? "no answer" : std::strerror(-error)));
}

/// Watches, on a thread, for the IPv4 default route through ifindex to be added again;
/// subscribed from construction on, so that the return cannot be missed.
class RestoreWatch {
  public:
    explicit RestoreWatch(int ifindex)
        : socket_(RTMGRP_IPV4_ROUTE), thread_([this, ifindex] {
              while (restored_us_ == 0 && steady_us() < until_us_) {
                  socket_.receive(50, [&](const nlmsghdr* m) {
                      if (restored_us_ == 0 && is_default_via(m, ifindex))
                          restored_us_ = steady_us();
                  });
              }
          }) {}
    ~RestoreWatch() { wait_until(0); }
    RestoreWatch(const RestoreWatch&) = delete;
    RestoreWatch& operator=(const RestoreWatch&) = delete;
    /// Stops watching at deadline_us (steady µs) or once the route is back; when it came back
    /// (0: not seen).
    std::int64_t wait_until(std::int64_t deadline_us) {
        if (thread_.joinable()) {
            until_us_ = deadline_us;
            thread_.join();
        }
        return restored_us_;
    }

  private:
    RawNetlink socket_;
    std::atomic<std::int64_t> restored_us_{0};
    std::atomic<std::int64_t> until_us_{INT64_MAX};
    std::thread thread_;
};

}  // namespace

int run_storm(const Options& options) {
    Storm storm;
    storm.kind = parse_kind(options.text("kind", "route6"));
    const long long count = options.number("count", options.number("routes", 50000));
    storm.table = static_cast<std::uint32_t>(options.number("table", 1234));
    storm.acked = options.has("acked");
    const int batch = static_cast<int>(options.number("batch", 256));
    const std::int64_t restore_timeout_us = options.number("restore-timeout-ms", 10000) * 1000;
    const std::string break_dev = options.text("break-dev", "clat");
    if (count < 1 || count > 65536)
        throw std::runtime_error("--count must be 1 to 65536");
    const int ifindex = static_cast<int>(::if_nametoindex(break_dev.c_str()));
    if (ifindex == 0)
        throw std::runtime_error("no device " + break_dev);
    if (storm.kind == Kind::kAddress6) {
        const std::string dev = options.text("dev");
        storm.ifindex = static_cast<int>(::if_nametoindex(dev.c_str()));
        if (storm.ifindex == 0)
            throw std::runtime_error("addr6 needs --dev, an existing device (got '" + dev + "')");
    }

    RawNetlink socket;
    RestoreWatch watch(ifindex);
    const std::int64_t start = steady_us();
    int errors = send_requests(socket, storm, true, count, batch);
    const std::int64_t break_us = steady_us();
    std::string break_error;
    try {
        delete_default(ifindex);
    } catch (const std::exception& e) {
        break_error = e.what();  // the deletes still go out: nothing of the storm stays
    }
    errors += send_requests(socket, storm, false, count, batch);
    const std::int64_t end = steady_us();
    const std::int64_t restored_us =
        watch.wait_until(break_error.empty() ? end + restore_timeout_us : 0);

    const double seconds = static_cast<double>(end - start) / 1e6;
    std::printf("events=%lld errors=%d generation_us=%lld rate_per_s=%.0f\n", 2 * count, errors,
                static_cast<long long>(end - start), 2.0 * static_cast<double>(count) / seconds);
    std::printf("storm_start_us=%lld break_us=%lld storm_end_us=%lld restored_us=%lld\n",
                static_cast<long long>(start), static_cast<long long>(break_us),
                static_cast<long long>(end), static_cast<long long>(restored_us));
    if (!break_error.empty())
        std::fprintf(stderr, "clat_bench storm: %s\n", break_error.c_str());
    return errors == 0 && break_error.empty() ? 0 : 1;
}

}  // namespace clat::test
