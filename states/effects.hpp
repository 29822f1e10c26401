#pragma once
/// Effects: imperatives the state machine asks the agent to carry out after a transition.
/// The agent runs them in order through its ports; whatever they lead to (a timer firing, a
/// plan applied, a script finishing, the data path starting) comes back later as a posted
/// past-tense event (events.hpp), never as a nested dispatch.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "states/binding.hpp"
#include "states/plat_selection.hpp"

namespace clat {

/// The machine's timers; at most one of each runs. Starting a running timer restarts it.
enum class Timer {
    HoldDown,           ///< ProbeV4: v4-conncheck-delay before checking for native IPv4
    ProvisionRetry,     ///< Provision: back-off after a failed attempt
    TranslatorRestart,  ///< Running: back-off before restarting the data path
    DadTimeout,         ///< a DAD probe that never concludes
    ReconcileRetry,     ///< Running: back-off after a failed reconcile
    ScriptTimeout,      ///< script-up or script-down runs longer than script-timeout
};

std::string_view to_string(Timer timer);

/// script-up or script-down.
enum class ScriptKind { Up, Down };
std::string_view to_string(ScriptKind kind);

/// "10 s", or "1500 ms" when not a whole number of seconds.
std::string duration_text(std::int64_t ms);

namespace effect {

/// Starts (or restarts) a timer; when it fires the agent posts event::TimerExpired.
struct StartTimer {
    Timer timer = Timer::HoldDown;
    std::int64_t delay_ms = 0;
    bool operator==(const StartTimer&) const = default;
};
struct CancelTimer {
    Timer timer = Timer::HoldDown;
    bool operator==(const CancelTimer&) const = default;
};
/// Starts PLAT discovery, or restarts it now (an immediate DNS64 query, back-off reset, the
/// discovery settings re-read). With `solicit`, Router Solicitations are sent on that uplink
/// so that a PREF64 comes at once (RFC 8781). Discovery reports PlatDiscovered / PlatLost
/// until StopDiscovery.
struct StartDiscovery {
    bool dns64 = true;                   ///< query DNS64 (false: plat-prefix is configured)
    std::optional<std::string> solicit;  ///< uplink device to solicit on
    bool operator==(const StartDiscovery&) const = default;
};
/// Stops DNS64 queries and Router Solicitations.
struct StopDiscovery {
    bool operator==(const StopDiscovery&) const = default;
};
/// A PREF64 was heard: no more Router Solicitations.
struct StopSolicitation {
    bool operator==(const StopSolicitation&) const = default;
};
/// Takes a fresh snapshot of the observed state (route lookup towards the prefix the machine
/// now holds included) and reports it as event::FactsChanged.
struct RefreshFacts {
    bool operator==(const RefreshFacts&) const = default;
};
/// Adds the address to the device with kernel DAD (journalled, so that teardown removes it
/// too); answered by event::DadProbeStarted. The outcome is then seen in the facts.
struct ProbeDad {
    std::string dev;
    Ipv6Address address;
    bool operator==(const ProbeDad&) const = default;
};
/// Removes the address of the last ProbeDad again (proxy ND answers for it from then on).
/// Synchronous; nothing is reported.
struct EndDadProbe {
    bool operator==(const EndDadProbe&) const = default;
};
/// Plans the desired kernel state for this target against the current snapshot and applies
/// it (all or nothing); answered by event::PlanApplied or event::PlanFailed.
struct ApplyPlan {
    ClatTarget target;
    bool operator==(const ApplyPlan&) const = default;
};
/// Runs script-up or script-down with the environment of this target; answered by
/// event::ScriptFinished. Without a script configured, reports success at once.
struct RunScript {
    ScriptKind kind = ScriptKind::Up;
    ClatTarget target;
    bool operator==(const RunScript&) const = default;
};
/// Kills a running script (its process group); its ScriptFinished still follows.
struct CancelScript {
    bool operator==(const CancelScript&) const = default;
};
/// Starts the data path for this mapping; answered by DataPathStarted or DataPathExited.
struct StartDataPath {
    DataPathMapping mapping;
    bool operator==(const StartDataPath&) const = default;
};
/// Moves the running data path to a new mapping (TAYGA: a new child; eBPF: in place); the
/// old run's end is not reported. Answered by DataPathStarted or DataPathExited.
struct ReplaceDataPath {
    DataPathMapping mapping;
    bool operator==(const ReplaceDataPath&) const = default;
};
/// Stops the data path; answered by DataPathStopped (at once when none runs).
struct StopDataPath {
    bool operator==(const StopDataPath&) const = default;
};
/// Replays the undo journal: every change made is reverted; answered by event::Undone.
struct UndoAll {
    bool operator==(const UndoAll&) const = default;
};
/// Leaves the event loop and exits the process with this code.
struct Exit {
    int code = 0;
    bool operator==(const Exit&) const = default;
};
/// The status view changed: publish it (D-Bus properties, sd_notify STATUS=).
struct PublishStatus {
    bool operator==(const PublishStatus&) const = default;
};

}  // namespace effect

/// One effect.
using Effect =
    std::variant<effect::StartTimer, effect::CancelTimer, effect::StartDiscovery,
                 effect::StopDiscovery, effect::StopSolicitation, effect::RefreshFacts,
                 effect::ProbeDad, effect::EndDadProbe, effect::ApplyPlan, effect::RunScript,
                 effect::CancelScript, effect::StartDataPath, effect::ReplaceDataPath,
                 effect::StopDataPath, effect::UndoAll, effect::Exit, effect::PublishStatus>;

/// One-line text form for logs and test failure messages, e.g.
/// "start-timer timer=hold-down delay=10 s".
std::string to_string(const Effect& effect);

}  // namespace clat
