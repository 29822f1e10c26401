#pragma once
/// The hierarchical state machine of one CLAT instance (SPEC §4), as pure code. It owns every
/// phase of the lifecycle; the agent only runs its effects and posts their answers:
///
///   Idle ─▶ ProbeV4 ─▶ Active{ DiscoverPLAT ─▶ Provision ─▶ Running ⇄ Failed } ─▶ Teardown
///
///   Provision: Resolving ─▶ [ProbingDad ─▶] Applying ─▶ ScriptUp ─▶ Running (StartDataPath)
///              any step failing ─▶ RetryWait ─(timer)─▶ Resolving
///   Running:   data path Starting ⇄ Up ⇄ WaitingRestart; every relevant snapshot reconciles
///              (Resolving ─▶ [ProbingDad ─▶] Applying; a failure waits for a retry timer), a
///              new mapping replaces the data path
///   Teardown:  StoppingDataPath ─▶ ScriptDown ─▶ Undoing ─▶ Idle / ProbeV4 / Active / Stopped
///
/// `on(state, event, facts)` returns the next state, the effects for the agent to run after
/// the transition, and the cause to log. Time enters only as MachineFacts::now_ms; timers
/// are effects. What all Active sub-states share (uplink lost, native IPv4 appeared, stop,
/// reload) is handled once, by the Active parent, before the sub-state sees the event.
/// Level-triggered facts arrive as event::FactsChanged; Machine::dispatch derives the edges
/// (uplink, native IPv4, PREF64) by comparing them with the facts it saw last.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "states/binding.hpp"
#include "states/effects.hpp"
#include "states/events.hpp"
#include "states/ip.hpp"
#include "states/plat_selection.hpp"
#include "states/translator_supervision.hpp"

namespace clat {

/// The configuration keys the machine reads; filled by the agent from Config.
struct MachineSettings {
    bool v4_conncheck_enable = true;
    std::int64_t v4_conncheck_delay_ms = 10'000;
    bool v4_defaultroute_replace = false;
    bool pref64_enable = true;
    std::optional<Ipv6Prefix> plat_prefix;  ///< set: discovery disabled
    std::optional<Ipv6Prefix> plat_fallback_prefix;
    /// `tayga-restart-delay`: the data path's first restart delay, the supervision's time base.
    std::int64_t tayga_restart_delay_ms = kRestartInitialDelayMs;
    /// `script-timeout`: how long script-up or script-down may run before it is killed; 0:
    /// no limit.
    std::int64_t script_timeout_ms = 30'000;
    BindingSettings binding;

