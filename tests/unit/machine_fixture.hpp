#pragma once
/// Test helpers for the state machine: canonical instances of every state (the machine can
/// start in any of them, like boost-ext/sml's testing mode), a fake world holding the facts
/// and a fake monotonic clock, and a golden text form of effect lists.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "states/machine.hpp"

namespace clat::test {

inline const char* const kNativeV4 = "native IPv4 default route via eth0";

inline Ipv6Prefix prefix(const char* text) {
    return *Ipv6Prefix::parse(text);
}

inline PlatChoice dns64_plat() {
    return PlatChoice{prefix("2001:db8:64::/96"), PlatSource::Dns64, 300'000};
}
inline PlatChoice pref64_plat() {
    return PlatChoice{prefix("2001:db8:6464::/64"), PlatSource::Pref64, 1'800'000};
}

/// Facts with a usable uplink, no native IPv4 and default settings, at now_ms.
inline MachineFacts default_facts(std::int64_t now_ms = 0) {
    MachineFacts facts;
    facts.now_ms = now_ms;
    facts.uplink_usable = true;
    return facts;
}

/// An Active state that has discovered dns64_plat(), in the given sub-state.
inline state::Active active_with(state::ActivePhase phase) {
    state::Active active;
    active.discovering = true;
    active.candidates.dns64 = Dns64Verdict{dns64_plat(), true, ""};
    active.phase = std::move(phase);
    return active;
}

inline state::Running running(int pid = 100, std::int64_t started_at_ms = 0) {
    state::Running r{dns64_plat(), {}};
    record_started(r.translator, pid, started_at_ms);
    return r;
}

/// Labelled instances of every state and the interesting variants of some.
inline std::vector<std::pair<std::string, State>> all_states() {
    state::Active discover;
    discover.discovering = true;
    discover.phase = state::DiscoverPlat{"no PLAT prefix: DNS64 query pending, no PREF64"};

    state::Provision in_flight;
    in_flight.plat = dns64_plat();
    state::Provision retry_wait = in_flight;
    retry_wait.in_flight = false;
    retry_wait.failures = 1;
    retry_wait.retry_at_ms = 1'000;
    retry_wait.last_error = "script-up exited with status 2";

    state::Running restart_wait = running();
    (void)record_exit(restart_wait.translator, "killed by signal 9", 20'000);

    state::Failed failed{dns64_plat(), {}, "translator failed 5 times"};

    return {
        {"Idle", state::Idle{}},
        {"ProbeV4 holding", state::ProbeV4{true, 10'000, ""}},
        {"ProbeV4 native", state::ProbeV4{false, 0, kNativeV4}},
        {"DiscoverPLAT", discover},
        {"Provision in flight", active_with(in_flight)},
        {"Provision retry wait", active_with(retry_wait)},
        {"Running", active_with(running())},
        {"Running restart wait", active_with(restart_wait)},
        {"Failed", active_with(failed)},
        {"Teardown", state::Teardown{false, false, "uplink lost"}},
        {"Teardown exiting", state::Teardown{true, false, "stop requested"}},
        {"Stopped", state::Stopped{0}},
    };
}

inline State state_named(const std::string& label) {
    for (auto& [name, state] : all_states()) {
        if (name == label)
            return state;
    }
    return state::Stopped{-1};
}

/// The effects as golden text, "a; b; c", leaving out PublishStatus (see publishes()).
inline std::string text(const std::vector<Effect>& effects) {
    std::string out;
    for (const auto& e : effects) {
        if (std::holds_alternative<effect::PublishStatus>(e))
            continue;
        if (!out.empty())
            out += "; ";
        out += to_string(e);
    }
    return out;
}

inline bool publishes(const Transition& t) {
    for (const auto& e : t.effects) {
        if (std::holds_alternative<effect::PublishStatus>(e))
            return true;
    }
    return false;
}

inline int count(const std::vector<Effect>& effects, const std::string& effect_text) {
    int n = 0;
    for (const auto& e : effects)
        n += to_string(e) == effect_text ? 1 : 0;
    return n;
}

/// A machine with the facts the agent would hand it and a fake clock.
struct World {
    MachineFacts facts = default_facts();
    Machine machine;
    Transition last{state::Idle{}, {}, {}};

    World() = default;
    explicit World(State state) : machine(Machine::in_state(std::move(state))) {}

    Transition send(const Event& event) {
        last = machine.dispatch(event, facts);
        return last;
    }
    void at(std::int64_t now_ms) { facts.now_ms = now_ms; }
    std::string name() const { return std::string(state_name(machine.state())); }
    MachineStatus status() const { return machine.status(); }
    const state::Active* active() const { return std::get_if<state::Active>(&machine.state()); }
    const state::Running* running_state() const {
        return active() ? std::get_if<state::Running>(&active()->phase) : nullptr;
    }
};

}  // namespace clat::test
