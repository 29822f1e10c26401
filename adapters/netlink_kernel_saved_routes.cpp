// Foreign routes removed for v4-defaultroute-replace: saved whole, deleted exactly, restored
// verbatim (see adapters/saved_route.hpp for why bytes).
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <variant>
#include <vector>

#include "adapters/netlink_kernel_ops.hpp"
#include "adapters/netlink_parse.hpp"
#include "adapters/saved_route.hpp"

namespace clat::kernel_ops {
namespace {

/// Whether nexthop object id exists (RTM_GETNEXTHOP answers ENOENT when not).
Result<bool> nexthop_exists(rtnl::Socket& socket, std::uint32_t id) {
    nhmsg nhm{};
    nhm.nh_family = AF_UNSPEC;
    auto msg = rtnl::make_message(RTM_GETNEXTHOP, 0, &nhm, sizeof nhm);
    nla_put_u32(msg.get(), NHA_ID, id);
    const rtnl::Reply reply = socket.transact(msg.get(), [](const nlmsghdr&) {});
    if (reply.error == ENOENT)
        return false;
    if (reply.error != 0)
        return make_error("cannot look up nexthop id " + std::to_string(id) + ": " +
                          rtnl::describe(reply));
    return true;
}

}  // namespace

Result<std::vector<std::uint8_t>> save_route(rtnl::Socket& socket,
                                             const op::RemoveForeignRouteV4& o) {
    RouteV4 want = o.route;
    want.oif = 0;
    if (!o.dev.empty() && (want.oif = ifindex_of(o.dev)) == 0)
        return std::vector<std::uint8_t>{};  // the route went with its link
    rtmsg rtm{};
    rtm.rtm_family = AF_INET;
    auto msg = rtnl::make_message(RTM_GETROUTE, NLM_F_DUMP, &rtm, sizeof rtm);
    std::vector<std::uint8_t> saved;
    const rtnl::Reply reply = socket.transact(msg.get(), [&](const nlmsghdr& hdr) {
        if (!saved.empty() || hdr.nlmsg_type != RTM_NEWROUTE)
            return;
        // Identified the way the planner saw it: the same parser reads the dump.
        const ParsedRoute parsed = parse_route(&hdr);
        const auto* route = std::get_if<RouteV4>(&parsed);
        if (route == nullptr || !(*route == want))
            return;
        const auto* payload = static_cast<const std::uint8_t*>(NLMSG_DATA(&hdr));
        saved.assign(payload, payload + (hdr.nlmsg_len - NLMSG_HDRLEN));
    });
    if (reply.error != 0)
        return make_error("cannot list routes: " + rtnl::describe(reply));
    return saved;
}

/// Deletes the saved route with its whole description, never a look-alike: the kernel's
/// delete takes what is left out as a wildcard, and given only the first nexthop of a
/// multipath route or the nexthop copy of an nhid route it removes nothing (ESRCH).
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveForeignRouteV4& o) {
    std::vector<std::uint8_t> saved = o.saved;
    if (saved.empty()) {
        auto found = save_route(socket, o);
        if (!found)
            return found.error();
        if (found->empty())
            return ApplyOutcome::kAlreadyInPlace;
        saved = std::move(*found);
    }
    auto payload = saved_route::request(saved);
    if (!payload)
        return payload.error();
    auto msg = rtnl::make_message(RTM_DELROUTE, 0, payload->data(), payload->size());
    // ESRCH: the saved route is gone or changed since it was saved; the changed one is not
    // the route the journal can restore, so it stays.
    return rtnl::outcome(socket.transact(msg.get()), {ESRCH, ENOENT});
}

/// Re-adds the saved route verbatim, NLM_F_EXCL so that a default route someone added in the
/// meantime at the same table, tos and metric is left alone (EEXIST: in place).
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RestoreRoute& o) {
    auto payload = saved_route::request(o.message);
    if (!payload)
        return payload.error();
    if (const auto id = saved_route::nexthop_id(o.message)) {
        // Deleting a nexthop object deletes every route that uses it: a route whose object
        // is gone would have gone with it, so there is nothing to restore.
        auto exists = nexthop_exists(socket, *id);
        if (!exists)
            return exists.error();
        if (!*exists)
            return ApplyOutcome::kAlreadyInPlace;
    }
    auto msg = rtnl::make_message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, payload->data(),
                                  payload->size());
    // ENODEV: an output device is gone, and a route (every path of a multipath route) is
    // deleted with any of its devices, so it would not exist either.
    return rtnl::outcome(socket.transact(msg.get()), {EEXIST, ENODEV});
}

}  // namespace clat::kernel_ops
