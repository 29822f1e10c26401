#include "states/observation.hpp"

namespace clat {
namespace {

bool has_global_address(const Observed& observed, int ifindex) {
    for (const auto& a : observed.addresses_v6) {
        if (a.ifindex == ifindex && a.usable() && a.address.is_global_unicast())
            return true;
    }
    return false;
}

}  // namespace

std::optional<std::string> usable_uplink(const Observed& observed, const std::string& clat_dev,
                                         const std::optional<std::string>& plat_dev) {
    for (const auto& route : observed.routes_v6) {
        if (!route.is_default() || route.table != kMainTable || route.type != 1)
            continue;
        const Link* link = observed.link_by_index(route.oif);
        if (link == nullptr || !link->admin_up || link->name == clat_dev)
            continue;
        if (plat_dev && link->name != *plat_dev)
            continue;
        if (has_global_address(observed, link->index))
            return link->name;
    }
    return std::nullopt;
}

std::string native_ipv4(const Observed& observed, const std::string& clat_dev) {
    for (const auto& route : observed.routes_v4) {
        if (!route.is_default() || route.table != kMainTable || route.type != 1)
            continue;
        if (route.protocol == kRouteProtocol)
            continue;
        const Link* link = observed.link_by_index(route.oif);
        if (link != nullptr && link->name == clat_dev)
            continue;
        if (link != nullptr && !link->admin_up)
            continue;
        return "native IPv4 default route via " + (link ? link->name : std::string("?"));
    }
    return {};
}

std::optional<PlatChoice> pref64_choice(const Observed& observed, int uplink_ifindex,
                                        std::int64_t now_ms) {
    const Pref64Fact* best = nullptr;
    for (const auto& fact : observed.pref64) {
        if (fact.expires_at_ms <= now_ms)
            continue;
        if (best == nullptr) {
            best = &fact;
            continue;
        }
        const bool on_uplink = fact.ifindex == uplink_ifindex;
        const bool best_on_uplink = best->ifindex == uplink_ifindex;
        if (on_uplink != best_on_uplink) {
            if (on_uplink)
                best = &fact;
            continue;
        }
        if (fact.first_seen_ms > best->first_seen_ms ||
            (fact.first_seen_ms == best->first_seen_ms && fact.prefix < best->prefix)) {
            best = &fact;
        }
    }
    if (best == nullptr)
        return std::nullopt;
    return PlatChoice{best->prefix, PlatSource::Pref64, best->expires_at_ms};
}

std::vector<AddressV6> addresses_on(const Observed& observed, int ifindex,
                                    const std::optional<Ipv6Address>& exclude) {
    std::vector<AddressV6> out;
    for (const auto& a : observed.addresses_v6) {
        if (a.ifindex != ifindex)
            continue;
        if (exclude && a.address == *exclude)
            continue;
        out.push_back(a);
    }
    return out;
}

DadState dad_state(const Observed& observed, const std::string& dev, const Ipv6Address& address) {
    const Link* link = observed.link_by_name(dev);
    if (link == nullptr)
        return DadState::kAbsent;
    for (const auto& a : observed.addresses_v6) {
        if (a.ifindex != link->index || a.address != address)
            continue;
        if (a.dad_failed)
            return DadState::kFailed;
        if (a.tentative)
            return DadState::kTentative;
        return DadState::kUsable;
    }
    return DadState::kAbsent;
}

}  // namespace clat
