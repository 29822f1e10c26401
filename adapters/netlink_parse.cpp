#include "adapters/netlink_parse.hpp"

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string>
#include <tuple>

namespace clat {
namespace {

// RFC 4861 §4.2: ICMPv6 type of a Router Advertisement.
constexpr std::uint8_t kRouterAdvertisement = 134;

// libnl's parsers take non-const pointers but only read through them.
nlmsghdr* writable(const nlmsghdr* message) {
    return const_cast<nlmsghdr*>(message);
}

template <int Max, typename Header>
bool parse_attributes(const nlmsghdr* message, std::array<nlattr*, Max + 1>& table) {
    return nlmsg_parse(writable(message), sizeof(Header), table.data(), Max, nullptr) == 0;
}

template <int Max>
bool parse_nested(const nlattr* attr, std::array<nlattr*, Max + 1>& table) {
    return nla_parse_nested(table.data(), Max, const_cast<nlattr*>(attr), nullptr) == 0;
}

template <typename Header>
const Header* header_of(const nlmsghdr* message) {
    if (!nlmsg_valid_hdr(message, sizeof(Header)))
        return nullptr;
    return static_cast<const Header*>(nlmsg_data(message));
}

std::uint32_t u32_or(const nlattr* attr, std::uint32_t fallback) {
    return attr != nullptr && nla_len(attr) >= 4 ? nla_get_u32(attr) : fallback;
}

std::string string_of(const nlattr* attr) {
    const auto* text = static_cast<const char*>(nla_data(attr));
    return {text, ::strnlen(text, static_cast<std::size_t>(nla_len(attr)))};
}

template <typename Address>
std::optional<Address> address_of(const nlattr* attr) {
    Address out;
    if (attr == nullptr || nla_len(attr) != static_cast<int>(out.bytes.size()))
        return std::nullopt;
    std::memcpy(out.bytes.data(), nla_data(attr), out.bytes.size());
    return out;
}

// The first nexthop of an RTA_MULTIPATH route: the snapshot keeps one nexthop per route.
void first_nexthop(const nlattr* multipath, int& oif, const nlattr*& gateway) {
    if (nla_len(multipath) < static_cast<int>(sizeof(rtnexthop)))
        return;
    rtnexthop hop{};
    std::memcpy(&hop, nla_data(multipath), sizeof(hop));
    if (hop.rtnh_len < sizeof(hop) || hop.rtnh_len > nla_len(multipath))
        return;
    oif = hop.rtnh_ifindex;
    int remaining = hop.rtnh_len - static_cast<int>(RTNH_ALIGN(sizeof(hop)));
    const auto* attr = reinterpret_cast<const nlattr*>(
        static_cast<const std::uint8_t*>(nla_data(multipath)) + RTNH_ALIGN(sizeof(hop)));
    for (; remaining > 0 && nla_ok(attr, remaining); attr = nla_next(attr, &remaining)) {
        if (nla_type(attr) == RTA_GATEWAY)
            gateway = attr;
    }
}

template <typename Route, typename Address, typename Prefix>
std::optional<Route> route_of(const rtmsg& rt, const std::array<nlattr*, RTA_MAX + 1>& tb) {
    Route route;
    Address destination;
    if (rt.rtm_dst_len > 0) {
        auto parsed = address_of<Address>(tb[RTA_DST]);
        if (!parsed || rt.rtm_dst_len > destination.bytes.size() * 8)
            return std::nullopt;
        destination = *parsed;
    }
    route.destination = Prefix::make(destination, rt.rtm_dst_len);
    route.oif = static_cast<int>(u32_or(tb[RTA_OIF], 0));
    const nlattr* gateway = tb[RTA_GATEWAY];
    if (route.oif == 0 && tb[RTA_MULTIPATH] != nullptr)
        first_nexthop(tb[RTA_MULTIPATH], route.oif, gateway);
    route.gateway = address_of<Address>(gateway);
    route.metric = u32_or(tb[RTA_PRIORITY], 0);
    route.table = u32_or(tb[RTA_TABLE], rt.rtm_table);
    route.protocol = rt.rtm_protocol;
    route.type = rt.rtm_type;
    std::array<nlattr*, RTAX_MAX + 1> metrics{};
    if (tb[RTA_METRICS] != nullptr && parse_nested<RTAX_MAX>(tb[RTA_METRICS], metrics)) {
        route.mtu = u32_or(metrics[RTAX_MTU], 0);
        if constexpr (requires { route.advmss; })
            route.advmss = u32_or(metrics[RTAX_ADVMSS], 0);
    }
    if constexpr (requires { route.scope; })
        route.scope = rt.rtm_scope;
    return route;
}

// Kept sorted by key so that a snapshot built from events equals one built from a dump.
template <typename T, typename Key>
bool upsert_sorted(std::vector<T>& items, const T& item, Key key) {
    auto less = [&](const T& a, const T& b) { return key(a) < key(b); };
    auto it = std::lower_bound(items.begin(), items.end(), item, less);
    if (it != items.end() && !less(item, *it)) {
        if (*it == item)
            return false;
        *it = item;
        return true;
    }
    items.insert(it, item);
    return true;
}

template <typename T, typename Key>
bool erase_sorted(std::vector<T>& items, const T& item, Key key) {
    auto less = [&](const T& a, const T& b) { return key(a) < key(b); };
    auto it = std::lower_bound(items.begin(), items.end(), item, less);
    if (it == items.end() || less(item, *it))
        return false;
    items.erase(it);
    return true;
}

const auto kAddressV4Key = [](const AddressV4& a) {
    return std::tie(a.ifindex, a.address, a.prefix_length);
};
const auto kAddressV6Key = [](const AddressV6& a) { return std::tie(a.ifindex, a.address); };
// Several routes may share table, destination and metric when their devices differ (IPv6
// link-local and multicast routes, IPv4 prefix routes of addresses in one subnet).
const auto kRouteKey = [](const auto& r) {
    return std::tie(r.table, r.destination, r.metric, r.oif, r.type);
};
const auto kPref64Key = [](const Pref64Fact& f) { return std::tie(f.ifindex, f.prefix); };
const auto kProxyKey = [](const ProxyNeighbourV6& p) { return std::tie(p.ifindex, p.address); };

bool forget_ifindex(Observed& observed, int ifindex) {
    std::size_t n = 0;
    n += std::erase_if(observed.addresses_v4, [&](const auto& a) { return a.ifindex == ifindex; });
    n += std::erase_if(observed.addresses_v6, [&](const auto& a) { return a.ifindex == ifindex; });
    n += std::erase_if(observed.routes_v4, [&](const auto& r) { return r.oif == ifindex; });
    n += std::erase_if(observed.routes_v6, [&](const auto& r) { return r.oif == ifindex; });
    n += std::erase_if(observed.pref64, [&](const auto& f) { return f.ifindex == ifindex; });
    n += std::erase_if(observed.proxies_v6, [&](const auto& p) { return p.ifindex == ifindex; });
    return n > 0;
}

MessageEffect apply_link(Observed& observed, const nlmsghdr* message) {
    auto link = parse_link(message);
    if (!link)
        return {};
    if (message->nlmsg_type == RTM_DELLINK) {
        // The kernel drops the link's IPv4 routes without RTM_DELROUTE.
        const bool erased = observed.links.erase(link->index) > 0;
        return {forget_ifindex(observed, link->index) || erased, erased,
                ChangeSubject{ChangeSubject::Kind::kLink, link->index, kMainTable, 0, false,
                              std::nullopt}};
    }
    MessageEffect effect;
    effect.subject =
        ChangeSubject{ChangeSubject::Kind::kLink, link->index, kMainTable, 0, false, std::nullopt};
    auto it = observed.links.find(link->index);
    // Setting a link down flushes its IPv4 routes silently (fib_disable_ip), and IPv6 ones
    // too when net.ipv6.conf.*.skip_notify_on_dev_down is set.
    if (it != observed.links.end() && it->second.admin_up && !link->admin_up)
        effect.resync_needed = true;
    if (it == observed.links.end() || it->second != *link) {
        observed.links[link->index] = *link;
        effect.changed = true;
    }
    return effect;
}

MessageEffect apply_address(Observed& observed, const nlmsghdr* message) {
    const bool remove = message->nlmsg_type == RTM_DELADDR;
    auto parsed = parse_address(message);
    if (const auto* v4 = std::get_if<AddressV4>(&parsed)) {
        const bool changed = remove ? erase_sorted(observed.addresses_v4, *v4, kAddressV4Key)
                                    : upsert_sorted(observed.addresses_v4, *v4, kAddressV4Key);
        // Routes whose preferred source was this address are flushed (fib_sync_down_addr),
        // and not every kernel announces it.
        return {changed, remove,
                ChangeSubject{ChangeSubject::Kind::kAddress, v4->ifindex, kMainTable, 0, false,
                              std::nullopt}};
    }
    if (const auto* v6 = std::get_if<AddressV6>(&parsed)) {
        return {remove ? erase_sorted(observed.addresses_v6, *v6, kAddressV6Key)
                       : upsert_sorted(observed.addresses_v6, *v6, kAddressV6Key),
                false,
                ChangeSubject{ChangeSubject::Kind::kAddress, v6->ifindex, kMainTable, 0, false,
                              std::nullopt}};
    }
    return {};
}

template <typename Route>
bool apply_one_route(std::vector<Route>& routes, const Route& route, const nlmsghdr* message) {
    if (message->nlmsg_type == RTM_DELROUTE)
        return erase_sorted(routes, route, kRouteKey);
    bool changed = false;
    // NLM_F_REPLACE: the route took the place of the one in the same table with the same
    // destination and metric, whatever its device or type; no RTM_DELROUTE is sent for it.
    if ((message->nlmsg_flags & NLM_F_REPLACE) != 0) {
        changed = std::erase_if(routes, [&](const Route& r) {
                      return r.table == route.table && r.destination == route.destination &&
                             r.metric == route.metric && kRouteKey(r) != kRouteKey(route);
                  }) > 0;
    }
    return upsert_sorted(routes, route, kRouteKey) || changed;
}

MessageEffect apply_route(Observed& observed, const nlmsghdr* message) {
    auto parsed = parse_route(message);
    if (const auto* v4 = std::get_if<RouteV4>(&parsed))
        return {apply_one_route(observed.routes_v4, *v4, message), false,
                ChangeSubject{ChangeSubject::Kind::kRoute, v4->oif, v4->table, v4->protocol,
                              v4->is_default(), std::nullopt}};
    if (const auto* v6 = std::get_if<RouteV6>(&parsed))
        return {apply_one_route(observed.routes_v6, *v6, message), false,
                ChangeSubject{ChangeSubject::Kind::kRoute, v6->oif, v6->table, v6->protocol,
                              v6->is_default(), v6->destination}};
    return {};
}

MessageEffect apply_proxy(Observed& observed, const nlmsghdr* message) {
    auto proxy = parse_proxy_neighbour(message);
    if (!proxy)
        return {};
    return {message->nlmsg_type == RTM_DELNEIGH
                ? erase_sorted(observed.proxies_v6, *proxy, kProxyKey)
                : upsert_sorted(observed.proxies_v6, *proxy, kProxyKey),
            false, ChangeSubject{}};
}

MessageEffect apply_nduseropt(Observed& observed, const nlmsghdr* message, std::int64_t now) {
    auto options = parse_nduseropt(message);
    if (!options)
        return {};
    MessageEffect effect;
    for (const auto& option : options->pref64) {
        Pref64Fact fact{options->ifindex, option.prefix,
                        now + std::int64_t{option.lifetime_seconds} * 1000, now};
        auto same =
            std::find_if(observed.pref64.begin(), observed.pref64.end(),
                         [&](const Pref64Fact& f) { return kPref64Key(f) == kPref64Key(fact); });
        if (same != observed.pref64.end())
            fact.first_seen_ms = same->first_seen_ms;
        // RFC 8781 §4: a lifetime of 0 means the prefix must no longer be used.
        effect.changed |= option.lifetime_seconds == 0
                              ? erase_sorted(observed.pref64, fact, kPref64Key)
                              : upsert_sorted(observed.pref64, fact, kPref64Key);
    }
    return effect;
}

}  // namespace

std::optional<Link> parse_link(const nlmsghdr* message) {
    const auto* info = header_of<ifinfomsg>(message);
    if (info == nullptr || info->ifi_family != AF_UNSPEC)
        return std::nullopt;
    std::array<nlattr*, IFLA_MAX + 1> tb{};
    if (!parse_attributes<IFLA_MAX, ifinfomsg>(message, tb))
        return std::nullopt;
    Link link;
    link.index = info->ifi_index;
    link.admin_up = (info->ifi_flags & IFF_UP) != 0;
    link.lower_up = (info->ifi_flags & IFF_LOWER_UP) != 0;
    if (tb[IFLA_IFNAME] != nullptr)
        link.name = string_of(tb[IFLA_IFNAME]);
    link.mtu = u32_or(tb[IFLA_MTU], 0);
    std::array<nlattr*, IFLA_INFO_MAX + 1> linkinfo{};
    if (tb[IFLA_LINKINFO] != nullptr && parse_nested<IFLA_INFO_MAX>(tb[IFLA_LINKINFO], linkinfo) &&
        linkinfo[IFLA_INFO_KIND] != nullptr)
        link.kind = string_of(linkinfo[IFLA_INFO_KIND]);
    return link;
}

ParsedAddress parse_address(const nlmsghdr* message) {
    const auto* ifa = header_of<ifaddrmsg>(message);
    std::array<nlattr*, IFA_MAX + 1> tb{};
    if (ifa == nullptr || !parse_attributes<IFA_MAX, ifaddrmsg>(message, tb))
        return {};
    // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links.
    const nlattr* local = tb[IFA_LOCAL] != nullptr ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    // The 8-bit ifa_flags cannot hold the newer flags; IFA_FLAGS carries all of them.
    const std::uint32_t flags = u32_or(tb[IFA_FLAGS], ifa->ifa_flags);
    const int index = static_cast<int>(ifa->ifa_index);
    if (ifa->ifa_family == AF_INET) {
        auto address = address_of<Ipv4Address>(local);
        if (!address || ifa->ifa_prefixlen > 32)
            return {};
        return AddressV4{index, *address, ifa->ifa_prefixlen};
    }
    if (ifa->ifa_family == AF_INET6) {
        auto address = address_of<Ipv6Address>(local);
        if (!address || ifa->ifa_prefixlen > 128)
            return {};
        AddressV6 out{index, *address, ifa->ifa_prefixlen};
        out.tentative = (flags & IFA_F_TENTATIVE) != 0;
        out.dad_failed = (flags & IFA_F_DADFAILED) != 0;
        out.deprecated = (flags & IFA_F_DEPRECATED) != 0;
        out.permanent = (flags & IFA_F_PERMANENT) != 0;
        out.nodad = (flags & IFA_F_NODAD) != 0;
        return out;
    }
    return {};
}

ParsedRoute parse_route(const nlmsghdr* message) {
    const auto* rt = header_of<rtmsg>(message);
    std::array<nlattr*, RTA_MAX + 1> tb{};
    // Cloned routes are the IPv6 exception cache (PMTU, redirects), not configuration.
    if (rt == nullptr || (rt->rtm_flags & RTM_F_CLONED) != 0 ||
        !parse_attributes<RTA_MAX, rtmsg>(message, tb))
        return {};
    if (rt->rtm_family == AF_INET) {
        if (auto route = route_of<RouteV4, Ipv4Address, Ipv4Prefix>(*rt, tb))
            return *route;
    } else if (rt->rtm_family == AF_INET6) {
        if (auto route = route_of<RouteV6, Ipv6Address, Ipv6Prefix>(*rt, tb))
            return *route;
    }
    return {};
}

std::optional<NdUserOptions> parse_nduseropt(const nlmsghdr* message) {
    const auto* header = header_of<nduseroptmsg>(message);
    if (message->nlmsg_type != RTM_NEWNDUSEROPT || header == nullptr ||
        header->nduseropt_family != AF_INET6 || header->nduseropt_icmp_type != kRouterAdvertisement)
        return std::nullopt;
    // The raw RA options follow the fixed header; netlink attributes (the source) come after.
    const std::size_t available =
        static_cast<std::size_t>(nlmsg_datalen(message)) - NLMSG_ALIGN(sizeof(nduseroptmsg));
    if (header->nduseropt_opts_len > available)
        return std::nullopt;
    const auto* options = reinterpret_cast<const std::uint8_t*>(header + 1);
    return NdUserOptions{header->nduseropt_ifindex,
                         pref64_options(std::span(options, header->nduseropt_opts_len))};
}

std::optional<ProxyNeighbourV6> parse_proxy_neighbour(const nlmsghdr* message) {
    const auto* nd = header_of<ndmsg>(message);
    std::array<nlattr*, NDA_MAX + 1> tb{};
    if ((message->nlmsg_type != RTM_NEWNEIGH && message->nlmsg_type != RTM_DELNEIGH) ||
        nd == nullptr || nd->ndm_family != AF_INET6 || (nd->ndm_flags & NTF_PROXY) == 0 ||
        !parse_attributes<NDA_MAX, ndmsg>(message, tb))
        return std::nullopt;
    auto address = address_of<Ipv6Address>(tb[NDA_DST]);
    if (!address || nd->ndm_ifindex <= 0)
        return std::nullopt;
    return ProxyNeighbourV6{nd->ndm_ifindex, *address};
}

std::optional<RouteAnswer> parse_route_answer(const nlmsghdr* message) {
    const auto* rt = header_of<rtmsg>(message);
    std::array<nlattr*, RTA_MAX + 1> tb{};
    if (message->nlmsg_type != RTM_NEWROUTE || rt == nullptr ||
        !parse_attributes<RTA_MAX, rtmsg>(message, tb))
        return std::nullopt;
    RouteAnswer answer;
    answer.oif = static_cast<int>(u32_or(tb[RTA_OIF], 0));
    answer.source_v4 = address_of<Ipv4Address>(tb[RTA_PREFSRC]);
    answer.source_v6 = address_of<Ipv6Address>(tb[RTA_PREFSRC]);
    return answer;
}

MessageEffect apply_message(Observed& observed, const nlmsghdr* message, std::int64_t now_ms) {
    switch (message->nlmsg_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK:
            return apply_link(observed, message);
        case RTM_NEWADDR:
        case RTM_DELADDR:
            return apply_address(observed, message);
        case RTM_NEWROUTE:
        case RTM_DELROUTE:
            return apply_route(observed, message);
        case RTM_NEWNEIGH:
        case RTM_DELNEIGH:
            return apply_proxy(observed, message);
        case RTM_NEWNDUSEROPT:
            return apply_nduseropt(observed, message, now_ms);
        default:
            return {};
    }
}

bool expire_pref64(Observed& observed, std::int64_t now_ms) {
    return std::erase_if(observed.pref64,
                         [&](const Pref64Fact& f) { return f.expires_at_ms <= now_ms; }) > 0;
}

std::optional<std::int64_t> earliest_pref64_expiry(const Observed& observed) {
    std::optional<std::int64_t> earliest;
    for (const auto& fact : observed.pref64) {
        if (!earliest || fact.expires_at_ms < *earliest)
            earliest = fact.expires_at_ms;
    }
    return earliest;
}

}  // namespace clat
