#pragma once
/// The hierarchical state machine of one CLAT instance (SPEC §4), as pure code:
///
///   Idle ─▶ ProbeV4 ─▶ Active{ DiscoverPLAT ─▶ Provision ─▶ Running ⇄ Failed } ─▶ Teardown
///
/// `on(state, event, facts)` returns the next state, the effects for the agent to run after
/// the transition, and the cause to log. Time enters only as MachineFacts::now_ms; timers
/// are effects. What all Active sub-states share (uplink lost, native IPv4 appeared, stop,
/// reload) is handled once, by the Active parent, before the sub-state sees the event.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

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
    /// `tayga-restart-delay`: the translator's first restart delay, the supervision's time base.
    std::int64_t tayga_restart_delay_ms = kRestartInitialDelayMs;

    /// The translator supervision policy scaled to tayga_restart_delay_ms.
    SupervisionPolicy translator_policy() const { return scaled_policy(tayga_restart_delay_ms); }
    /// ProbeV4 runs, and native IPv4 matters, only when the check is on and the CLAT does
    /// not replace the default route anyway.
    bool probe_v4() const { return v4_conncheck_enable && !v4_defaultroute_replace; }
    bool operator==(const MachineSettings&) const = default;
};

/// The level-triggered picture at dispatch time; filled by the agent from Observed and the
/// configuration, so the machine stays independent of the netlink adapter.
struct MachineFacts {
    std::int64_t now_ms = 0;  ///< the agent's monotonic clock
    bool uplink_usable = false;
    std::string native_ipv4;  ///< empty: none; else where, "native IPv4 default route via eth0"
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
/// Provisioning for a prefix: in flight, or waiting to retry after a failure.
struct Provision {
    PlatChoice plat;
    bool in_flight = true;
    bool dirty = false;  ///< something changed while in flight: reconcile once provisioned
    int failures = 0;    ///< failed attempts in a row
    std::int64_t retry_at_ms = 0;
    std::string last_error;
    bool operator==(const Provision&) const = default;
};
/// Provisioned; supervising the translator.
struct Running {
    PlatChoice plat;
    TranslatorSupervision translator;
    bool operator==(const Running&) const = default;
};
/// Provisioned, but the translator gave up after repeated fast failures (SPEC §9). Left by
/// a reload, a rediscovery, an uplink change or a new PLAT prefix.
struct Failed {
    PlatChoice plat;
    TranslatorSupervision translator;
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
/// Waits for effect::Teardown to finish, then exits or starts over.
struct Teardown {
    bool exit_after = false;
    bool rediscover = false;  ///< resume at DiscoverPLAT (the PLAT prefix was lost)
    std::string cause;
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
    bool ignored() const { return cause.empty(); }
};

/// What D-Bus and sd_notify STATUS= show.
struct MachineStatus {
    std::string state;   ///< leaf name: "Idle", "ProbeV4", "DiscoverPLAT", "Provision", ...
    std::string reason;  ///< why it waits or failed; empty when there is nothing to explain
    std::optional<PlatChoice> plat;
    std::optional<int> translator_pid;
    int translator_restarts = 0;
    bool operator==(const MachineStatus&) const = default;
};

/// Back-off before provisioning attempt failures+1: 1 s doubling to 60 s.
std::int64_t provision_retry_delay_ms(int failures);

/// The leaf state's name as logged: "Idle", "ProbeV4", "DiscoverPLAT", "Provision",
/// "Running", "Failed", "Teardown", "Stopped".
std::string_view state_name(const State& state);

/// The status view of a state.
MachineStatus status_of(const State& state);

/// The transition function: exhaustive over states and events, pure. Appends
/// effect::PublishStatus whenever the status view changes.
Transition on(const State& state, const Event& event, const MachineFacts& facts);

/// Holds the current state and applies `on`. The agent dispatches one event at a time and
/// runs the returned effects afterwards.
class Machine {
  public:
    Machine() = default;
    /// Testing mode: a machine that starts in any state.
    static Machine in_state(State state);

    Transition dispatch(const Event& event, const MachineFacts& facts);
    const State& state() const { return state_; }
    MachineStatus status() const { return status_of(state_); }

  private:
    State state_ = state::Idle{};
};

}  // namespace clat
