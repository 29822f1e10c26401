#pragma once
/// Test helpers for the state machine: canonical instances of every state and step (the
/// machine can start in any of them, like boost-ext/sml's testing mode), a fake world holding
/// the facts, the observed kernel state and a fake monotonic clock, and a golden text form of
/// effect lists.
///
/// By default the binding is static (plat-dev=eth0, clat-v6-addr=kClatV6, no DAD), so that a
/// test about discovery or the data path needs no snapshot; the derived-address tests switch
/// to use_derived(), which needs a host address and the route lookup in the facts.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "states/machine.hpp"
#include "tests/values.hpp"

namespace clat::test {

inline const char* const kNativeV4 = "native IPv4 default route via eth0";
inline const char* const kClatV6 = "2001:db8:1::c1a7";

inline Ipv6Prefix prefix(const char* text) {
    return p6(text);
}

inline PlatChoice dns64_plat() {
    return PlatChoice{prefix("2001:db8:64::/96"), PlatSource::Dns64, 300'000};
}
inline PlatChoice pref64_plat() {
    return PlatChoice{prefix("2001:db8:6464::/64"), PlatSource::Pref64, 1'800'000};
}

inline Binding static_binding() {
    return Binding{"eth0", v6(kClatV6), std::nullopt};
}
inline ClatTarget target(const PlatChoice& plat = dns64_plat()) {
    return ClatTarget{plat, static_binding()};
}
/// "plat=2001:db8:64::/96 source=dns64 dev=eth0 clat-v6=2001:db8:1::c1a7".
inline std::string target_text(const PlatChoice& plat = dns64_plat()) {
    return target(plat).to_string();
}
inline std::string apply_text(const PlatChoice& plat = dns64_plat()) {
    return "apply-plan " + target_text(plat);
}
/// The timer every script runs under (script-timeout's default), and its cancellation.
inline const char* const kScriptTimer = "start-timer timer=script-timeout delay=30 s";
inline const char* const kScriptTimerOff = "cancel-timer timer=script-timeout";
/// "run-script kind=up TARGET; start-timer timer=script-timeout delay=30 s".
inline std::string run_script_text(ScriptKind kind, const std::string& target) {
    return "run-script kind=" + std::string(to_string(kind)) + " " + target + "; " + kScriptTimer;
}
inline std::string start_dp_text(const PlatChoice& plat = dns64_plat()) {
    return "start-data-path " + mapping_of(target(plat)).to_string();
}

/// Facts with a usable uplink eth0, no native IPv4 and the static binding, at now_ms.
inline MachineFacts default_facts(std::int64_t now_ms = 0) {
    MachineFacts facts;
    facts.now_ms = now_ms;
    facts.uplink_usable = true;
    facts.uplink_dev = "eth0";
    facts.settings.binding.plat_dev = "eth0";
    facts.settings.binding.clat_v6 = v6(kClatV6);
    facts.settings.binding.dad_enable = false;
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

inline state::Provision provision_at(state::Provision::Step step) {
    state::Provision p;
    p.plat = dns64_plat();
    p.step = step;
    if (step != state::Provision::Step::Resolving)
        p.binding = static_binding();
    if (step == state::Provision::Step::ScriptUp)
        p.script_timeout_ms = MachineSettings{}.script_timeout_ms;
    if (step == state::Provision::Step::RetryWait) {
        p.binding.reset();
        p.failures = 1;
        p.retry_at_ms = 1'000;
        p.last_error = "script-up exited with status 2";
    }
    return p;
}

/// Running with the static binding; the data path's run `run` started at started_at_ms.
inline state::Running running(std::uint64_t run = 100, std::int64_t started_at_ms = 0) {
    state::Running r;
    r.plat = dns64_plat();
    r.binding = static_binding();
    r.mapping = mapping_of(target());
    record_started(r.translator, static_cast<int>(run), started_at_ms);
    return r;
}

inline state::Failed failed(const std::string& reason = "translator failed 5 times") {
    const state::Running r = running();
    return state::Failed{r.plat, r.binding, r.translator, r.mapping, r.dad, reason};
}

inline state::Teardown teardown_at(state::Teardown::Step step, bool exit_after = false) {
    state::Teardown t;
    t.exit_after = exit_after;
    t.cause = exit_after ? "stop requested" : "uplink lost";
    t.step = step;
    if (step != state::Teardown::Step::Undoing)
        t.target = target();
    if (step == state::Teardown::Step::ScriptDown)
        t.script_timeout_ms = MachineSettings{}.script_timeout_ms;
    return t;
}

/// Labelled instances of every state, every step and the interesting variants of some.
inline std::vector<std::pair<std::string, State>> all_states() {
    using PStep = state::Provision::Step;
    using TStep = state::Teardown::Step;
    state::Active discover;
    discover.discovering = true;
    discover.phase = state::DiscoverPlat{"no PLAT prefix: DNS64 query pending, no PREF64"};

    state::Provision resolving = provision_at(PStep::Resolving);
    resolving.refresh_requested = true;

    state::Running restart_wait = running();
    (void)record_exit(restart_wait.translator, "killed by signal 9", 20'000);

    state::Running reconciling = running();
    reconciling.reconcile.step = state::Reconcile::Step::Applying;
    reconciling.reconcile.candidate = static_binding();

    state::Running reconcile_wait = running();
    reconcile_wait.reconcile.step = state::Reconcile::Step::RetryWait;
    reconcile_wait.reconcile.failures = 1;
    reconcile_wait.reconcile.retry_at_ms = 1'000;
    reconcile_wait.reconcile.last_error = "add route: EPERM";

    return {
        {"Idle", state::Idle{}},
        {"ProbeV4 holding", state::ProbeV4{true, 10'000, ""}},
        {"ProbeV4 native", state::ProbeV4{false, 0, kNativeV4}},
        {"DiscoverPLAT", discover},
        {"Provision resolving", active_with(resolving)},
        {"Provision probing DAD", active_with(provision_at(PStep::ProbingDad))},
        {"Provision applying", active_with(provision_at(PStep::Applying))},
        {"Provision script-up", active_with(provision_at(PStep::ScriptUp))},
        {"Provision retry wait", active_with(provision_at(PStep::RetryWait))},
        {"Running", active_with(running())},
        {"Running restart wait", active_with(restart_wait)},
        {"Running reconciling", active_with(reconciling)},
        {"Running reconcile wait", active_with(reconcile_wait)},
        {"Failed", active_with(failed())},
        {"Teardown stopping data path", teardown_at(TStep::StoppingDataPath)},
        {"Teardown script-down", teardown_at(TStep::ScriptDown)},
        {"Teardown", teardown_at(TStep::Undoing)},
        {"Teardown exiting", teardown_at(TStep::Undoing, true)},
        {"Stopped", state::Stopped{0}},
    };
}

inline State state_named(const std::string& label) {
    for (auto& [name, state] : all_states()) {
        if (name == label)
            return state;
    }
    FAIL("no state labelled " << label);
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

/// A machine with the facts the agent would hand it, the observed state they point at, and
/// a fake clock.
struct World {
    MachineFacts facts = default_facts();
    Observed observed;
    Machine machine;
    Transition last{state::Idle{}, {}, {}};

    World() { facts.observed = &observed; }
    /// A machine in `state` that has seen default_facts() last.
    explicit World(State state) : machine(Machine::in_state(std::move(state), facts)) {
        facts.observed = &observed;
    }
    World(const World&) = delete;
    World& operator=(const World&) = delete;

    Transition send(const Event& event) {
        facts.observed = &observed;
        last = machine.dispatch(event, facts);
        return last;
    }
    /// A snapshot: the facts changed (or were refreshed).
    Transition facts_changed() { return send(event::FactsChanged{}); }
    void at(std::int64_t now_ms) { facts.now_ms = now_ms; }
    std::string name() const { return std::string(state_name(machine.state())); }
    MachineStatus status() const { return machine.status(); }
    const state::Active* active() const { return std::get_if<state::Active>(&machine.state()); }
    const state::Provision* provision() const {
        return active() ? std::get_if<state::Provision>(&active()->phase) : nullptr;
    }
    const state::Running* running_state() const {
        return active() ? std::get_if<state::Running>(&active()->phase) : nullptr;
    }
    /// The run of the data path the machine supervises; 0 when none.
    std::uint64_t run() const {
        const state::Running* r = running_state();
        return r && r->translator.pid ? static_cast<std::uint64_t>(*r->translator.pid) : 0;
    }
    /// Answers a provisioning in Applying: the plan applied and script-up succeeded.
    void provisioned() {
        send(event::PlanApplied{3});
        send(event::ScriptFinished{ScriptKind::Up, true, ""});
    }

    // ---- the derived-address world ---------------------------------------------------
    /// Derived CLAT address with DAD, the PLAT device from the route lookup: eth0 (index 2)
    /// holds 2001:db8:1::2/64 and the lookup towards the prefix the machine holds says eth0.
    void use_derived() {
        facts.settings.binding = BindingSettings{};
        observed.links[2] = Link{2, "eth0", "veth", true, true, 1500};
        host_address("2001:db8:1::2");
    }
    void host_address(const char* address) {
        observed.addresses_v6.push_back(AddressV6{2, v6(address), 64, false, false, false, false});
    }
    void remove_address(const Ipv6Address& address) {
        std::erase_if(observed.addresses_v6, [&](const auto& a) { return a.address == address; });
    }
    /// Fills in the route lookup for the prefix the machine holds now (RefreshFacts).
    void lookup() {
        if (auto held = held_prefix(machine.state()))
            facts.plat_route = PlatRoute{*held, "eth0", v6("2001:db8:1::2"), ""};
    }
    /// The DAD prober's report for address: it passed, or another node holds it.
    Transition dad_done(const Ipv6Address& address, bool duplicate) {
        return send(event::DadProbeFinished{
            address, duplicate,
            duplicate ? "neighbour advertisement from fe80::99" : "1 solicitations unanswered"});
    }
    /// The address the last ProbeDad effect probes.
    std::optional<Ipv6Address> probed() const {
        for (const auto& e : last.effects) {
            if (const auto* p = std::get_if<effect::ProbeDad>(&e))
                return p->address;
        }
        return std::nullopt;
    }
};

}  // namespace clat::test
