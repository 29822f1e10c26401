#pragma once
/// A route saved whole: the rtmsg and attributes of the RTM_NEWROUTE the kernel dumped for it,
/// turned back into the payload of a request that deletes exactly that route or re-adds it as
/// it was. Pure functions of the bytes, tested from raw messages.
///
/// Why bytes and not a parsed route: a route has more than any fact the planner keeps
/// (onlink, src, initcwnd and the other metrics, realms, encapsulation, every nexthop of a
/// multipath route, a nexthop object), and a route rebuilt from a partial fact loses the rest
/// or cannot be added at all (an onlink gateway outside every prefix: "Nexthop has invalid
/// gateway"). Replaying the kernel's own description loses nothing the kernel accepts back.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "states/result.hpp"

namespace clat::saved_route {

/// The request payload (rtmsg and attributes) from saved (an IPv4 RTM_NEWROUTE payload as
/// dumped), the same for RTM_DELROUTE and RTM_NEWROUTE: the kernel's delete matches the
/// attributes an add creates the route with (table, prefix, tos, priority, type, scope,
/// protocol, prefsrc, every nexthop or the nexthop id, metrics), so it removes exactly that
/// route, all its nexthops at once. What the kernel reports but refuses or ignores on input is
/// dropped: state flags (RTNH_F_DEAD, RTNH_F_LINKDOWN, offload/trap, in rtm_flags and in each
/// nexthop), RTA_CACHEINFO and other output-only attributes; with a nexthop object (RTA_NH_ID)
/// the nexthop copy the kernel adds for old tools, which it rejects next to RTA_NH_ID.
/// An error when saved is not a well-formed IPv4 route message.
Result<std::vector<std::uint8_t>> request(std::span<const std::uint8_t> saved);

/// The nexthop object a saved route uses (RTA_NH_ID), if any.
std::optional<std::uint32_t> nexthop_id(std::span<const std::uint8_t> saved);

}  // namespace clat::saved_route
