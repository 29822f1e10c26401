/// The Active parent and its sub-states DiscoverPLAT, Provision, Running and Failed. The
/// parent handles every event first; only what is specific to one sub-state (provisioning
/// results, the translator's life, timers) reaches the sub-state handlers.

#include <utility>

#include "states/machine.hpp"
#include "states/machine_detail.hpp"

namespace clat::detail {

namespace {

using Phase = TranslatorSupervision::Phase;

Transition with_phase(const state::Active& active, state::ActivePhase phase,
                      std::vector<Effect> effects, std::string cause) {
    state::Active next = active;
    next.phase = std::move(phase);
    return Transition{std::move(next), std::move(effects), std::move(cause)};
}

std::optional<PlatChoice> selection(const state::Active& active, const MachineFacts& facts) {
    const MachineSettings& s = facts.settings;
    const auto pref64 = s.pref64_enable ? active.candidates.pref64 : std::nullopt;
    return select_prefix(s.plat_prefix, pref64, active.candidates.dns64, s.plat_fallback_prefix);
}

/// Back to Running after Failed, with a fresh back-off; the effects that follow must
/// include StartTranslator.
state::Running revive(const state::Failed& failed, const PlatChoice& plat) {
    state::Running running{plat, retry_after_failure(failed.translator)};
    record_restart(running.translator);
    return running;
}

/// Discovery or the settings changed: move to the prefix now selected. `force` reconciles
/// even when the prefix stayed the same (the configuration changed).
Transition reselect(const state::Active& active, const MachineFacts& facts,
                    std::vector<Effect> effects, const std::string& cause, bool force) {
    const auto sel = selection(active, facts);
    if (!sel && !std::holds_alternative<state::DiscoverPlat>(active.phase))
        return begin_teardown(active, false, true, cause + ", no PLAT prefix left");
    const bool changed = [&] {
        if (const auto* p = std::get_if<state::Provision>(&active.phase))
            return sel->prefix != p->plat.prefix;
        if (const auto* r = std::get_if<state::Running>(&active.phase))
            return sel->prefix != r->plat.prefix;
        if (const auto* f = std::get_if<state::Failed>(&active.phase))
            return sel->prefix != f->plat.prefix;
        return true;
    }();
    auto phase = std::visit(
        Overloaded{
            [&](const state::DiscoverPlat&) -> state::ActivePhase {
                const MachineSettings& s = facts.settings;
                if (!sel)
                    return state::DiscoverPlat{why_no_prefix(active.candidates, s.pref64_enable,
                                                             s.plat_fallback_prefix.has_value())};
                effects.emplace_back(effect::Provision{*sel});
                return provisioning(*sel);
            },
            [&](const state::Provision& p) -> state::ActivePhase {
                state::Provision next = p;
                next.plat = *sel;
                next.dirty = p.dirty || (p.in_flight && (force || changed));
                return next;
            },
            [&](const state::Running& r) -> state::ActivePhase {
                if (force || changed)
                    effects.emplace_back(effect::Reconcile{*sel});
                return state::Running{*sel, r.translator};
            },
            [&](const state::Failed& f) -> state::ActivePhase {
                if (!force && !changed)
                    return state::Failed{*sel, f.translator, f.reason};
                effects.emplace_back(effect::Reconcile{*sel});
                effects.emplace_back(effect::StartTranslator{});
                return revive(f, *sel);
            },
        },
        active.phase);
    std::string full_cause = cause;
    if (sel && changed)
        full_cause += ", PLAT prefix " + sel->to_string();
    return with_phase(active, std::move(phase), std::move(effects), full_cause);
}

Transition on_plat_discovered(const state::Active& active, const event::PlatDiscovered& e,
                              const MachineFacts& facts) {
    if (e.source == PlatSource::Pref64 && !facts.settings.pref64_enable)
        return ignore(active);
    state::Active next = active;
    record_found(next.candidates, PlatChoice{e.prefix, e.source, e.expires_at_ms});
    return reselect(next, facts, {}, std::string(to_string(e.source)) + " reported a prefix",
                    false);
}

Transition on_plat_lost(const state::Active& active, const event::PlatLost& e,
                        const MachineFacts& facts) {
    state::Active next = active;
    record_lost(next.candidates, e.source, e.detail);
    const std::string detail =
        e.detail.empty() ? std::string(to_string(e.source)) + " has no prefix" : e.detail;
    return reselect(next, facts, {}, detail, false);
}

Transition on_reload(const state::Active& active, const event::ConfigReloaded& e,
                     const MachineFacts& facts) {
    if (facts.settings.probe_v4() && !facts.native_ipv4.empty())
        return begin_teardown(active, false, false,
                              "configuration reloaded, " + facts.native_ipv4 + " present");
    state::Active next = active;
    std::vector<Effect> effects;
    next.discovering = !facts.settings.plat_prefix;
    if (next.discovering && !active.discovering)
        effects.emplace_back(effect::StartDiscovery{});
    if (!next.discovering && active.discovering)
        effects.emplace_back(effect::StopDiscovery{});
    if (e.affects_clat)
        return reselect(next, facts, std::move(effects), "configuration reloaded", true);
    if (const auto* failed = std::get_if<state::Failed>(&active.phase)) {
        effects.emplace_back(effect::StartTranslator{});
        return with_phase(next, revive(*failed, failed->plat), std::move(effects),
                          "configuration reloaded, retrying the translator");
    }
    return Transition{next, std::move(effects), "configuration reloaded, CLAT unaffected"};
}

Transition on_rediscover(const state::Active& active) {
    std::vector<Effect> effects;
    if (active.discovering)
        effects.emplace_back(effect::StartDiscovery{});
    std::string cause = active.discovering ? "rediscovery requested"
                                           : "rediscovery requested, plat-prefix is configured";
    if (const auto* failed = std::get_if<state::Failed>(&active.phase)) {
        effects.emplace_back(effect::StartTranslator{});
        return with_phase(active, revive(*failed, failed->plat), std::move(effects),
                          cause + ", retrying the translator");
    }
    return Transition{active, std::move(effects), std::move(cause)};
}

/// Something the desired kernel state depends on changed. An uplink change also restarts
/// discovery and lets the translator out of Failed.
Transition on_change(const state::Active& active, const std::string& cause, bool uplink) {
    return std::visit(
        Overloaded{
            [&](const state::DiscoverPlat&) {
                if (!uplink || !active.discovering)
                    return ignore(active);
                return Transition{active, {effect::StartDiscovery{}}, cause};
            },
            [&](const state::Provision& p) {
                if (!p.in_flight || p.dirty)
                    return ignore(active);  // the next attempt plans from scratch anyway
                state::Provision next = p;
                next.dirty = true;
                return with_phase(active, next, {}, cause + ", reconcile once provisioned");
            },
            [&](const state::Running& r) {
                return Transition{active, {effect::Reconcile{r.plat}}, cause};
            },
            [&](const state::Failed& f) {
                if (!uplink)
                    return Transition{active, {effect::Reconcile{f.plat}}, cause};
                return with_phase(active, revive(f, f.plat),
                                  {effect::Reconcile{f.plat}, effect::StartTranslator{}},
                                  cause + ", retrying the translator");
            },
        },
        active.phase);
}

Transition on_provision(const state::Active& active, const state::Provision& p, const Event& event,
                        const MachineFacts& facts) {
    if (std::holds_alternative<event::ProvisionSucceeded>(event) && p.in_flight) {
        std::vector<Effect> effects;
        if (p.dirty)
            effects.emplace_back(effect::Reconcile{p.plat});
        effects.emplace_back(effect::StartTranslator{});
        return with_phase(active, state::Running{p.plat, {}}, std::move(effects), "converged");
    }
    if (const auto* e = std::get_if<event::ProvisionFailed>(&event); e && p.in_flight) {
        state::Provision next = p;
        next.in_flight = false;
        next.dirty = false;
        next.failures = p.failures + 1;
        next.last_error = e->error;
        const std::int64_t delay = provision_retry_delay_ms(next.failures);
        next.retry_at_ms = facts.now_ms + delay;
        return with_phase(active, next, {effect::StartTimer{Timer::ProvisionRetry, delay}},
                          "provisioning failed: " + e->error);
    }
    if (const auto* e = std::get_if<event::TimerExpired>(&event);
        e && e->timer == Timer::ProvisionRetry && !p.in_flight && facts.now_ms >= p.retry_at_ms) {
        state::Provision next = p;
        next.in_flight = true;
        return with_phase(active, next, {effect::Provision{p.plat}},
                          "retrying provisioning, attempt " + std::to_string(p.failures + 1));
    }
    return ignore(active);
}

Transition on_translator_exit(const state::Active& active, const state::Running& r,
                              const event::TranslatorExited& e, const MachineFacts& facts) {
    if (!exit_is_current(r.translator, e.pid))
        return ignore(active);  // a report about an older child
    state::Running next = r;
    const SupervisionPolicy policy = facts.settings.translator_policy();
    const ExitDecision decision = record_exit(next.translator, e.status, facts.now_ms, policy);
    if (decision.give_up) {
        std::string reason = "translator failed " + std::to_string(policy.fast_failure_limit) +
                             " times within " + duration_text(policy.failure_window_ms) +
                             ", last " + e.status +
                             "; waiting for reload, rediscover or an uplink change";
        return with_phase(active, state::Failed{r.plat, next.translator, reason}, {},
                          "translator gave up: " + e.status);
    }
    return with_phase(
        active, next, {effect::StartTimer{Timer::TranslatorRestart, decision.delay_ms}},
        "translator " + e.status + ", restart in " + duration_text(decision.delay_ms));
}

Transition on_running(const state::Active& active, const state::Running& r, const Event& event,
                      const MachineFacts& facts) {
    if (const auto* e = std::get_if<event::TranslatorStarted>(&event);
        e && r.translator.phase == Phase::Starting) {
        state::Running next = r;
        record_started(next.translator, e->pid, facts.now_ms);
        return with_phase(active, next, {}, "translator started pid=" + std::to_string(e->pid));
    }
    // A reconcile that changed the prefix or the CLAT address replaced a healthy translator
    // with one for the new mapping: follow the new child; it is not a failure.
    if (const auto* e = std::get_if<event::TranslatorStarted>(&event);
        e && r.translator.phase == Phase::Up && r.translator.pid != e->pid) {
        state::Running next = r;
        record_started(next.translator, e->pid, facts.now_ms);
        return with_phase(active, next, {}, "translator replaced pid=" + std::to_string(e->pid));
    }
    if (const auto* e = std::get_if<event::TranslatorExited>(&event))
        return on_translator_exit(active, r, *e, facts);
    if (const auto* e = std::get_if<event::TimerExpired>(&event);
        e && e->timer == Timer::TranslatorRestart && r.translator.phase == Phase::WaitingRestart &&
        facts.now_ms >= r.translator.restart_at_ms) {
        state::Running next = r;
        record_restart(next.translator);
        return with_phase(
            active, next, {effect::StartTranslator{}},
            "restarting translator, restart " + std::to_string(next.translator.restarts));
    }
    return ignore(active);
}

/// Events only a sub-state knows what to do with.
Transition on_phase_event(const state::Active& active, const Event& event,
                          const MachineFacts& facts) {
    if (const auto* p = std::get_if<state::Provision>(&active.phase))
        return on_provision(active, *p, event, facts);
    if (const auto* r = std::get_if<state::Running>(&active.phase))
        return on_running(active, *r, event, facts);
    return ignore(active);  // DiscoverPLAT and Failed have no provisioning or translator
}

}  // namespace

Transition on_active(const state::Active& active, const Event& event, const MachineFacts& facts) {
    const bool probing = facts.settings.probe_v4();
    return std::visit(
        Overloaded{
            [&](const event::StopRequested& e) {
                return begin_teardown(active, true, false, stop_cause(e));
            },
            [&](const event::UplinkChanged& e) {
                if (!e.usable)
                    return begin_teardown(active, false, false, "uplink lost");
                return on_change(active, "uplink changed", true);
            },
            [&](const event::NativeIpv4Changed& e) {
                if (!probing || !e.present)
                    return ignore(active);
                return begin_teardown(active, false, false, e.description + " appeared");
            },
            [&](const event::ConfigReloaded& e) { return on_reload(active, e, facts); },
            [&](const event::RediscoverRequested&) { return on_rediscover(active); },
            [&](const event::PlatDiscovered& e) { return on_plat_discovered(active, e, facts); },
            [&](const event::PlatLost& e) { return on_plat_lost(active, e, facts); },
            [&](const event::ReconcileNeeded& e) {
                return on_change(active, e.what.empty() ? "observed state changed" : e.what, false);
            },
            [&](const event::ClatAddressChanged& e) {
                return on_change(active, "CLAT address now " + e.address.to_string(), false);
            },
            [&](const event::DadFailed& e) {
                return on_change(active, "DAD failed for " + e.address.to_string(), false);
            },
            [&](const event::TeardownDone&) { return ignore(active); },
            [&](const auto&) { return on_phase_event(active, event, facts); },
        },
        event);
}

}  // namespace clat::detail
