// clat_bench storm: a storm of unrelated route events. Adds --routes unreachable routes to
// distinct 2001:db8:ffff:N::/64 prefixes in table --table, then deletes them again, batched
// (--batch requests per datagram, no NLM_F_ACK: the kernel answers only failures). Between
// the two halves it deletes the IPv4 default route through --break-dev (the one clatd
// installs) and watches, on a thread, for that route to come back.

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

void append_route(std::vector<std::uint8_t>& buffer, bool add, std::uint32_t table,
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

/// Sends the adds (or deletes) of routes [0, count) in batches; returns the failures.
int send_routes(RawNetlink& socket, bool add, long long count, std::uint32_t table, int batch) {
    int errors = 0;
    std::vector<std::uint8_t> buffer;
    for (long long i = 0; i < count; ++i) {
        append_route(buffer, add, table, static_cast<std::uint16_t>(i));
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

}  // namespace

int run_storm(const Options& options) {
    const long long routes = options.number("routes", 50000);
    const auto table = static_cast<std::uint32_t>(options.number("table", 1234));
    const int batch = static_cast<int>(options.number("batch", 256));
    const std::int64_t restore_timeout_us = options.number("restore-timeout-ms", 10000) * 1000;
    const std::string break_dev = options.text("break-dev", "clat");
    if (routes > 65536)
        throw std::runtime_error("at most 65536 routes");
    const int ifindex = static_cast<int>(::if_nametoindex(break_dev.c_str()));
    if (ifindex == 0)
        throw std::runtime_error("no device " + break_dev);

    RawNetlink socket;
    // Subscribed before the route is deleted, so that its return cannot be missed.
    RawNetlink watch(RTMGRP_IPV4_ROUTE);
    std::atomic<std::int64_t> restored_us{0};
    std::atomic<std::int64_t> watch_until{INT64_MAX};
    std::thread watcher([&] {
        while (restored_us == 0 && steady_us() < watch_until) {
            watch.receive(50, [&](const nlmsghdr* m) {
                if (restored_us == 0 && is_default_via(m, ifindex))
                    restored_us = steady_us();
            });
        }
    });

    const std::int64_t start = steady_us();
    int errors = send_routes(socket, true, routes, table, batch);
    const std::int64_t break_us = steady_us();
    delete_default(ifindex);
    errors += send_routes(socket, false, routes, table, batch);
    const std::int64_t end = steady_us();
    watch_until = end + restore_timeout_us;
    watcher.join();

    const double seconds = static_cast<double>(end - start) / 1e6;
    std::printf("events=%lld errors=%d generation_us=%lld rate_per_s=%.0f\n", 2 * routes, errors,
                static_cast<long long>(end - start), 2.0 * static_cast<double>(routes) / seconds);
    std::printf("storm_start_us=%lld break_us=%lld storm_end_us=%lld restored_us=%lld\n",
                static_cast<long long>(start), static_cast<long long>(break_us),
                static_cast<long long>(end), static_cast<long long>(restored_us.load()));
    return errors == 0 ? 0 : 1;
}

}  // namespace clat::test
