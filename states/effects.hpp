#pragma once
/// Effects: imperatives the state machine asks the agent to carry out after a transition.
/// The agent runs them in order; whatever they lead to (a timer firing, a child starting,
/// provisioning finishing) comes back later as a posted event, never as a nested dispatch.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "states/plat_selection.hpp"

namespace clat {

/// The machine's timers; at most one of each runs. Starting a running timer restarts it.
enum class Timer {
    HoldDown,           ///< ProbeV4: v4-conncheck-delay before checking for native IPv4
    ProvisionRetry,     ///< Provision: back-off after a failed attempt
    TranslatorRestart,  ///< Running: back-off before restarting the translator
};

std::string_view to_string(Timer timer);

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
/// Starts PLAT discovery, or restarts it now (an immediate DNS64 query, back-off reset).
/// Discovery reports PlatDiscovered / PlatLost until StopDiscovery.
struct StartDiscovery {
    bool operator==(const StartDiscovery&) const = default;
};
struct StopDiscovery {
    bool operator==(const StopDiscovery&) const = default;
};
/// Plans and applies the desired kernel state for this prefix, then runs script-up.
/// Reports ProvisionSucceeded or ProvisionFailed; a failed attempt is rolled back.
struct Provision {
    PlatChoice plat;
    bool operator==(const Provision&) const = default;
};
/// Plans and applies the difference to the desired state for this prefix while running
/// (renumbering, prefix or configuration change, something removed behind our back).
struct Reconcile {
    PlatChoice plat;
    bool operator==(const Reconcile&) const = default;
};
/// Spawns the translator; reports TranslatorStarted, or TranslatorExited if it cannot.
struct StartTranslator {
    bool operator==(const StartTranslator&) const = default;
};
/// Stops the translator, runs script-down and replays the undo journal; reports
/// TeardownDone. Idempotent: with nothing provisioned it just reports done.
struct Teardown {
    bool operator==(const Teardown&) const = default;
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
                 effect::StopDiscovery, effect::Provision, effect::Reconcile,
                 effect::StartTranslator, effect::Teardown, effect::Exit, effect::PublishStatus>;

/// One-line text form for logs and test failure messages, e.g.
/// "start-timer timer=hold-down delay=10 s".
std::string to_string(const Effect& effect);

}  // namespace clat
