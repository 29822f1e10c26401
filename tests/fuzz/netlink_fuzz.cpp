/// Fuzzes the rtnetlink readers (adapters/netlink_parse.hpp) with a datagram of arbitrary
/// messages, walked as the observer walks a received datagram (nlmsg_ok/nlmsg_next, so each
/// message's nlmsg_len lies within the datagram, as the kernel guarantees). Each message is
/// handed over in an allocation of exactly nlmsg_len bytes, so that reading past its end is
/// caught. All messages go into one snapshot, which must stay sorted and hold what the latest
/// message said; then the same messages replayed as deletions must empty it.

#include <linux/rtnetlink.h>
#include <netlink/msg.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "adapters/netlink_parse.hpp"
#include "states/rfc6052.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using clat::Observed;

constexpr std::int64_t kStartMs = 1'000'000;
constexpr std::int64_t kStepMs = 1'000;

// The keys netlink_parse.cpp keeps its vectors sorted and unique by.
const auto kAddressV4Key = [](const clat::AddressV4& a) {
    return std::tie(a.ifindex, a.address, a.prefix_length);
};
const auto kAddressV6Key = [](const clat::AddressV6& a) { return std::tie(a.ifindex, a.address); };
const auto kRouteKey = [](const auto& r) {
    return std::tie(r.table, r.destination, r.metric, r.oif, r.type);
};
const auto kPref64Key = [](const clat::Pref64Fact& f) { return std::tie(f.ifindex, f.prefix); };
const auto kProxyKey = [](const clat::ProxyNeighbourV6& p) {
    return std::tie(p.ifindex, p.address);
};

template <typename T, typename Key>
bool strictly_sorted(const std::vector<T>& items, Key key) {
    return std::adjacent_find(items.begin(), items.end(), [&](const T& a, const T& b) {
               return !(key(a) < key(b));
           }) == items.end();
}

template <typename T, typename Key>
bool holds_key(const std::vector<T>& items, const T& item, Key key) {
    return std::any_of(items.begin(), items.end(), [&](const T& x) { return key(x) == key(item); });
}

template <typename T>
bool holds(const std::vector<T>& items, const T& item) {
    return std::find(items.begin(), items.end(), item) != items.end();
}

void check_snapshot(const Observed& o, std::int64_t now) {
    FUZZ_CHECK(strictly_sorted(o.addresses_v4, kAddressV4Key));
    FUZZ_CHECK(strictly_sorted(o.addresses_v6, kAddressV6Key));
    FUZZ_CHECK(strictly_sorted(o.routes_v4, kRouteKey));
    FUZZ_CHECK(strictly_sorted(o.routes_v6, kRouteKey));
    FUZZ_CHECK(strictly_sorted(o.pref64, kPref64Key));
    FUZZ_CHECK(strictly_sorted(o.proxies_v6, kProxyKey));
    for (const auto& p : o.proxies_v6)
        FUZZ_CHECK(p.ifindex > 0, p.address.to_string());
    for (const auto& [index, link] : o.links)
        FUZZ_CHECK(index == link.index, link.name);
    for (const auto& a : o.addresses_v4)
        FUZZ_CHECK(a.prefix_length >= 0 && a.prefix_length <= 32, a.address.to_string());
    for (const auto& a : o.addresses_v6)
        FUZZ_CHECK(a.prefix_length >= 0 && a.prefix_length <= 128, a.address.to_string());
    for (const auto& r : o.routes_v4)
        FUZZ_CHECK(
            clat::Ipv4Prefix::make(r.destination.address, r.destination.length) == r.destination,
            r.destination.to_string());
    for (const auto& r : o.routes_v6)
        FUZZ_CHECK(
            clat::Ipv6Prefix::make(r.destination.address, r.destination.length) == r.destination,
            r.destination.to_string());
    std::optional<std::int64_t> earliest;
    for (const auto& f : o.pref64) {
        FUZZ_CHECK(clat::is_rfc6052_length(f.prefix.length), f.prefix.to_string());
        FUZZ_CHECK(f.expires_at_ms > now, f.prefix.to_string());
        earliest = std::min(earliest.value_or(f.expires_at_ms), f.expires_at_ms);
    }
    FUZZ_CHECK(clat::earliest_pref64_expiry(o) == earliest);
}

