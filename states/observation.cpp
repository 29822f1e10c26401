#include "states/observation.hpp"

#include <algorithm>

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

namespace clat {

ObservationInterest interest_of(const Observed& observed, const std::string& clat_dev,
                                const std::vector<std::string>& plat_devs,
                                const std::optional<Ipv6Address>& plat_probe) {
    ObservationInterest interest;
    interest.probe = plat_probe;
    const Link* clat = observed.link_by_name(clat_dev);
    interest.devices.push_back(clat != nullptr ? clat->index : -1);
    for (const auto& name : plat_devs) {
        if (const Link* link = observed.link_by_name(name))
            interest.devices.push_back(link->index);
    }
    for (const auto& r : observed.routes_v6) {
        if (r.is_default() && r.table == kMainTable)
            interest.devices.push_back(r.oif);
    }
    std::sort(interest.devices.begin(), interest.devices.end());
    interest.devices.erase(std::unique(interest.devices.begin(), interest.devices.end()),
                           interest.devices.end());
    return interest;
}

bool matters(const ObservationInterest& interest, const ChangeSubject& change) {
    const bool device =
        std::binary_search(interest.devices.begin(), interest.devices.end(), change.ifindex);
    switch (change.kind) {
        case ChangeSubject::Kind::kAddress:
            return device;
        case ChangeSubject::Kind::kRoute: {
            if (device || change.protocol == kRouteProtocol)
                return true;
            if (change.table != kMainTable)
                return false;
            return change.default_route || (change.destination_v6 && interest.probe &&
                                            change.destination_v6->contains(*interest.probe));
        }
        case ChangeSubject::Kind::kLink:
        case ChangeSubject::Kind::kOther:
            return true;
    }
    return true;
}

Observed relevant_subset(const Observed& observed, const std::string& clat_dev,
                         const std::vector<std::string>& plat_devs,
                         const std::optional<Ipv6Address>& plat_probe) {
    Observed out;
    out.links = observed.links;
    out.pref64 = observed.pref64;
    out.proxies_v6 = observed.proxies_v6;
    const Link* clat = observed.link_by_name(clat_dev);
    const int clat_index = clat != nullptr ? clat->index : -1;
    const std::vector<int> address_devices =
        interest_of(observed, clat_dev, plat_devs, plat_probe).devices;
    for (const auto& r : observed.routes_v4) {
        if ((r.is_default() && r.table == kMainTable) || r.oif == clat_index ||
            r.protocol == kRouteProtocol)
            out.routes_v4.push_back(r);
    }
    for (const auto& r : observed.routes_v6) {
        const bool covers =
            plat_probe && r.table == kMainTable && r.destination.contains(*plat_probe);
        if ((r.is_default() && r.table == kMainTable) || covers || r.oif == clat_index ||
            r.protocol == kRouteProtocol)
            out.routes_v6.push_back(r);
    }
    auto wanted = [&](int ifindex) {
        return std::find(address_devices.begin(), address_devices.end(), ifindex) !=
               address_devices.end();
    };
    for (const auto& a : observed.addresses_v4) {
        if (a.ifindex == clat_index)
            out.addresses_v4.push_back(a);
    }
    for (const auto& a : observed.addresses_v6) {
        if (wanted(a.ifindex))
            out.addresses_v6.push_back(a);
    }
    return out;
}

}  // namespace clat
