#pragma once
/// Events: past-tense facts that drive the state machine. Adapters and the agent post them to
/// the event queue; the agent dispatches them one at a time. Each carries only what changed;
/// the level-triggered picture (uplink usable, native IPv4, settings, time) comes with every
/// dispatch as MachineFacts.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "states/effects.hpp"
#include "states/ip.hpp"
#include "states/plat_selection.hpp"

namespace clat::event {

/// The uplink became usable or unusable (IPv6 default route and a global address), or
/// changed while usable (new addresses, other device).
struct UplinkChanged {
    static constexpr std::string_view kName = "UplinkChanged";
    bool usable = false;
    bool operator==(const UplinkChanged&) const = default;
};
/// A native IPv4 default route (not the CLAT's own) appeared or went away. `description`
/// says where ("native IPv4 default route via eth0") and becomes the visible reason.
struct NativeIpv4Changed {
    static constexpr std::string_view kName = "NativeIpv4Changed";
    bool present = false;
    std::string description;
    bool operator==(const NativeIpv4Changed&) const = default;
};
/// A timer started by effect::StartTimer fired.
struct TimerExpired {
    static constexpr std::string_view kName = "TimerExpired";
    Timer timer = Timer::HoldDown;
    bool operator==(const TimerExpired&) const = default;
};
/// Discovery found a prefix (source Pref64 or Dns64), or refreshed one (new expiry).
struct PlatDiscovered {
    static constexpr std::string_view kName = "PlatDiscovered";
    PlatSource source = PlatSource::Dns64;
    Ipv6Prefix prefix;
    std::optional<std::int64_t> expires_at_ms;
    bool operator==(const PlatDiscovered&) const = default;
};
/// A source has nothing: PREF64 withdrawn or expired, DNS64 negative or failed.
struct PlatLost {
    static constexpr std::string_view kName = "PlatLost";
    PlatSource source = PlatSource::Dns64;
    std::string detail;  ///< "DNS64 query timed out"; empty: the default text
    bool operator==(const PlatLost&) const = default;
};
struct ProvisionSucceeded {
    static constexpr std::string_view kName = "ProvisionSucceeded";
    bool operator==(const ProvisionSucceeded&) const = default;
};
struct ProvisionFailed {
    static constexpr std::string_view kName = "ProvisionFailed";
    std::string error;
    bool operator==(const ProvisionFailed&) const = default;
};
struct TranslatorStarted {
    static constexpr std::string_view kName = "TranslatorStarted";
    int pid = 0;
    bool operator==(const TranslatorStarted&) const = default;
};
/// The translator exited or could not be spawned (pid 0). `status` is the agent's text:
/// "exited with status 1", "killed by signal 9", "failed to start: ...".
struct TranslatorExited {
    static constexpr std::string_view kName = "TranslatorExited";
    int pid = 0;
    std::string status;
    bool operator==(const TranslatorExited&) const = default;
};
/// The CLAT IPv6 address to use changed (renumbering, or a literal in the configuration).
struct ClatAddressChanged {
    static constexpr std::string_view kName = "ClatAddressChanged";
    Ipv6Address address;
    bool operator==(const ClatAddressChanged&) const = default;
};
/// The kernel's Duplicate Address Detection failed for the CLAT address.
struct DadFailed {
    static constexpr std::string_view kName = "DadFailed";
    Ipv6Address address;
    bool operator==(const DadFailed&) const = default;
};
/// Observed state drifted from the desired state (a route of ours removed, the PLAT device
/// changed, a full resynchronisation after ENOBUFS); the events of a burst are coalesced.
struct ReconcileNeeded {
    static constexpr std::string_view kName = "ReconcileNeeded";
    std::string what;
    bool operator==(const ReconcileNeeded&) const = default;
};
/// A valid configuration was loaded (an invalid one is rejected by the agent and never
/// reaches the machine). MachineFacts already carries the new settings.
struct ConfigReloaded {
    static constexpr std::string_view kName = "ConfigReloaded";
    bool affects_clat = false;
    bool operator==(const ConfigReloaded&) const = default;
};
/// The operator asked for PLAT discovery now (D-Bus Rediscover()).
struct RediscoverRequested {
    static constexpr std::string_view kName = "RediscoverRequested";
    bool operator==(const RediscoverRequested&) const = default;
};
/// SIGTERM, SIGINT or a stop request: tear down and exit.
struct StopRequested {
    static constexpr std::string_view kName = "StopRequested";
    std::string origin;  ///< "SIGTERM", "SIGINT"
    bool operator==(const StopRequested&) const = default;
};
/// effect::Teardown finished; error holds the first failure (the rest was still undone).
struct TeardownDone {
    static constexpr std::string_view kName = "TeardownDone";
    std::optional<std::string> error;
    bool operator==(const TeardownDone&) const = default;
};

}  // namespace clat::event

namespace clat {

/// One event.
using Event = std::variant<
    event::UplinkChanged, event::NativeIpv4Changed, event::TimerExpired, event::PlatDiscovered,
    event::PlatLost, event::ProvisionSucceeded, event::ProvisionFailed, event::TranslatorStarted,
    event::TranslatorExited, event::ClatAddressChanged, event::DadFailed, event::ReconcileNeeded,
    event::ConfigReloaded, event::RediscoverRequested, event::StopRequested, event::TeardownDone>;

/// The event's type name, for debug logs.
inline std::string_view event_name(const Event& event) {
    return std::visit([](const auto& e) { return e.kName; }, event);
}

}  // namespace clat
