#pragma once
/// Where the CLAT attaches for one PLAT prefix (SPEC §4 Provision, §6): the PLAT-facing device
/// and the CLAT IPv6 address, chosen purely from the observed state and the route lookup the
/// snapshot carries. Also the value types the machine hands to the planner and the data path.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "states/facts.hpp"
#include "states/ip.hpp"
#include "states/plat_selection.hpp"
#include "states/result.hpp"

namespace clat {

/// Where the kernel sends a packet towards a PLAT prefix (RTM_GETROUTE towards 192.0.0.170
/// embedded in it), as the snapshot saw it. `dev` empty: the lookup failed with `error`.
struct PlatRoute {
    Ipv6Prefix prefix;
    std::string dev;
    std::optional<Ipv6Address> source;
    std::string error;
    bool operator==(const PlatRoute&) const = default;
};

/// The PLAT device and the CLAT IPv6 address in use.
struct Binding {
    std::string plat_dev;
    Ipv6Address clat_v6;
    /// The host address a derived CLAT address came from; unset for a configured one.
    std::optional<Ipv6Address> derived_from;
    bool operator==(const Binding&) const = default;
};

/// What a plan and the scripts are made for: the prefix and the binding.
struct ClatTarget {
    PlatChoice plat;
    Binding binding;
    /// "plat=2001:db8:64::/96 source=dns64 dev=eth0 clat-v6=2001:db8::c1a7".
    std::string to_string() const;
    bool operator==(const ClatTarget&) const = default;
};

/// What the data path translates between and where; a change of any needs a new mapping.
struct DataPathMapping {
    Ipv6Prefix plat_prefix;
    Ipv6Address clat_v6;
    /// The PLAT-facing device (the eBPF path's uplink hook); TAYGA does not need it.
    std::string plat_dev;
    std::string to_string() const;
    bool operator==(const DataPathMapping&) const = default;
};

inline DataPathMapping mapping_of(const ClatTarget& target) {
    return DataPathMapping{target.plat.prefix, target.binding.clat_v6, target.binding.plat_dev};
}

/// What DAD taught during one activation: addresses another node holds, and addresses that
/// passed (not probed again). A derived address is used while its DAD runs (optimistic DAD,
/// RFC 4429): `probing` is that binding until its probe ends, whatever the phase.
struct DadMemory {
    std::vector<Ipv6Address> avoid;
    std::vector<Ipv6Address> verified;
    std::optional<Binding> probing;
    int conflicts = 0;  ///< optimistic probes in a row that found the address taken
    bool operator==(const DadMemory&) const = default;
};

/// The configuration keys the binding depends on.
struct BindingSettings {
    std::string clat_dev = "clat";
    std::optional<std::string> plat_dev;  ///< configured plat-dev; unset: the route lookup
    ClatV6Mode clat_v6 = ClatV6Derived{};
    bool dad_enable = true;
    bool operator==(const BindingSettings&) const = default;
};

/// After this many DAD conflicts in a row the attempt fails.
inline constexpr int kDadAttempts = 5;

/// The PLAT device and CLAT address for `prefix`. The previous binding is kept while its host
/// address is still there and preferred (only a renumbering moves the CLAT); otherwise a new
/// address is derived (entropy seeds the random IIDs), avoiding what failed DAD. `probing`
/// (an address under DAD right now) is not a host address. With clat-v6-addr=shared the CLAT
/// address is the route lookup's source (the host's own address towards the prefix), so the
/// lookup is needed even with plat-dev set. Errors name the cause.
Result<Binding> resolve_binding(const BindingSettings& settings, const Observed& observed,
                                const std::optional<PlatRoute>& route, const Ipv6Prefix& prefix,
                                const DadMemory& dad, const std::optional<Binding>& previous,
                                const std::optional<Ipv6Address>& probing, std::uint64_t entropy);

/// True when the binding's address must pass DAD (before use, or while in use when
/// optimistic_dad()); never a shared one.
bool needs_dad(const BindingSettings& settings, const DadMemory& dad, const Binding& binding);
/// True when a new address may be used while its DAD runs: a derived one, since on a conflict
/// another can be derived. A configured clat-v6-addr has no replacement and waits for DAD.
bool optimistic_dad(const BindingSettings& settings);

}  // namespace clat
