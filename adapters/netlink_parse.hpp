#pragma once
/// rtnetlink messages → observed facts, as functions of the raw message bytes. The initial
/// dump, a resynchronisation and live events all go through apply_message(), so that the
/// snapshot is built one way only. No sockets, no clock: the caller passes the time.

#include <linux/netlink.h>

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "states/facts.hpp"
#include "states/observation.hpp"
#include "states/pref64.hpp"

namespace clat {

/// A parsed RTM_NEWADDR / RTM_DELADDR.
using ParsedAddress = std::variant<std::monostate, AddressV4, AddressV6>;
/// A parsed RTM_NEWROUTE / RTM_DELROUTE; monostate for routes the snapshot ignores
/// (cloned cache entries, other families).
using ParsedRoute = std::variant<std::monostate, RouteV4, RouteV6>;

/// Options of one Router Advertisement handed up by the kernel (RTM_NEWNDUSEROPT).
struct NdUserOptions {
    int ifindex = 0;
    std::vector<Pref64Option> pref64;
};

/// The answer to an RTM_GETROUTE lookup: output interface and preferred source.
struct RouteAnswer {
    int oif = 0;
    std::optional<Ipv4Address> source_v4;
    std::optional<Ipv6Address> source_v6;
};

/// What applying one message did to a snapshot.
struct MessageEffect {
    bool changed = false;
    /// The kernel removes state without telling (IPv4 routes of a link set down, or of a
    /// deleted link or address): the snapshot must be re-dumped to be trusted.
    bool resync_needed = false;
    /// What the message was about (for the observer's interest filter).
    ChangeSubject subject;
};

/// RTM_NEWLINK / RTM_DELLINK of family AF_UNSPEC; nullopt for anything else or a malformed
/// message.
std::optional<Link> parse_link(const nlmsghdr* message);
ParsedAddress parse_address(const nlmsghdr* message);
ParsedRoute parse_route(const nlmsghdr* message);
/// RTM_NEWNDUSEROPT from a Router Advertisement; its PREF64 options (RFC 8781).
std::optional<NdUserOptions> parse_nduseropt(const nlmsghdr* message);
/// RTM_NEWNEIGH / RTM_DELNEIGH of an IPv6 proxy entry (NTF_PROXY), as a proxy-table dump
/// answers; nullopt for ordinary neighbours and anything malformed.
std::optional<ProxyNeighbourV6> parse_proxy_neighbour(const nlmsghdr* message);
/// An RTM_NEWROUTE answering RTM_GETROUTE.
std::optional<RouteAnswer> parse_route_answer(const nlmsghdr* message);

/// Applies one rtnetlink message (new or deleted link, address, route, proxy entry; ND user
/// option) to the snapshot. Other message types change nothing. now_ms stamps PREF64 expiry.
MessageEffect apply_message(Observed& observed, const nlmsghdr* message, std::int64_t now_ms);

/// Drops PREF64 facts that expired at or before now_ms; true when any was dropped.
bool expire_pref64(Observed& observed, std::int64_t now_ms);
/// The earliest PREF64 expiry, if any fact is held.
std::optional<std::int64_t> earliest_pref64_expiry(const Observed& observed);

}  // namespace clat
