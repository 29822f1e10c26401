#pragma once
/// Events: past-tense facts that drive the state machine. Adapters and the agent post them to
/// the event queue; the agent dispatches them one at a time. Each carries only what changed;
/// the level-triggered picture (uplink, native IPv4, PREF64, the observed kernel state,
/// settings, time) comes with every dispatch as MachineFacts.
///
/// Every effect that waits is answered by one of these: ProbeDad by DadProbeStarted, ApplyPlan
/// by PlanApplied or PlanFailed, RunScript by ScriptFinished, StartDataPath and
/// ReplaceDataPath by DataPathStarted or DataPathExited, StopDataPath by DataPathStopped,
/// UndoAll by Undone, StartTimer by TimerExpired.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "states/config_diff.hpp"
#include "states/effects.hpp"
#include "states/ip.hpp"
#include "states/plat_selection.hpp"

namespace clat::event {

/// The observed facts changed (a netlink burst that touched what the CLAT depends on, a
/// refreshed snapshot). The machine compares them with what it acted on last; the edges below
/// (UplinkChanged, NativeIpv4Changed, a PREF64 found or lost) are derived from that diff.
struct FactsChanged {
    static constexpr std::string_view kName = "FactsChanged";
    bool operator==(const FactsChanged&) const = default;
};
/// Derived from FactsChanged: the uplink became usable or unusable (IPv6 default route and a
/// global address), or changed while usable (other device).
struct UplinkChanged {
    static constexpr std::string_view kName = "UplinkChanged";
    bool usable = false;
    bool operator==(const UplinkChanged&) const = default;
};
/// Derived from FactsChanged: a native IPv4 default route (not the CLAT's own) appeared or
/// went away. `description` says where and becomes the visible reason.
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
/// Discovery found a prefix (DNS64 reports it; a PREF64 is derived from FactsChanged), or
/// refreshed one (new expiry).
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
/// effect::ProbeDad ran: DAD of the address runs, or could not start (error).
struct DadProbeStarted {
    static constexpr std::string_view kName = "DadProbeStarted";
    Ipv6Address address;
    std::optional<std::string> error;
    bool operator==(const DadProbeStarted&) const = default;
};
/// DAD of the address ended: it passed, or another node holds it (`detail` says how that
/// showed: its advertisement, or its own probe for the address).
struct DadProbeFinished {
    static constexpr std::string_view kName = "DadProbeFinished";
    Ipv6Address address;
    bool duplicate = false;
    std::string detail;
    bool operator==(const DadProbeFinished&) const = default;
};
/// effect::ApplyPlan succeeded; `operations` counts what it changed (0: converged).
struct PlanApplied {
    static constexpr std::string_view kName = "PlanApplied";
    int operations = 0;
    bool operator==(const PlanApplied&) const = default;
};
/// effect::ApplyPlan failed (planning or applying); what it changed was rolled back.
struct PlanFailed {
    static constexpr std::string_view kName = "PlanFailed";
    std::string error;
    bool operator==(const PlanFailed&) const = default;
};
/// effect::RunScript finished: the script exited, was killed (effect::CancelScript, at its
/// script-timeout or on a stop), or could not be started. The machine knows why it killed it.
struct ScriptFinished {
    static constexpr std::string_view kName = "ScriptFinished";
    ScriptKind kind = ScriptKind::Up;
    bool success = true;
    std::string detail;  ///< "exited with status 2", "killed by signal 15 (Terminated)"
    bool operator==(const ScriptFinished&) const = default;
};
/// The data path runs (effect::StartDataPath or ReplaceDataPath). `run` identifies this run
/// of it, so that a later report about an older run is recognised as stale.
struct DataPathStarted {
    static constexpr std::string_view kName = "DataPathStarted";
    std::uint64_t run = 0;
    bool operator==(const DataPathStarted&) const = default;
};
/// The data path stopped by itself (the translator exited) or could not be started (run 0
/// or the run that failed). `status` is the adapter's text: "exited with status 1", "killed
/// by signal 9", "failed to start: ...".
struct DataPathExited {
    static constexpr std::string_view kName = "DataPathExited";
    std::uint64_t run = 0;
    std::string status;
    bool operator==(const DataPathExited&) const = default;
};
/// effect::StopDataPath finished: nothing translates any more.
struct DataPathStopped {
    static constexpr std::string_view kName = "DataPathStopped";
    bool operator==(const DataPathStopped&) const = default;
};
/// effect::UndoAll finished; error holds the first failure (the rest was still undone).
struct Undone {
    static constexpr std::string_view kName = "Undone";
    std::optional<std::string> error;
    bool operator==(const Undone&) const = default;
};
/// A valid configuration was loaded (an invalid one is rejected by the agent and never
/// reaches the machine). MachineFacts already carries the new settings; `diff` says which
/// groups of keys changed.
struct ConfigReloaded {
    static constexpr std::string_view kName = "ConfigReloaded";
    ConfigDiff diff;
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

}  // namespace clat::event

namespace clat {

/// One event.
using Event = std::variant<event::FactsChanged, event::UplinkChanged, event::NativeIpv4Changed,
                           event::TimerExpired, event::PlatDiscovered, event::PlatLost,
                           event::DadProbeStarted, event::DadProbeFinished, event::PlanApplied,
                           event::PlanFailed, event::ScriptFinished, event::DataPathStarted,
                           event::DataPathExited, event::DataPathStopped, event::Undone,
                           event::ConfigReloaded, event::RediscoverRequested, event::StopRequested>;

/// The event's type name, for debug logs.
inline std::string_view event_name(const Event& event) {
    return std::visit([](const auto& e) { return e.kName; }, event);
}

}  // namespace clat