    /// The translator supervision policy scaled to tayga_restart_delay_ms.
    SupervisionPolicy translator_policy() const { return scaled_policy(tayga_restart_delay_ms); }
    /// ProbeV4 runs, and native IPv4 matters, only when the check is on and the CLAT does
    /// not replace the default route anyway.
    bool probe_v4() const { return v4_conncheck_enable && !v4_defaultroute_replace; }
    bool operator==(const MachineSettings&) const = default;
};

/// The level-triggered picture at dispatch time, derived by the agent from one snapshot of the
/// observed state (pure functions of states/observation.hpp) and the configuration.
struct MachineFacts {
    std::int64_t now_ms = 0;  ///< the agent's monotonic clock
    bool uplink_usable = false;
    std::string uplink_dev;   ///< the usable uplink's name; empty when none
    std::string native_ipv4;  ///< empty: none; else where, "native IPv4 default route via eth0"
    std::optional<PlatChoice> pref64;  ///< the valid PREF64 on the uplink (pref64-enable)
    /// The relevant part of the observed kernel state; null: nothing observed.
    const Observed* observed = nullptr;
    /// The route lookup towards the prefix the machine held when the snapshot was taken.
    std::optional<PlatRoute> plat_route;
    std::uint64_t entropy = 0;  ///< seeds random IIDs for a new CLAT address
    MachineSettings settings;
};

namespace state {

/// No usable uplink; waits for one.
struct Idle {
    bool operator==(const Idle&) const = default;
};
/// Waits for the network to settle, then for native IPv4 to be absent.
struct ProbeV4 {
    bool holding = true;  ///< the hold-down timer runs until hold_down_until_ms
    std::int64_t hold_down_until_ms = 0;
    std::string native_ipv4;  ///< empty: none seen
    bool operator==(const ProbeV4&) const = default;
};
/// Waits for discovery to report a PLAT prefix.
struct DiscoverPlat {
    std::string reason;  ///< why no prefix is usable yet
    bool operator==(const DiscoverPlat&) const = default;
};
/// Provisioning for a prefix, step by step; a failed step waits for a retry.
struct Provision {
    enum class Step { Resolving, ProbingDad, Applying, ScriptUp, RetryWait };
    PlatChoice plat;
    Step step = Step::Resolving;
    std::optional<Binding> binding;  ///< being probed, applied, or script-up runs for it
    bool refresh_requested = false;  ///< Resolving: RefreshFacts is outstanding
    bool dirty = false;              ///< something changed while a step ran: reconcile once Running
    DadMemory dad;
    int dad_conflicts = 0;
    int failures = 0;  ///< failed attempts in a row
    std::int64_t retry_at_ms = 0;
    std::string last_error;
    std::int64_t script_timeout_ms = 0;  ///< ScriptUp: the script-timeout it was started with
    /// ScriptUp: why clatd is killing the script ("timed out after 30 s"); empty: it is not.
    std::string script_killed;
    bool in_flight() const { return step != Step::RetryWait; }
    bool operator==(const Provision&) const = default;
};
/// Keeping the kernel state converged while provisioned.
struct Reconcile {
    enum class Step { Idle, Resolving, ProbingDad, Applying, RetryWait };
    Step step = Step::Idle;
    std::optional<Binding> candidate;  ///< the binding being probed or applied
    bool dirty = false;                ///< facts changed while applying: plan again after
    int dad_conflicts = 0;
    int failures = 0;
    std::int64_t retry_at_ms = 0;
    std::string last_error;
    bool operator==(const Reconcile&) const = default;
};
/// Provisioned; supervising the data path.
struct Running {
    PlatChoice plat;
    Binding binding;
    TranslatorSupervision translator;
    DataPathMapping mapping;  ///< what the data path was (last) started with
    DadMemory dad;
    Reconcile reconcile;
    /// The CLAT device the data path runs on, as last observed (0: not seen yet); another
    /// index means the device was replaced and the data path must move onto it.
    int device_index = 0;
    bool operator==(const Running&) const = default;
};
/// Provisioned, but the data path gave up after repeated fast failures (SPEC §9). Left by a
/// reload, a rediscovery, an uplink change or a new PLAT prefix.
struct Failed {
    PlatChoice plat;
    Binding binding;
    TranslatorSupervision translator;
    DataPathMapping mapping;
    DadMemory dad;
    std::string reason;
    bool operator==(const Failed&) const = default;
};
using ActivePhase = std::variant<DiscoverPlat, Provision, Running, Failed>;
/// The parent of the sub-states that hold (or are acquiring) a PLAT prefix.
struct Active {
    PlatCandidates candidates;
    bool discovering = false;  ///< StartDiscovery was issued and not stopped
    ActivePhase phase;
    bool operator==(const Active&) const = default;
};
/// Stops the data path, runs script-down, undoes every change; then exits or starts over.
struct Teardown {
    enum class Step { StoppingDataPath, ScriptDown, Undoing };
    bool exit_after = false;
    bool rediscover = false;  ///< resume at DiscoverPLAT (the PLAT prefix was lost)
    std::string cause;
    Step step = Step::Undoing;
    std::optional<ClatTarget> target;    ///< set: script-down runs for it after the data path
    std::optional<std::string> error;    ///< the first failure so far
    std::int64_t script_timeout_ms = 0;  ///< ScriptDown: the script-timeout it was started with
    /// ScriptDown: why clatd is killing the script ("timed out after 30 s", a second stop
    /// request); empty: it is not.
    std::string script_killed;
    bool operator==(const Teardown&) const = default;
};
/// Terminal: Exit was requested.
struct Stopped {
    int exit_code = 0;
    bool operator==(const Stopped&) const = default;
};

}  // namespace state

/// One state.
using State =
    std::variant<state::Idle, state::ProbeV4, state::Active, state::Teardown, state::Stopped>;

/// The outcome of one event.
struct Transition {
    State next;
    std::vector<Effect> effects;
    std::string cause;  ///< empty: the event was ignored and nothing changed
    /// Worth an info line although the leaf state stays (a DAD conflict, a renumbering, the
    /// data path's life); state changes are always logged.
    bool notable = false;
    bool ignored() const { return cause.empty(); }
};

/// What D-Bus and sd_notify STATUS= show.
struct MachineStatus {
    std::string state;   ///< leaf name: "Idle", "ProbeV4", "DiscoverPLAT", "Provision", ...
    std::string reason;  ///< why it waits or failed; empty when there is nothing to explain
    std::optional<PlatChoice> plat;
    std::optional<Binding> binding;  ///< the PLAT device and CLAT address in use or in the making
    int translator_restarts = 0;
    std::string last_error;  ///< the failure the current phase is recovering from
    bool operator==(const MachineStatus&) const = default;
};

/// Back-off before provisioning attempt failures+1: 1 s doubling to 60 s.
std::int64_t provision_retry_delay_ms(int failures);

/// How long a DAD probe may take before the attempt fails.
inline constexpr std::int64_t kDadTimeoutMs = 10'000;

/// The leaf state's name as logged: "Idle", "ProbeV4", "DiscoverPLAT", "Provision",
/// "Running", "Failed", "Teardown", "Stopped".
std::string_view state_name(const State& state);

/// The status view of a state.
MachineStatus status_of(const State& state);

/// The prefix whose route lookup the next snapshot should carry: the one the state holds.
std::optional<Ipv6Prefix> held_prefix(const State& state);

/// The transition function: exhaustive over states and events, pure. Appends
/// effect::PublishStatus whenever the status view changes.
Transition on(const State& state, const Event& event, const MachineFacts& facts);

/// The edges between two sets of facts, as the events the handlers understand: uplink,
/// native IPv4, PREF64 found, refreshed or lost.
std::vector<Event> fact_edges(const MachineFacts& before, const MachineFacts& after);

/// Holds the current state and the facts last seen, and applies `on`. The agent dispatches
/// one event at a time and runs the returned effects afterwards.
class Machine {
  public:
    Machine() = default;
    /// Testing mode: a machine that starts in any state, having seen `seen` last.
    static Machine in_state(State state, const MachineFacts& seen = {});

    /// FactsChanged is dispatched as its edges (fact_edges against the facts seen last), then
    /// itself; the transitions are folded into one.
    Transition dispatch(const Event& event, const MachineFacts& facts);
    const State& state() const { return state_; }
    MachineStatus status() const { return status_of(state_); }

  private:
    State state_ = state::Idle{};
    MachineFacts seen_;
};

}  // namespace clat
