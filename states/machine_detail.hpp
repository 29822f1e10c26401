#pragma once
/// Internals shared by machine.cpp (top level, Idle, ProbeV4, Teardown), machine_active.cpp
/// (the Active parent, discovery and reload) and machine_provision.cpp (Provision, Running
/// and Failed: binding, DAD, plans, scripts, the data path). Not for use elsewhere.

#include <optional>
#include <string>
#include <vector>

#include "states/machine.hpp"

namespace clat::detail {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

/// "stop requested (SIGTERM)".
std::string stop_cause(const event::StopRequested& stop);

/// t, marked as worth an info line.
inline Transition notable(Transition t) {
    t.notable = true;
    return t;
}

/// The event changes nothing.
Transition ignore(const State& state);

/// `active` with another phase.
Transition with_phase(const state::Active& active, state::ActivePhase phase,
                      std::vector<Effect> effects, std::string cause);

/// Enters Active at DiscoverPLAT, starting discovery unless a prefix is configured, and goes
/// straight on to Provision when a prefix is already selectable.
Transition enter_active(const MachineFacts& facts, std::string cause);

/// Leaves any state for Teardown: cancels its timers, stops discovery and a running
/// script-up, and starts the first teardown step.
Transition begin_teardown(const State& from, bool exit_after, bool rediscover, std::string cause);

/// The Active parent and its sub-states.
Transition on_active(const state::Active& active, const Event& event, const MachineFacts& facts);

/// Provision's first step for a prefix (machine_provision.cpp).
Transition start_provision(const state::Active& active, const PlatChoice& plat,
                           const MachineFacts& facts, std::string cause);
/// Running/Failed: re-resolve the binding and plan again (renumbering, new prefix, reload,
/// drift). `cause` is logged.
Transition reconcile_now(const state::Active& active, const MachineFacts& facts, std::string cause);
/// Events for Provision, Running and Failed: facts, DAD, plans, scripts, the data path, their
/// timers.
Transition on_phase_event(const state::Active& active, const Event& event,
                          const MachineFacts& facts);
/// Back to Running after Failed, with a fresh back-off, restarting the data path.
Transition revive(const state::Active& active, const state::Failed& failed, const PlatChoice& plat,
                  std::string cause);

/// Runs script-up or script-down for target, under script-timeout (no timer when it is 0).
std::vector<Effect> run_script(ScriptKind kind, const ClatTarget& target,
                               const MachineFacts& facts);
/// Why a script started with this script-timeout is killed when it expires: "timed out after
/// 30 s". Its ScriptFinished still follows, once it has gone.
std::string timed_out_text(std::int64_t timeout_ms);
/// The failure of a script that ended: "script-down timed out after 30 s" when clatd killed it
/// (`killed` says why), else "script-down exited with status 2".
std::string script_failure(const event::ScriptFinished& e, const std::string& killed);

/// The line for a PREF64 edge no state handled (machine.cpp).
Transition note_pref64(Transition t, const Event& event, const MachineFacts& facts);

/// The timers a state may have running, to cancel when leaving it.
std::vector<Timer> running_timers(const State& state);

}  // namespace clat::detail
