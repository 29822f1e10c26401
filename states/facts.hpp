#pragma once
/// Observed kernel state: what the netlink adapter has seen, as plain values. The core reads
/// it; only adapters/netlink writes it. Routes and addresses carry enough to be re-created
/// exactly, so that a route the agent replaced can be restored from its fact.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "states/ip.hpp"

namespace clat {

/// Route protocol number that marks routes created by clatd (RTPROT_* values are < 20; the
/// kernel reserves nothing in this range). Visible as "proto 0xc7"... in `ip route`.
inline constexpr std::uint8_t kRouteProtocol = 199;
/// The main routing table (RT_TABLE_MAIN).
inline constexpr std::uint32_t kMainTable = 254;

struct Link {
    int index = 0;
    std::string name;
    std::string kind;  ///< rtnl link kind ("veth", "tun", "dummy"...), empty if none
    bool admin_up = false;
    bool lower_up = false;  ///< carrier (IFF_LOWER_UP)
    std::uint32_t mtu = 0;
    bool operator==(const Link&) const = default;
};

struct AddressV4 {
    int ifindex = 0;
    Ipv4Address address;
    int prefix_length = 32;
    bool operator==(const AddressV4&) const = default;
};

struct AddressV6 {
    int ifindex = 0;
    Ipv6Address address;
    int prefix_length = 128;
    bool tentative = false;
    bool dad_failed = false;
    bool deprecated = false;
    bool permanent = false;  ///< configured, not autoconfigured (IFA_F_PERMANENT)
    bool nodad = false;
    /// True when the address can be used as a source: not tentative, not failed.
    bool usable() const { return !tentative && !dad_failed; }
    bool operator==(const AddressV6&) const = default;
};

struct RouteV4 {
    Ipv4Prefix destination;
    int oif = 0;  ///< output interface index; 0 when none
    std::optional<Ipv4Address> gateway;
    std::uint32_t metric = 0;
    std::uint32_t table = kMainTable;
    std::uint8_t protocol = 0;
    std::uint8_t scope = 0;    ///< RT_SCOPE_UNIVERSE = 0, RT_SCOPE_LINK = 253
    std::uint8_t type = 1;     ///< RTN_UNICAST
    std::uint32_t mtu = 0;     ///< RTAX_MTU, 0 when unset
    std::uint32_t advmss = 0;  ///< RTAX_ADVMSS, 0 when unset
    bool is_default() const { return destination.length == 0; }
    bool operator==(const RouteV4&) const = default;
};

struct RouteV6 {
    Ipv6Prefix destination;
    int oif = 0;
    std::optional<Ipv6Address> gateway;
    std::uint32_t metric = 0;
    std::uint32_t table = kMainTable;
    std::uint8_t protocol = 0;
    std::uint8_t type = 1;  ///< RTN_UNICAST
    std::uint32_t mtu = 0;
    bool is_default() const { return destination.length == 0; }
    bool operator==(const RouteV6&) const = default;
};

/// One IPv6 policy routing rule (used by the shared-address mode).
struct RuleV6 {
    std::uint32_t priority = 0;
    std::uint32_t table = 0;
    std::optional<Ipv6Prefix> destination;
    std::optional<Ipv6Prefix> source;
    std::optional<std::uint32_t> fwmark;
    std::string iif;
    bool operator==(const RuleV6&) const = default;
};

/// An IPv6 proxy neighbour entry (`ip -6 neigh add proxy ADDRESS dev DEV`). The kernel
/// announces neither its creation nor its removal: the adapter dumps these.
struct ProxyNeighbourV6 {
    int ifindex = 0;
    Ipv6Address address;
    bool operator==(const ProxyNeighbourV6&) const = default;
};

/// A PREF64 (RFC 8781) prefix seen in a Router Advertisement on an interface. Expiry is
/// expressed on the agent's monotonic clock, in milliseconds, so the core needs no clock.
struct Pref64Fact {
    int ifindex = 0;
    Ipv6Prefix prefix;
    std::int64_t expires_at_ms = 0;
    /// When this prefix first appeared on this interface; refreshing RAs keep it.
    std::int64_t first_seen_ms = 0;
    bool operator==(const Pref64Fact&) const = default;
};

/// Everything the netlink adapter observes. Links are keyed by index.
struct Observed {
    std::map<int, Link> links;
    std::vector<AddressV4> addresses_v4;
    std::vector<AddressV6> addresses_v6;
    std::vector<RouteV4> routes_v4;  ///< all tables
    std::vector<RouteV6> routes_v6;  ///< all tables
    std::vector<Pref64Fact> pref64;
    std::vector<ProxyNeighbourV6> proxies_v6;  ///< sorted by (ifindex, address)

    const Link* link_by_name(const std::string& name) const {
        for (const auto& [index, link] : links) {
            if (link.name == name)
                return &link;
        }
        return nullptr;
    }
    const Link* link_by_index(int index) const {
        auto it = links.find(index);
        return it == links.end() ? nullptr : &it->second;
    }
    bool operator==(const Observed&) const = default;
};

}  // namespace clat
