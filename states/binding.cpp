#include "states/binding.hpp"

#include <algorithm>
#include <utility>
#include <variant>

#include "states/clat_address.hpp"
#include "states/observation.hpp"

namespace clat {
namespace {

bool contains(const std::vector<Ipv6Address>& list, const Ipv6Address& a) {
    return std::find(list.begin(), list.end(), a) != list.end();
}

/// SplitMix64 (a fixed, well-mixed sequence from one seed): the derivation's random IIDs
/// stay reproducible for one seed, which the agent draws from its random device.
RandomSource seeded(std::uint64_t seed) {
    return [state = seed]() mutable {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    };
}

Result<std::string> plat_dev_for(const BindingSettings& s, const std::optional<PlatRoute>& route,
                                 const Ipv6Prefix& prefix) {
    if (s.plat_dev)
        return *s.plat_dev;
    if (!route || route->prefix != prefix)
        return make_error("no route lookup towards the PLAT prefix yet");
    if (route->dev.empty())
        return make_error("no route towards the PLAT prefix: " + route->error);
    if (route->dev == s.clat_dev)
        return make_error("the route towards the PLAT prefix points at " + s.clat_dev);
    return route->dev;
}

/// CLAT addresses of other clatd instances on this host: /128 routes with clatd's protocol
/// into another device. DAD cannot see them (the kernel answers for its own host), so a
/// derivation from the same uplink address would collide silently.
std::vector<std::pair<Ipv6Address, int>> others_clat_addresses(const Observed& observed,
                                                               const std::string& clat_dev) {
    const Link* own = observed.link_by_name(clat_dev);
    std::vector<std::pair<Ipv6Address, int>> out;
    for (const auto& r : observed.routes_v6) {
        if (r.protocol == kRouteProtocol && r.destination.length == 128 && r.oif != 0 &&
            (own == nullptr || r.oif != own->index))
            out.emplace_back(r.destination.address, r.oif);
    }
    return out;
}

std::string link_name(const Observed& observed, int index) {
    const Link* link = observed.link_by_index(index);
    return link != nullptr ? link->name : "#" + std::to_string(index);
}

/// clat-v6-addr=shared: the host's own source address towards the PLAT prefix, whatever it
/// is now (a renumbered host moves the CLAT with it).
Result<Binding> shared_binding(const Observed& observed, const std::optional<PlatRoute>& route,
                               const Ipv6Prefix& prefix, const std::string& dev) {
    if (!route || route->prefix != prefix)
        return make_error("no route lookup towards the PLAT prefix yet");
    if (route->dev.empty())
        return make_error("no route towards the PLAT prefix: " + route->error);
    if (!route->source)
        return make_error("clat-v6-addr=shared: the route towards the PLAT prefix via " +
                          route->dev + " has no source address");
    for (const auto& a : observed.addresses_v6) {
        if (a.address == *route->source && !a.usable())
            return make_error("clat-v6-addr=shared: the host's source address " +
                              a.address.to_string() +
                              (a.dad_failed ? " failed DAD" : " is tentative"));
    }
    return Binding{dev, *route->source, std::nullopt};
}

}  // namespace

std::string ClatTarget::to_string() const {
    return "plat=" + plat.prefix.to_string() +
           " source=" + std::string(clat::to_string(plat.source)) + " dev=" + binding.plat_dev +
           " clat-v6=" + binding.clat_v6.to_string();
}

std::string DataPathMapping::to_string() const {
    return "plat=" + plat_prefix.to_string() + " clat-v6=" + clat_v6.to_string() +
           (plat_dev.empty() ? "" : " dev=" + plat_dev);
}

Result<Binding> resolve_binding(const BindingSettings& settings, const Observed& observed,
                                const std::optional<PlatRoute>& route, const Ipv6Prefix& prefix,
                                const DadMemory& dad, const std::optional<Binding>& previous,
                                const std::optional<Ipv6Address>& probing, std::uint64_t entropy) {
    auto dev = plat_dev_for(settings, route, prefix);
    if (!dev)
        return dev.error();
    const auto others = others_clat_addresses(observed, settings.clat_dev);
    if (const auto* literal = std::get_if<Ipv6Address>(&settings.clat_v6)) {
        for (const auto& [address, oif] : others) {
            if (address == *literal)
                return make_error("clat-v6-addr " + literal->to_string() +
                                  " is already the CLAT address of another clatd (routed to " +
                                  link_name(observed, oif) + ")");
        }
        return Binding{*dev, *literal, std::nullopt};
    }
    if (std::holds_alternative<ClatV6Shared>(settings.clat_v6))
        return shared_binding(observed, route, prefix, *dev);
    const Link* link = observed.link_by_name(*dev);
    if (link == nullptr)
        return make_error("PLAT device " + *dev + " does not exist");
    auto candidates = addresses_on(observed, link->index, probing);
    std::vector<Ipv6Address> avoid = dad.avoid;
    for (const auto& other : others)
        avoid.push_back(other.first);
    if (previous && previous->plat_dev == *dev && previous->derived_from &&
        !contains(avoid, previous->clat_v6)) {
        for (const auto& a : candidates) {
            if (a.address == *previous->derived_from && a.usable() && !a.deprecated)
                return *previous;
        }
    }
    auto choice = derive_clat_address(candidates, prefix, seeded(entropy), avoid);
    if (!choice)
        return choice.error();
    return Binding{*dev, choice->address, choice->derived_from};
}

bool needs_dad(const BindingSettings& settings, const DadMemory& dad, const Binding& binding) {
    // The shared address is the host's own: the kernel ran DAD for it.
    if (std::holds_alternative<ClatV6Shared>(settings.clat_v6))
        return false;
    return settings.dad_enable && !contains(dad.verified, binding.clat_v6);
}

bool optimistic_dad(const BindingSettings& settings) {
    return std::holds_alternative<ClatV6Derived>(settings.clat_v6);
}

}  // namespace clat
