#pragma once
/// What the agent concludes from the observed kernel state, level-triggered and pure: is the
/// uplink usable, is there native IPv4, which PREF64 prefix is valid, which device faces the
/// PLAT. Evaluated after every burst of netlink changes.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "states/facts.hpp"
#include "states/ip.hpp"
#include "states/plat_selection.hpp"

namespace clat {

/// The uplink is usable when the host has an IPv6 default route in the main table and a
/// usable global IPv6 address, both on a device that is up and is not the CLAT's own (and is
/// plat_dev when one is configured). Returns the device's name, or nullopt.
std::optional<std::string> usable_uplink(const Observed& observed, const std::string& clat_dev,
                                         const std::optional<std::string>& plat_dev);

/// Native IPv4: an IPv4 default route in the main table that is not the CLAT's (not on
/// clat_dev and not of clatd's route protocol). Returns "native IPv4 default route via eth0",
/// or an empty string when there is none.
std::string native_ipv4(const Observed& observed, const std::string& clat_dev);

/// The PREF64 prefix to use at now_ms: among unexpired facts, the one on the uplink device
/// first, then the one that appeared last (a router moving to a new prefix without
/// withdrawing the old one is followed at once; refreshes of a prefix do not make it newer, so
/// two routers announcing different prefixes cause no flapping), then the lowest prefix.
/// nullopt when there is none.
std::optional<PlatChoice> pref64_choice(const Observed& observed, int uplink_ifindex,
                                        std::int64_t now_ms);

/// The host's IPv6 addresses on one device, as candidates for the CLAT address derivation,
/// leaving out `exclude` (the CLAT address itself while it is being probed by DAD).
std::vector<AddressV6> addresses_on(const Observed& observed, int ifindex,
                                    const std::optional<Ipv6Address>& exclude = std::nullopt);

/// The state of one of our IPv6 addresses as the kernel reports it.
enum class DadState { kAbsent, kTentative, kUsable, kFailed };
DadState dad_state(const Observed& observed, const std::string& dev, const Ipv6Address& address);

}  // namespace clat

namespace clat {

/// What one change of the observed state touched, as the observer reports it.
struct ChangeSubject {
    enum class Kind { kOther, kLink, kAddress, kRoute };
    Kind kind = Kind::kOther;
    int ifindex = 0;  ///< the address's device, the route's output device
    std::uint32_t table = kMainTable;
    std::uint8_t protocol = 0;
    bool default_route = false;
    std::optional<Ipv6Prefix> destination_v6;  ///< an IPv6 route's destination
    bool operator==(const ChangeSubject&) const = default;
};

/// The devices whose addresses and routes relevant_subset() keeps: the CLAT device, the PLAT
/// devices and every device holding an IPv6 default route in the main table.
struct ObservationInterest {
    std::vector<int> devices;          ///< sorted
    std::optional<Ipv6Address> probe;  ///< the route lookup's destination, when one is made
    bool operator==(const ObservationInterest&) const = default;
};

ObservationInterest interest_of(const Observed& observed, const std::string& clat_dev,
                                const std::vector<std::string>& plat_devs,
                                const std::optional<Ipv6Address>& plat_probe);

/// Whether a change can alter relevant_subset() for this interest (a superset of the changes
/// that do): links, proxy entries and PREF64 always; addresses on the interest's devices;
/// routes of clatd's protocol, on the interest's devices, and the main table's default routes
/// and IPv6 routes covering the probe. A storm of changes elsewhere (other interfaces'
/// addresses and their prefix routes, other tables) is told apart per message.
bool matters(const ObservationInterest& interest, const ChangeSubject& change);

/// The part of the observed state the CLAT depends on, so that a burst of changes elsewhere
/// (addresses on an unrelated interface, routes in another table) costs no plan: every link;
/// the main table's default routes and the IPv6 routes covering `plat_probe` (the route lookup
/// depends on them); every route on clat_dev or of clatd's protocol; the addresses of clat_dev,
/// of the PLAT device and of every device holding an IPv6 default route (the uplink
/// candidates); proxy entries; PREF64 facts. Everything the observation functions above and
/// the planner read is inside it, so they give the same answer on it as on the whole.
Observed relevant_subset(const Observed& observed, const std::string& clat_dev,
                         const std::vector<std::string>& plat_devs,
                         const std::optional<Ipv6Address>& plat_probe);

}  // namespace clat