// After a message that parsed, the snapshot holds exactly what it said (or no longer holds it).
void check_applied(const Observed& o, const nlmsghdr* m, std::int64_t now) {
    const auto type = m->nlmsg_type;
    if (auto link = clat::parse_link(m); link && (type == RTM_NEWLINK || type == RTM_DELLINK)) {
        const bool removed = type == RTM_DELLINK;
        FUZZ_CHECK(removed ? !o.links.contains(link->index) : o.links.at(link->index) == *link);
        if (removed) {
            const int i = link->index;
            auto on = [i](const auto& x) { return x.ifindex == i; };
            auto via = [i](const auto& r) { return r.oif == i; };
            FUZZ_CHECK(std::none_of(o.addresses_v4.begin(), o.addresses_v4.end(), on));
            FUZZ_CHECK(std::none_of(o.addresses_v6.begin(), o.addresses_v6.end(), on));
            FUZZ_CHECK(std::none_of(o.routes_v4.begin(), o.routes_v4.end(), via));
            FUZZ_CHECK(std::none_of(o.routes_v6.begin(), o.routes_v6.end(), via));
            FUZZ_CHECK(std::none_of(o.pref64.begin(), o.pref64.end(), on));
            FUZZ_CHECK(std::none_of(o.proxies_v6.begin(), o.proxies_v6.end(), on));
        }
    }
    if (type == RTM_NEWADDR || type == RTM_DELADDR) {
        const bool removed = type == RTM_DELADDR;
        const auto parsed = clat::parse_address(m);
        if (const auto* v4 = std::get_if<clat::AddressV4>(&parsed))
            FUZZ_CHECK(removed ? !holds_key(o.addresses_v4, *v4, kAddressV4Key)
                               : holds(o.addresses_v4, *v4));
        if (const auto* v6 = std::get_if<clat::AddressV6>(&parsed))
            FUZZ_CHECK(removed ? !holds_key(o.addresses_v6, *v6, kAddressV6Key)
                               : holds(o.addresses_v6, *v6));
    }
    if (type == RTM_NEWROUTE || type == RTM_DELROUTE) {
        const bool removed = type == RTM_DELROUTE;
        const auto parsed = clat::parse_route(m);
        if (const auto* v4 = std::get_if<clat::RouteV4>(&parsed))
            FUZZ_CHECK(removed ? !holds_key(o.routes_v4, *v4, kRouteKey) : holds(o.routes_v4, *v4));
        if (const auto* v6 = std::get_if<clat::RouteV6>(&parsed))
            FUZZ_CHECK(removed ? !holds_key(o.routes_v6, *v6, kRouteKey) : holds(o.routes_v6, *v6));
    }
    if (auto proxy = clat::parse_proxy_neighbour(m))
        FUZZ_CHECK(type == RTM_DELNEIGH ? !holds(o.proxies_v6, *proxy)
                                        : holds(o.proxies_v6, *proxy));
    if (auto options = clat::parse_nduseropt(m)) {
        // The latest option for a prefix decides: RFC 8781 §4, lifetime 0 withdraws it.
        for (auto it = options->pref64.rbegin(); it != options->pref64.rend(); ++it) {
            if (std::find_if(options->pref64.rbegin(), it,
                             [&](const auto& later) { return later.prefix == it->prefix; }) != it)
                continue;
            const clat::Pref64Fact fact{options->ifindex, it->prefix,
                                        now + std::int64_t{it->lifetime_seconds} * 1000};
            // When it first appeared is kept across refreshes: compare all but that.
            const auto stored = std::find_if(o.pref64.begin(), o.pref64.end(), [&](const auto& f) {
                return kPref64Key(f) == kPref64Key(fact);
            });
            FUZZ_CHECK(it->lifetime_seconds == 0
                           ? stored == o.pref64.end()
                           : stored != o.pref64.end() &&
                                 stored->expires_at_ms == fact.expires_at_ms &&
                                 stored->first_seen_ms <= now,
                       it->prefix.to_string());
        }
    }
}

// A message in an allocation of exactly its own length.
std::unique_ptr<std::uint8_t[]> copy_of(const nlmsghdr* message) {
    auto copy = std::make_unique<std::uint8_t[]>(message->nlmsg_len);
    std::memcpy(copy.get(), message, message->nlmsg_len);
    return copy;
}

std::uint16_t as_delete(std::uint16_t type) {
    switch (type) {
        case RTM_NEWLINK:
            return RTM_DELLINK;
        case RTM_NEWADDR:
            return RTM_DELADDR;
        case RTM_NEWROUTE:
            return RTM_DELROUTE;
        case RTM_NEWNEIGH:
            return RTM_DELNEIGH;
        default:
            return type;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 1 << 16)
        return 0;
    // A received datagram: suitably aligned for nlmsghdr, and exactly as long as the input.
    auto datagram = std::make_unique<std::uint8_t[]>(size);
    std::memcpy(datagram.get(), data, size);
    std::vector<std::unique_ptr<std::uint8_t[]>> messages;
    int remaining = static_cast<int>(size);
    for (auto* m = reinterpret_cast<nlmsghdr*>(datagram.get()); nlmsg_ok(m, remaining);
         m = nlmsg_next(m, &remaining))
        messages.push_back(copy_of(m));

    Observed observed;
    std::int64_t now = kStartMs;
    for (const auto& bytes : messages) {
        const auto* m = reinterpret_cast<const nlmsghdr*>(bytes.get());
        (void)clat::parse_route_answer(m);
        (void)clat::apply_message(observed, m, now);
        check_snapshot(observed, now);
        check_applied(observed, m, now);
        now += kStepMs;
        (void)clat::expire_pref64(observed, now);
        check_snapshot(observed, now);
    }

    // Every fact came from some message: deleting what each message said leaves no link,
    // address or route behind (PREF64 facts have no deletion message).
    for (const auto& bytes : messages) {
        auto* m = reinterpret_cast<nlmsghdr*>(bytes.get());
        m->nlmsg_type = as_delete(m->nlmsg_type);
        (void)clat::apply_message(observed, m, now);
        check_snapshot(observed, now);
    }
    FUZZ_CHECK(observed.links.empty(), std::to_string(observed.links.size()) + " links left");
    FUZZ_CHECK(observed.addresses_v4.empty() && observed.addresses_v6.empty(), "addresses left");
    FUZZ_CHECK(observed.routes_v4.empty() && observed.routes_v6.empty(), "routes left");
    FUZZ_CHECK(observed.proxies_v6.empty(), "proxy entries left");
    return 0;
}
