#include "states/machine.hpp"

#include <algorithm>
#include <utility>

#include "states/machine_detail.hpp"

namespace clat {

using detail::Overloaded;

namespace detail {

Transition ignore(const State& state) {
    return Transition{state, {}, {}};
}

std::vector<Effect> run_script(ScriptKind kind, const ClatTarget& target,
                               const MachineFacts& facts) {
    std::vector<Effect> effects{effect::RunScript{kind, target}};
    if (facts.settings.script_timeout_ms > 0)
        effects.emplace_back(
            effect::StartTimer{Timer::ScriptTimeout, facts.settings.script_timeout_ms});
    return effects;
}

std::string timed_out_text(std::int64_t timeout_ms) {
    return "timed out after " + duration_text(timeout_ms);
}

std::string script_failure(const event::ScriptFinished& e, const std::string& killed) {
    return "script-" + std::string(to_string(e.kind)) + " " + (killed.empty() ? e.detail : killed);
}

std::string stop_cause(const event::StopRequested& stop) {
    return stop.origin.empty() ? "stop requested" : "stop requested (" + stop.origin + ")";
}

Transition with_phase(const state::Active& active, state::ActivePhase phase,
                      std::vector<Effect> effects, std::string cause) {
    state::Active next = active;
    next.phase = std::move(phase);
    return Transition{std::move(next), std::move(effects), std::move(cause)};
}

std::vector<Timer> running_timers(const State& state) {
    if (std::holds_alternative<state::ProbeV4>(state))
        return {Timer::HoldDown};
    const auto* active = std::get_if<state::Active>(&state);
    if (active == nullptr)
        return {};
    if (const auto* p = std::get_if<state::Provision>(&active->phase)) {
        std::vector<Timer> timers;
        if (p->step == state::Provision::Step::RetryWait)
            timers.push_back(Timer::ProvisionRetry);
        if (p->step == state::Provision::Step::ProbingDad || p->dad.probing)
            timers.push_back(Timer::DadTimeout);
        if (p->step == state::Provision::Step::ScriptUp)
            timers.push_back(Timer::ScriptTimeout);
        return timers;
    }
    std::vector<Timer> timers;
    if (const auto* r = std::get_if<state::Running>(&active->phase)) {
        if (r->translator.phase == TranslatorSupervision::Phase::WaitingRestart)
            timers.push_back(Timer::TranslatorRestart);
        if (r->reconcile.step == state::Reconcile::Step::RetryWait)
            timers.push_back(Timer::ReconcileRetry);
        if (r->reconcile.step == state::Reconcile::Step::ProbingDad || r->dad.probing)
            timers.push_back(Timer::DadTimeout);
    }
    if (const auto* f = std::get_if<state::Failed>(&active->phase); f && f->dad.probing)
        timers.push_back(Timer::DadTimeout);
    return timers;
}

namespace {

Transition enter_probe(const MachineFacts& facts, std::string cause) {
    const std::int64_t delay = facts.settings.v4_conncheck_delay_ms;
    state::ProbeV4 probe{true, facts.now_ms + delay, facts.native_ipv4};
    return Transition{probe, {effect::StartTimer{Timer::HoldDown, delay}}, std::move(cause)};
}

/// Where to go once the uplink is usable: ProbeV4 if native IPv4 matters, else Active.
Transition enter_after_uplink(const MachineFacts& facts, std::string cause) {
    if (facts.settings.probe_v4())
        return enter_probe(facts, std::move(cause));
    return enter_active(facts, std::move(cause));
}

Transition on_idle(const state::Idle& idle, const Event& event, const MachineFacts& facts) {
    if (const auto* e = std::get_if<event::UplinkChanged>(&event); e && e->usable)
        return enter_after_uplink(facts, "uplink usable");
    if (const auto* e = std::get_if<event::StopRequested>(&event))
        return begin_teardown(idle, true, false, stop_cause(*e));
    return ignore(idle);
}

Transition on_probe_v4(const state::ProbeV4& probe, const Event& event, const MachineFacts& facts) {
    const bool probing = facts.settings.probe_v4();
    return std::visit(
        Overloaded{
            [&](const event::UplinkChanged& e) {
                if (!e.usable)
                    return Transition{
                        state::Idle{}, {effect::CancelTimer{Timer::HoldDown}}, "uplink lost"};
                return enter_probe(facts, "uplink changed, hold-down restarted");
            },
            [&](const event::NativeIpv4Changed& e) {
                if (!probing)
                    return ignore(probe);
                return enter_probe(
                    facts, e.present ? e.description + " appeared" : "native IPv4 went away");
            },
            [&](const event::TimerExpired& e) {
                if (e.timer != Timer::HoldDown || !probe.holding ||
                    facts.now_ms < probe.hold_down_until_ms)
                    return ignore(probe);  // a stale expiry of a restarted hold-down
                if (probing && !facts.native_ipv4.empty())
                    return Transition{
                        state::ProbeV4{false, 0, facts.native_ipv4}, {}, facts.native_ipv4};
                return enter_active(facts, "no native IPv4");
            },
            [&](const event::ConfigReloaded& e) {
                if (!probing) {
                    Transition t = enter_active(facts, "IPv4 check disabled by reload");
                    t.effects.insert(t.effects.begin(), effect::CancelTimer{Timer::HoldDown});
                    return t;
                }
                if (!e.diff.any())
                    return ignore(probe);
                return enter_probe(facts, "configuration reloaded, hold-down restarted");
            },
            [&](const event::StopRequested& e) {
                return begin_teardown(probe, true, false, stop_cause(e));
            },
            [&](const auto&) { return ignore(probe); },
        },
        event);
}

/// After teardown: start over from what holds now.
Transition resume(const state::Teardown& teardown, const MachineFacts& facts) {
    if (!facts.uplink_usable)
        return Transition{state::Idle{}, {}, "teardown done, no usable uplink"};
    if (teardown.rediscover)
        return enter_active(facts, "teardown done, rediscovering PLAT");
    return enter_after_uplink(facts, "teardown done, uplink usable");
}

Transition teardown_step(state::Teardown next, state::Teardown::Step step,
                         std::vector<Effect> effects, std::string cause) {
    next.step = step;
    return Transition{std::move(next), std::move(effects), std::move(cause)};
}

/// A stop request while tearing down. The first one makes the teardown end in an exit; a
/// repeated one (the operator insists) kills a running script-down at once, as its timeout
/// would, so that the teardown goes on to undo everything and exit.
Transition teardown_stop(const state::Teardown& teardown, const event::StopRequested& e) {
    state::Teardown next = teardown;
    if (!teardown.exit_after) {
        next.exit_after = true;
        return Transition{next, {}, "stop requested during teardown"};
    }
    if (teardown.step != state::Teardown::Step::ScriptDown || !teardown.script_killed.empty())
        return ignore(teardown);  // idempotent: the teardown already running suffices
    next.script_killed = "killed by a second stop request";
    return notable(Transition{next,
                              {effect::CancelTimer{Timer::ScriptTimeout}, effect::CancelScript{}},
                              stop_cause(e) + " again, killing script-down"});
}

Transition on_teardown(const state::Teardown& teardown, const Event& event,
                       const MachineFacts& facts) {
    using Step = state::Teardown::Step;
    if (const auto* e = std::get_if<event::StopRequested>(&event))
        return teardown_stop(teardown, *e);
    if (std::holds_alternative<event::DataPathStopped>(event) &&
        teardown.step == Step::StoppingDataPath) {
        if (teardown.target) {
            state::Teardown next = teardown;
            next.script_timeout_ms = facts.settings.script_timeout_ms;
            return teardown_step(next, Step::ScriptDown,
                                 run_script(ScriptKind::Down, *teardown.target, facts),
                                 "data path stopped, running script-down");
        }
        return teardown_step(teardown, Step::Undoing, {effect::UndoAll{}},
                             "data path stopped, undoing");
    }
    if (const auto* e = std::get_if<event::TimerExpired>(&event);
        e && e->timer == Timer::ScriptTimeout && teardown.step == Step::ScriptDown &&
        teardown.script_killed.empty()) {
        state::Teardown next = teardown;
        next.script_killed = timed_out_text(teardown.script_timeout_ms);
        return notable(Transition{
            next, {effect::CancelScript{}}, "script-down " + next.script_killed + ", killing it"});
    }
    if (const auto* e = std::get_if<event::ScriptFinished>(&event);
        e && e->kind == ScriptKind::Down && teardown.step == Step::ScriptDown) {
        state::Teardown next = teardown;
        next.script_killed.clear();
        // Judged by how it ended: a script that exited 0 just as it was being killed did
        // its work.
        const std::string failure = e->success ? "" : script_failure(*e, teardown.script_killed);
        if (!failure.empty() && !next.error)
            next.error = failure;
        return teardown_step(next, Step::Undoing,
                             {effect::CancelTimer{Timer::ScriptTimeout}, effect::UndoAll{}},
                             e->success ? "script-down done, undoing" : failure + ", undoing");
    }
    if (const auto* e = std::get_if<event::Undone>(&event); e && teardown.step == Step::Undoing) {
        const auto error = teardown.error ? teardown.error : e->error;
        if (!teardown.exit_after)
            return resume(teardown, facts);
        const int code = error ? 1 : 0;
        return Transition{state::Stopped{code},
                          {effect::Exit{code}},
                          error ? "teardown done with error: " + *error : "teardown done"};
    }
    return ignore(teardown);
}

std::string provision_reason(const state::Provision& p) {
    if (p.failures == 0)
        return {};
    if (p.in_flight())
        return "retrying provisioning after: " + p.last_error;
    return "provisioning failed: " + p.last_error + "; retrying in " +
           duration_text(provision_retry_delay_ms(p.failures));
}

std::string running_reason(const state::Running& r) {
    std::string reason = describe(r.translator);
    if (r.reconcile.step == state::Reconcile::Step::RetryWait) {
        std::string rec = "reconcile failed: " + r.reconcile.last_error + "; retrying in " +
                          duration_text(provision_retry_delay_ms(r.reconcile.failures));
        reason = reason.empty() ? rec : reason + "; " + rec;
    }
    return reason;
}

}  // namespace

Transition enter_active(const MachineFacts& facts, std::string cause) {
    const MachineSettings& s = facts.settings;
    state::Active active;
    active.discovering = !s.plat_prefix;
    if (s.pref64_enable)
        active.candidates.pref64 = facts.pref64;
    std::vector<Effect> effects;
    if (active.discovering) {
        effect::StartDiscovery start;
        if (s.pref64_enable && !facts.pref64 && !facts.uplink_dev.empty())
            start.solicit = facts.uplink_dev;
        effects.emplace_back(start);
    }
    const auto selected = select_prefix(s.plat_prefix, active.candidates.pref64,
                                        active.candidates.dns64, s.plat_fallback_prefix);
    if (selected) {
        active.phase = state::DiscoverPlat{};
        Transition t = start_provision(active, *selected, facts,
                                       cause + ", PLAT prefix " + selected->to_string());
        effects.insert(effects.end(), t.effects.begin(), t.effects.end());
        return Transition{std::move(t.next), std::move(effects), std::move(t.cause)};
    }
    active.phase = state::DiscoverPlat{
        why_no_prefix(active.candidates, s.pref64_enable, s.plat_fallback_prefix.has_value())};
    return Transition{active, std::move(effects), std::move(cause)};
}

Transition begin_teardown(const State& from, bool exit_after, bool rediscover, std::string cause) {
    using Step = state::Teardown::Step;
    std::vector<Effect> effects;
    for (Timer timer : running_timers(from))
        effects.emplace_back(effect::CancelTimer{timer});
    state::Teardown next;
    next.exit_after = exit_after;
    next.rediscover = rediscover;
    next.cause = cause;
    bool data_path = false;
    if (const auto* active = std::get_if<state::Active>(&from)) {
        if (active->discovering)
            effects.emplace_back(effect::StopDiscovery{});
        if (const auto* p = std::get_if<state::Provision>(&active->phase);
            p && p->step == state::Provision::Step::ScriptUp)
            effects.emplace_back(effect::CancelScript{});
        if (const auto* r = std::get_if<state::Running>(&active->phase)) {
            next.target = ClatTarget{r->plat, r->binding};
            data_path = true;
        }
        if (const auto* f = std::get_if<state::Failed>(&active->phase)) {
            next.target = ClatTarget{f->plat, f->binding};
            data_path = true;
        }
    }
    if (data_path) {
        next.step = Step::StoppingDataPath;
        effects.emplace_back(effect::StopDataPath{});
    } else {
        effects.emplace_back(effect::UndoAll{});
    }
    return Transition{std::move(next), std::move(effects), std::move(cause)};
}

/// A PREF64 heard or lost while no PLAT prefix is wanted (Idle, ProbeV4, Teardown) changes
/// nothing, but is worth a line: it is used as soon as the machine becomes Active.
Transition note_pref64(Transition t, const Event& event, const MachineFacts& facts) {
    if (!facts.settings.pref64_enable)
        return t;
    if (const auto* e = std::get_if<event::PlatDiscovered>(&event);
        e && e->source == PlatSource::Pref64) {
        t.cause = "pref64 prefix=" + e->prefix.to_string();
        if (e->expires_at_ms)
            t.cause +=
                " lifetime=" + std::to_string((*e->expires_at_ms - facts.now_ms) / 1000) + "s";
        t.cause += ", kept for later";
        t.notable = true;
    }
    if (const auto* e = std::get_if<event::PlatLost>(&event);
        e && e->source == PlatSource::Pref64) {
        t.cause = "pref64 withdrawn or expired";
        t.notable = true;
    }
    return t;
}

}  // namespace detail

std::int64_t provision_retry_delay_ms(int failures) {
    std::int64_t delay = kRestartInitialDelayMs;
    for (int i = 1; i < failures && delay < kRestartMaxDelayMs; ++i)
        delay *= 2;
    return std::min(delay, kRestartMaxDelayMs);
}

std::string_view state_name(const State& state) {
    return std::visit(
        Overloaded{
            [](const state::Idle&) { return std::string_view("Idle"); },
            [](const state::ProbeV4&) { return std::string_view("ProbeV4"); },
            [](const state::Active& a) {
                return std::visit(
                    Overloaded{
                        [](const state::DiscoverPlat&) { return std::string_view("DiscoverPLAT"); },
                        [](const state::Provision&) { return std::string_view("Provision"); },
                        [](const state::Running&) { return std::string_view("Running"); },
                        [](const state::Failed&) { return std::string_view("Failed"); },
                    },
                    a.phase);
            },
            [](const state::Teardown&) { return std::string_view("Teardown"); },
            [](const state::Stopped&) { return std::string_view("Stopped"); },
        },
        state);
}

MachineStatus status_of(const State& state) {
    MachineStatus status;
    status.state = std::string(state_name(state));
    std::visit(
        Overloaded{
            [&](const state::Idle&) { status.reason = "no usable IPv6 uplink"; },
            [&](const state::ProbeV4& p) {
                status.reason =
                    !p.native_ipv4.empty()
                        ? p.native_ipv4
                        : "waiting for the network to settle before checking for native IPv4";
            },
            [&](const state::Active& a) {
                std::visit(Overloaded{
                               [&](const state::DiscoverPlat& d) { status.reason = d.reason; },
                               [&](const state::Provision& p) {
                                   status.reason = detail::provision_reason(p);
                                   status.plat = p.plat;
                                   status.binding = p.binding;
                                   status.last_error = p.last_error;
                               },
                               [&](const state::Running& r) {
                                   status.reason = detail::running_reason(r);
                                   status.plat = r.plat;
                                   status.binding = r.binding;
                                   status.translator_restarts = r.translator.restarts;
                                   status.last_error = r.reconcile.last_error;
                               },
                               [&](const state::Failed& f) {
                                   status.reason = f.reason;
                                   status.plat = f.plat;
                                   status.binding = f.binding;
                                   status.translator_restarts = f.translator.restarts;
                                   status.last_error = f.translator.last_exit;
                               },
                           },
                           a.phase);
            },
            [&](const state::Teardown& t) { status.reason = t.cause; },
            [&](const state::Stopped&) {},
        },
        state);
    return status;
}

std::optional<Ipv6Prefix> held_prefix(const State& state) {
    if (auto plat = status_of(state).plat)
        return plat->prefix;
    return std::nullopt;
}

Transition on(const State& state, const Event& event, const MachineFacts& facts) {
    Transition t = std::visit(
        Overloaded{
            [&](const state::Idle& s) { return detail::on_idle(s, event, facts); },
            [&](const state::ProbeV4& s) { return detail::on_probe_v4(s, event, facts); },
            [&](const state::Active& s) { return detail::on_active(s, event, facts); },
            [&](const state::Teardown& s) { return detail::on_teardown(s, event, facts); },
            [&](const state::Stopped& s) { return detail::ignore(s); },
        },
        state);
    if (t.ignored())
        t = detail::note_pref64(t, event, facts);
    if (status_of(t.next) != status_of(state))
        t.effects.insert(t.effects.begin(), effect::PublishStatus{});
    return t;
}

std::vector<Event> fact_edges(const MachineFacts& before, const MachineFacts& after) {
    std::vector<Event> edges;
    if (before.uplink_usable != after.uplink_usable || before.uplink_dev != after.uplink_dev)
        edges.emplace_back(event::UplinkChanged{after.uplink_usable});
    if (before.native_ipv4 != after.native_ipv4)
        edges.emplace_back(event::NativeIpv4Changed{!after.native_ipv4.empty(), after.native_ipv4});
    if (before.pref64 != after.pref64) {
        if (after.pref64) {
            edges.emplace_back(event::PlatDiscovered{PlatSource::Pref64, after.pref64->prefix,
                                                     after.pref64->expires_at_ms});
        } else {
            edges.emplace_back(event::PlatLost{PlatSource::Pref64, "PREF64 withdrawn or expired"});
        }
    }
    return edges;
}

Machine Machine::in_state(State state, const MachineFacts& seen) {
    Machine machine;
    machine.state_ = std::move(state);
    machine.seen_ = seen;
    machine.seen_.observed = nullptr;
    return machine;
}

Transition Machine::dispatch(const Event& event, const MachineFacts& facts) {
    if (!std::holds_alternative<event::FactsChanged>(event)) {
        Transition t = on(state_, event, facts);
        state_ = t.next;
        return t;
    }
    std::vector<Event> steps = fact_edges(seen_, facts);
    steps.emplace_back(event);
    seen_ = facts;
    seen_.observed = nullptr;  // only the derived facts are compared later
    Transition folded{state_, {}, {}, false};
    for (const auto& step : steps) {
        Transition t = on(state_, step, facts);
        state_ = t.next;
        folded.effects.insert(folded.effects.end(), t.effects.begin(), t.effects.end());
        if (!t.cause.empty())
            folded.cause += (folded.cause.empty() ? "" : "; ") + t.cause;
        folded.notable = folded.notable || t.notable;
    }
    folded.next = state_;
    return folded;
}

}  // namespace clat
