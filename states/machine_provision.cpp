/// Provision, Running and Failed: the binding (PLAT device and CLAT address), DAD with retry on
/// conflict, plans, script-up, and the data path's life. Each step is an effect answered by a
/// past-tense event; facts arrive as event::FactsChanged.

#include <utility>
#include <variant>

#include "states/machine.hpp"
#include "states/machine_detail.hpp"
#include "states/observation.hpp"

namespace clat::detail {

namespace {

/// The CLAT device's interface index in the facts; 0 when it is missing or not observed.
int clat_device_index(const MachineFacts& facts) {
    if (facts.observed == nullptr)
        return 0;
    const Link* link = facts.observed->link_by_name(facts.settings.binding.clat_dev);
    return link != nullptr ? link->index : 0;
}

using PStep = state::Provision::Step;
using RStep = state::Reconcile::Step;
using Phase = TranslatorSupervision::Phase;

const Observed& observed_of(const MachineFacts& facts) {
    static const Observed kNothing;
    return facts.observed != nullptr ? *facts.observed : kNothing;
}

/// The snapshot does not carry a route lookup towards this prefix yet.
bool needs_lookup(const MachineFacts& facts, const Ipv6Prefix& prefix) {
    // The shared address is the lookup's source: needed even with plat-dev set.
    if (facts.settings.binding.plat_dev &&
        !std::holds_alternative<ClatV6Shared>(facts.settings.binding.clat_v6))
        return false;
    return !facts.plat_route || facts.plat_route->prefix != prefix;
}

/// What a DAD conflict means for the next try: nullopt = try another address, else the error.
std::optional<std::string> after_conflict(const MachineFacts& facts, const Ipv6Address& address,
                                          int conflicts) {
    if (conflicts >= kDadAttempts)
        return "DAD failed for " + std::to_string(conflicts) + " addresses";
    if (!std::holds_alternative<ClatV6Derived>(facts.settings.binding.clat_v6))
        return "the configured clat-v6-addr " + address.to_string() + " is in use by another node";
    return std::nullopt;
}

std::vector<Effect> probe_effects(const Binding& b) {
    return {effect::ProbeDad{b.plat_dev, b.clat_v6},
            effect::StartTimer{Timer::DadTimeout, kDadTimeoutMs}};
}

std::vector<Effect> end_probe() {
    return {effect::CancelTimer{Timer::DadTimeout}, effect::EndDadProbe{}};
}

/// The binding's address is being probed while in use already.
bool probing_for(const DadMemory& dad, const Binding& binding) {
    return dad.probing && dad.probing->clat_v6 == binding.clat_v6 &&
           dad.probing->plat_dev == binding.plat_dev;
}

/// Starts optimistic DAD of the binding (RFC 4429) unless it runs already; the binding is
/// applied meanwhile.
void probe_in_use(DadMemory& dad, const Binding& binding, std::vector<Effect>& effects) {
    if (probing_for(dad, binding))
        return;
    dad.probing = binding;
    for (auto& e : probe_effects(binding))
        effects.push_back(std::move(e));
}

// ---- Provision -------------------------------------------------------------------------

Transition provision_failed(const state::Active& active, const state::Provision& p,
                            std::vector<Effect> effects, const std::string& error,
                            const MachineFacts& facts) {
    state::Provision next = p;
    next.step = PStep::RetryWait;
    next.dirty = false;
    next.refresh_requested = false;
    next.failures = p.failures + 1;
    next.last_error = error;
    const std::int64_t delay = provision_retry_delay_ms(next.failures);
    next.retry_at_ms = facts.now_ms + delay;
    effects.emplace_back(effect::StartTimer{Timer::ProvisionRetry, delay});
    return notable(with_phase(active, next, std::move(effects), "provisioning failed: " + error));
}

/// Resolving: find the binding in the facts, then probe it or apply the plan for it.
Transition resolve_provision(const state::Active& active, state::Provision p,
                             const MachineFacts& facts, std::vector<Effect> effects,
                             std::string cause) {
    p.step = PStep::Resolving;
    if (needs_lookup(facts, p.plat.prefix)) {
        if (!p.refresh_requested)
            effects.emplace_back(effect::RefreshFacts{});
        p.refresh_requested = true;
        return with_phase(active, p, std::move(effects), std::move(cause));
    }
    p.refresh_requested = false;
    auto binding = resolve_binding(facts.settings.binding, observed_of(facts), facts.plat_route,
                                   p.plat.prefix, p.dad, p.binding, std::nullopt, facts.entropy);
    if (!binding)
        return provision_failed(active, p, std::move(effects), binding.error().message, facts);
    p.binding = *binding;
    const bool dad = needs_dad(facts.settings.binding, p.dad, *binding);
    if (dad && optimistic_dad(facts.settings.binding)) {
        probe_in_use(p.dad, *binding, effects);
    } else if (dad) {
        p.step = PStep::ProbingDad;
        for (auto& e : probe_effects(*binding))
            effects.push_back(std::move(e));
        return with_phase(active, p, std::move(effects), std::move(cause));
    }
    p.step = PStep::Applying;
    effects.emplace_back(effect::ApplyPlan{ClatTarget{p.plat, *binding}});
    return with_phase(active, p, std::move(effects), std::move(cause));
}

Transition provision_dad(const state::Active& active, const state::Provision& p,
                         const event::DadProbeFinished& e, const MachineFacts& facts) {
    state::Provision next = p;
    const Ipv6Address address = p.binding->clat_v6;
    if (!e.duplicate) {
        next.dad.verified.push_back(address);
        next.step = PStep::Applying;
        auto effects = end_probe();
        effects.emplace_back(effect::ApplyPlan{ClatTarget{p.plat, *p.binding}});
        return notable(with_phase(active, next, std::move(effects),
                                  "dad passed address=" + address.to_string()));
    }
    next.dad.avoid.push_back(address);
    next.dad_conflicts = p.dad_conflicts + 1;
    const std::string cause = "dad conflict address=" + address.to_string() +
                              " dev=" + p.binding->plat_dev + ": another node holds it (" +
                              e.detail + ")";
    if (auto error = after_conflict(facts, address, next.dad_conflicts))
        return provision_failed(active, next, end_probe(), cause + "; " + *error, facts);
    next.binding.reset();
    return notable(resolve_provision(active, next, facts, end_probe(), cause));
}

Transition on_provision(const state::Active& active, const state::Provision& p, const Event& event,
                        const MachineFacts& facts) {
    if (std::holds_alternative<event::FactsChanged>(event)) {
        if (p.step == PStep::Resolving)
            return resolve_provision(active, p, facts, {}, "facts for provisioning");
        if ((p.step == PStep::Applying || p.step == PStep::ScriptUp) && !p.dirty) {
            state::Provision next = p;
            next.dirty = true;
            return with_phase(active, next, {},
                              "observed state changed, reconcile once provisioned");
        }
        return ignore(active);
    }
    if (const auto* e = std::get_if<event::DadProbeFinished>(&event);
        e && p.step == PStep::ProbingDad && e->address == p.binding->clat_v6)
        return provision_dad(active, p, *e, facts);
    if (const auto* e = std::get_if<event::DadProbeStarted>(&event);
        e && p.step == PStep::ProbingDad && e->error && e->address == p.binding->clat_v6)
        return provision_failed(active, p, end_probe(), "DAD probe: " + *e->error, facts);
    if (const auto* e = std::get_if<event::TimerExpired>(&event)) {
        if (e->timer == Timer::DadTimeout && p.step == PStep::ProbingDad)
            return provision_failed(active, p, {effect::EndDadProbe{}},
                                    "DAD did not finish on " + p.binding->plat_dev + " within " +
                                        duration_text(kDadTimeoutMs),
                                    facts);
        if (e->timer == Timer::ScriptTimeout && p.step == PStep::ScriptUp &&
            p.script_killed.empty()) {
            state::Provision next = p;
            next.script_killed = timed_out_text(p.script_timeout_ms);
            return notable(with_phase(active, next, {effect::CancelScript{}},
                                      "script-up " + next.script_killed + ", killing it"));
        }
        if (e->timer == Timer::ProvisionRetry && p.step == PStep::RetryWait &&
            facts.now_ms >= p.retry_at_ms) {
            state::Provision next = p;
            next.dad_conflicts = 0;
            return resolve_provision(
                active, next, facts, {},
                "retrying provisioning, attempt " + std::to_string(p.failures + 1));
        }
        return ignore(active);
    }
    if (std::holds_alternative<event::PlanApplied>(event) && p.step == PStep::Applying) {
        state::Provision next = p;
        next.step = PStep::ScriptUp;
        next.script_timeout_ms = facts.settings.script_timeout_ms;
        return with_phase(active, next,
                          run_script(ScriptKind::Up, ClatTarget{p.plat, *p.binding}, facts),
                          "kernel state applied");
    }
    if (const auto* e = std::get_if<event::PlanFailed>(&event); e && p.step == PStep::Applying)
        return provision_failed(active, p, {}, e->error, facts);
    if (const auto* e = std::get_if<event::ScriptFinished>(&event);
        e && e->kind == ScriptKind::Up && p.step == PStep::ScriptUp) {
        // Undone only now that the script has gone (also when it was killed at its timeout):
        // a script still running could re-add what the undo removes.
        if (!e->success) {
            state::Provision failed = p;
            failed.script_killed.clear();
            return provision_failed(active, failed,
                                    {effect::CancelTimer{Timer::ScriptTimeout}, effect::UndoAll{}},
                                    script_failure(*e, p.script_killed), facts);
        }
        state::Running running;
        running.device_index = clat_device_index(facts);
        running.plat = p.plat;
        running.binding = *p.binding;
        running.mapping = mapping_of(ClatTarget{p.plat, *p.binding});
        running.dad = p.dad;
        std::vector<Effect> effects{effect::CancelTimer{Timer::ScriptTimeout},
                                    effect::StartDataPath{running.mapping}};
        Transition t = with_phase(active, running, std::move(effects), "converged");
        if (!p.dirty)
            return t;
        const auto& moved = std::get<state::Active>(t.next);
        Transition r = reconcile_now(moved, facts, "converged, reconciling what changed meanwhile");
        t.effects.insert(t.effects.end(), r.effects.begin(), r.effects.end());
        return Transition{std::move(r.next), std::move(t.effects), std::move(r.cause)};
    }
    return ignore(active);
}

// ---- Running ---------------------------------------------------------------------------

Transition reconcile_failed(const state::Active& active, const state::Running& r,
                            std::vector<Effect> effects, const std::string& error,
                            const MachineFacts& facts) {
    state::Running next = r;
    next.reconcile.step = RStep::RetryWait;
    next.reconcile.candidate.reset();
    next.reconcile.dirty = false;
    next.reconcile.failures = r.reconcile.failures + 1;
    next.reconcile.last_error = error;
    const std::int64_t delay = provision_retry_delay_ms(next.reconcile.failures);
    next.reconcile.retry_at_ms = facts.now_ms + delay;
    effects.emplace_back(effect::StartTimer{Timer::ReconcileRetry, delay});
    return notable(with_phase(active, next, std::move(effects), "reconcile failed: " + error));
}

Transition reconcile_resolve(const state::Active& active, state::Running r,
                             const MachineFacts& facts, std::vector<Effect> effects,
                             std::string cause) {
    r.reconcile.step = RStep::Resolving;
    if (needs_lookup(facts, r.plat.prefix)) {
        effects.emplace_back(effect::RefreshFacts{});
        return with_phase(active, r, std::move(effects), std::move(cause));
    }
    auto binding = resolve_binding(facts.settings.binding, observed_of(facts), facts.plat_route,
                                   r.plat.prefix, r.dad, r.binding, std::nullopt, facts.entropy);
    if (!binding)
        return reconcile_failed(active, r, std::move(effects), binding.error().message, facts);
    r.reconcile.candidate = *binding;
    const bool dad = needs_dad(facts.settings.binding, r.dad, *binding);
    if (dad && optimistic_dad(facts.settings.binding)) {
        probe_in_use(r.dad, *binding, effects);
    } else if (dad && *binding != r.binding) {
        r.reconcile.step = RStep::ProbingDad;
        for (auto& e : probe_effects(*binding))
            effects.push_back(std::move(e));
        return with_phase(active, r, std::move(effects), std::move(cause));
    }
    r.reconcile.step = RStep::Applying;
    effects.emplace_back(effect::ApplyPlan{ClatTarget{r.plat, *binding}});
    return with_phase(active, r, std::move(effects), std::move(cause));
}

Transition running_dad(const state::Active& active, const state::Running& r,
                       const event::DadProbeFinished& e, const MachineFacts& facts) {
    const Binding& candidate = *r.reconcile.candidate;
    state::Running next = r;
    if (!e.duplicate) {
        next.dad.verified.push_back(candidate.clat_v6);
        next.reconcile.step = RStep::Applying;
        auto effects = end_probe();
        effects.emplace_back(effect::ApplyPlan{ClatTarget{r.plat, candidate}});
        return notable(with_phase(active, next, std::move(effects),
                                  "dad passed address=" + candidate.clat_v6.to_string()));
    }
    next.dad.avoid.push_back(candidate.clat_v6);
    next.reconcile.dad_conflicts = r.reconcile.dad_conflicts + 1;
    const std::string cause = "dad conflict address=" + candidate.clat_v6.to_string() +
                              " dev=" + candidate.plat_dev + ": another node holds it (" +
                              e.detail + ")";
    if (auto error = after_conflict(facts, candidate.clat_v6, next.reconcile.dad_conflicts))
        return reconcile_failed(active, next, end_probe(), cause + "; " + *error, facts);
    return notable(reconcile_resolve(active, next, facts, end_probe(), cause));
}

/// The plan for the reconcile's candidate is in place: adopt the binding, move the data path
/// to the new mapping, and plan once more if the facts changed meanwhile.
Transition reconcile_applied(const state::Active& active, const state::Running& r,
                             const event::PlanApplied& e, const MachineFacts& facts) {
    state::Running next = r;
    next.binding = *r.reconcile.candidate;
    next.reconcile = state::Reconcile{};
    std::vector<Effect> effects;
    const DataPathMapping mapping = mapping_of(ClatTarget{next.plat, next.binding});
    std::string cause = e.operations == 0
                            ? "reconciled, nothing to change"
                            : "reconciled, " + std::to_string(e.operations) + " changes";
    if (next.binding.clat_v6 != r.binding.clat_v6)
        cause += ", renumbered clat-v6 " + r.binding.clat_v6.to_string() + " -> " +
                 next.binding.clat_v6.to_string();
    if (mapping != r.mapping) {
        next.mapping = mapping;
        if (next.translator.phase != Phase::WaitingRestart) {
            next.translator.phase = Phase::Starting;
            effects.emplace_back(effect::ReplaceDataPath{mapping});
            cause += ", data path moved to " + mapping.to_string();
        }
    }
    Transition t = with_phase(active, next, std::move(effects), std::move(cause));
    t.notable = e.operations > 0 || mapping != r.mapping;
    if (!r.reconcile.dirty)
        return t;
    const auto& moved = std::get<state::Active>(t.next);
    Transition again = reconcile_now(moved, facts, t.cause + "; facts changed meanwhile");
    t.effects.insert(t.effects.end(), again.effects.begin(), again.effects.end());
    return Transition{std::move(again.next), std::move(t.effects), std::move(again.cause)};
}

Transition on_data_path_exit(const state::Active& active, const state::Running& r,
                             const event::DataPathExited& e, const MachineFacts& facts) {
    if (!exit_is_current(r.translator, static_cast<int>(e.run)))
        return ignore(active);  // a report about an older run
    state::Running next = r;
    const SupervisionPolicy policy = facts.settings.translator_policy();
    const ExitDecision decision = record_exit(next.translator, e.status, facts.now_ms, policy);
    if (decision.give_up) {
        std::string reason = "translator failed " + std::to_string(policy.fast_failure_limit) +
                             " times within " + duration_text(policy.failure_window_ms) +
                             ", last " + e.status +
                             "; waiting for reload, rediscover or an uplink change";
        state::Failed failed{r.plat, r.binding, next.translator, r.mapping, r.dad, reason};
        std::vector<Effect> effects;
        if (r.reconcile.step == RStep::RetryWait)
            effects.emplace_back(effect::CancelTimer{Timer::ReconcileRetry});
        if (r.reconcile.step == RStep::ProbingDad)
            effects = end_probe();
        return with_phase(active, failed, std::move(effects), "translator gave up: " + e.status);
    }
    return notable(
        with_phase(active, next, {effect::StartTimer{Timer::TranslatorRestart, decision.delay_ms}},
                   "translator " + e.status + ", restart in " + duration_text(decision.delay_ms)));
}

Transition on_running_timer(const state::Active& active, const state::Running& r,
                            const event::TimerExpired& e, const MachineFacts& facts) {
    if (e.timer == Timer::TranslatorRestart && r.translator.phase == Phase::WaitingRestart &&
        facts.now_ms >= r.translator.restart_at_ms) {
        state::Running next = r;
        record_restart(next.translator);
        // The new run opens the device there is now.
        if (const int index = clat_device_index(facts); index != 0)
            next.device_index = index;
        return notable(with_phase(
            active, next, {effect::StartDataPath{r.mapping}},
            "restarting translator, restart " + std::to_string(next.translator.restarts)));
    }
    if (e.timer == Timer::ReconcileRetry && r.reconcile.step == RStep::RetryWait &&
        facts.now_ms >= r.reconcile.retry_at_ms) {
        state::Active fired = active;  // the timer ran out: nothing to cancel
        std::get<state::Running>(fired.phase).reconcile.step = RStep::Idle;
        return reconcile_now(
            fired, facts,
            "retrying reconcile, attempt " + std::to_string(r.reconcile.failures + 1));
    }
    if (e.timer == Timer::DadTimeout && r.reconcile.step == RStep::ProbingDad)
        return reconcile_failed(active, r, {effect::EndDadProbe{}},
                                "DAD did not finish on " + r.reconcile.candidate->plat_dev +
                                    " within " + duration_text(kDadTimeoutMs),
                                facts);
    return ignore(active);
}

Transition on_running_facts(const state::Active& active, const state::Running& r,
                            const MachineFacts& facts) {
    switch (r.reconcile.step) {
        case RStep::Idle:
        case RStep::Resolving:
            return reconcile_now(active, facts, "observed state changed");
        case RStep::ProbingDad:
            return ignore(active);  // DadProbeFinished ends it
        case RStep::Applying:
            if (r.reconcile.dirty)
                return ignore(active);
            {
                state::Running next = r;
                next.reconcile.dirty = true;
                return with_phase(active, next, {}, "observed state changed while applying");
            }
        case RStep::RetryWait:
            return ignore(active);  // the retry timer plans from the facts of its time
    }
    return ignore(active);
}

/// Facts while Running (a snapshot, or the answer to a plan, which may have made the device).
/// A CLAT device with another index than the one the data path runs on was deleted and made
/// again (by the reconcile or by anyone): the translator still holds the dead one (TAYGA loops
/// on EBADFD), so the data path is replaced onto the new device; then `then` handles the
/// event as usual.
template <typename Handler>
Transition follow_device(const state::Active& active, const state::Running& r,
                         const MachineFacts& facts, Handler then) {
    const int index = clat_device_index(facts);
    if (index == 0 || index == r.device_index)
        return then(active, r);
    state::Running next = r;
    next.device_index = index;
    std::vector<Effect> effects;
    std::string cause;
    if (r.device_index != 0 && r.translator.phase != Phase::WaitingRestart) {
        next.translator.phase = Phase::Starting;
        effects.emplace_back(effect::ReplaceDataPath{r.mapping});
        cause = facts.settings.binding.clat_dev + " was replaced (index " +
                std::to_string(r.device_index) + " -> " + std::to_string(index) +
                "), restarting the data path on it";
    }
    Transition t = with_phase(active, next, std::move(effects), cause);
    Transition after = then(std::get<state::Active>(t.next), next);
    t.next = std::move(after.next);
    t.effects.insert(t.effects.end(), after.effects.begin(), after.effects.end());
    if (!after.cause.empty())
        t.cause += (t.cause.empty() ? "" : "; ") + after.cause;
    t.notable = !cause.empty() || after.notable;
    return t;
}

Transition on_running(const state::Active& active, const state::Running& r, const Event& event,
                      const MachineFacts& facts) {
    if (std::holds_alternative<event::FactsChanged>(event)) {
        return follow_device(active, r, facts,
                             [&](const state::Active& a, const state::Running& n) {
                                 return on_running_facts(a, n, facts);
                             });
    }
    if (const auto* e = std::get_if<event::DataPathStarted>(&event);
        e && r.translator.phase == Phase::Starting) {
        state::Running next = r;
        const bool replaced = r.translator.pid.has_value();
        record_started(next.translator, static_cast<int>(e->run), facts.now_ms);
        return notable(
            with_phase(active, next, {},
                       std::string(replaced ? "data path replaced" : "data path started") +
                           " run=" + std::to_string(e->run)));
    }
    if (const auto* e = std::get_if<event::DataPathExited>(&event))
        return on_data_path_exit(active, r, *e, facts);
    if (const auto* e = std::get_if<event::TimerExpired>(&event))
        return on_running_timer(active, r, *e, facts);
    if (const auto* e = std::get_if<event::DadProbeFinished>(&event);
        e && r.reconcile.step == RStep::ProbingDad && e->address == r.reconcile.candidate->clat_v6)
        return running_dad(active, r, *e, facts);
    if (const auto* e = std::get_if<event::DadProbeStarted>(&event);
        e && e->error && r.reconcile.step == RStep::ProbingDad &&
        e->address == r.reconcile.candidate->clat_v6)
        return reconcile_failed(active, r, end_probe(), "DAD probe: " + *e->error, facts);
    if (const auto* e = std::get_if<event::PlanApplied>(&event);
        e && r.reconcile.step == RStep::Applying) {
        return follow_device(active, r, facts,
                             [&](const state::Active& a, const state::Running& n) {
                                 return reconcile_applied(a, n, *e, facts);
                             });
    }
    if (const auto* e = std::get_if<event::PlanFailed>(&event);
        e && r.reconcile.step == RStep::Applying)
        return reconcile_failed(active, r, {}, e->error, facts);
    return ignore(active);
}

// ---- Failed ----------------------------------------------------------------------------

// ---- Optimistic DAD, whatever the phase ---------------------------------------------------

DadMemory* dad_of(state::ActivePhase& phase) {
    if (auto* p = std::get_if<state::Provision>(&phase))
        return &p->dad;
    if (auto* r = std::get_if<state::Running>(&phase))
        return &r->dad;
    if (auto* f = std::get_if<state::Failed>(&phase))
        return &f->dad;
    return nullptr;
}

/// A conflict found while the address was in use: it is rolled back for another derived
/// address, at once when Running, once provisioned when a step is in flight.
Transition conflict_in_use(state::Active next, std::vector<Effect> effects, std::string cause,
                           const MachineFacts& facts) {
    const int conflicts = dad_of(next.phase)->conflicts;
    if (auto* p = std::get_if<state::Provision>(&next.phase)) {
        if (p->step == PStep::Applying || p->step == PStep::ScriptUp) {
            p->dirty = true;
            cause += "; another address once provisioned";
        }
        return notable(Transition{std::move(next), std::move(effects), std::move(cause)});
    }
    if (const auto* r = std::get_if<state::Running>(&next.phase)) {
        if (conflicts >= kDadAttempts)
            return reconcile_failed(
                next, *r, std::move(effects),
                cause + "; DAD failed for " + std::to_string(conflicts) + " addresses in a row",
                facts);
        Transition t = reconcile_now(next, facts, std::move(cause));
        effects.insert(effects.end(), t.effects.begin(), t.effects.end());
        return notable(Transition{std::move(t.next), std::move(effects), std::move(t.cause)});
    }
    return notable(Transition{std::move(next), std::move(effects), std::move(cause)});
}

/// A probe of the address in use that could not run (or finish): failed like a step, so that
/// the retry probes again.
Transition probe_failed_in_use(state::Active next, std::vector<Effect> effects,
                               const std::string& error, const MachineFacts& facts) {
    if (const auto* p = std::get_if<state::Provision>(&next.phase))
        return provision_failed(next, *p, std::move(effects), error, facts);
    if (const auto* r = std::get_if<state::Running>(&next.phase))
        return reconcile_failed(next, *r, std::move(effects), error, facts);
    return notable(Transition{std::move(next), std::move(effects), error});
}

/// The end of the DAD of an address in use (optimistic, RFC 4429), in whichever phase it
/// arrives; nullopt: the event is not about it.
std::optional<Transition> on_dad_in_use(const state::Active& active, const Event& event,
                                        const MachineFacts& facts) {
    state::Active next = active;
    DadMemory* dad = dad_of(next.phase);
    if (dad == nullptr || !dad->probing)
        return std::nullopt;
    const Binding probed = *dad->probing;
    const std::string where = "address=" + probed.clat_v6.to_string() + " dev=" + probed.plat_dev;
    if (const auto* e = std::get_if<event::DadProbeFinished>(&event);
        e && e->address == probed.clat_v6) {
        dad->probing.reset();
        std::vector<Effect> effects{effect::CancelTimer{Timer::DadTimeout}};
        if (!e->duplicate) {
            dad->verified.push_back(probed.clat_v6);
            dad->conflicts = 0;
            return notable(Transition{std::move(next), std::move(effects),
                                      "dad passed " + where + " (in use while probed)"});
        }
        dad->avoid.push_back(probed.clat_v6);
        ++dad->conflicts;
        return conflict_in_use(
            std::move(next), std::move(effects),
            "dad conflict " + where + ": another node holds it (" + e->detail + ")", facts);
    }
    if (const auto* e = std::get_if<event::DadProbeStarted>(&event);
        e && e->error && e->address == probed.clat_v6) {
        dad->probing.reset();
        return probe_failed_in_use(std::move(next), {effect::CancelTimer{Timer::DadTimeout}},
                                   "DAD probe: " + *e->error, facts);
    }
    if (const auto* e = std::get_if<event::TimerExpired>(&event);
        e && e->timer == Timer::DadTimeout) {
        dad->probing.reset();
        return probe_failed_in_use(
            std::move(next), {effect::EndDadProbe{}},
            "DAD did not finish on " + probed.plat_dev + " within " + duration_text(kDadTimeoutMs),
            facts);
    }
    return std::nullopt;
}

Transition on_failed(const state::Active& active, const state::Failed& f, const Event& event) {
    // The data path is down for good, but the kernel state stays ours: put back what
    // someone removed, with the binding in force.
    if (std::holds_alternative<event::FactsChanged>(event))
        return Transition{active,
                          {effect::ApplyPlan{ClatTarget{f.plat, f.binding}}},
                          "observed state changed, translator failed"};
    return ignore(active);
}

}  // namespace

Transition start_provision(const state::Active& active, const PlatChoice& plat,
                           const MachineFacts& facts, std::string cause) {
    state::Provision p;
    p.plat = plat;
    if (const auto* previous = std::get_if<state::Provision>(&active.phase)) {
        p.dad = previous->dad;
        p.failures = previous->failures;
        p.last_error = previous->last_error;
    }
    return notable(resolve_provision(active, p, facts, {},
                                     std::move(cause) + "; provision plat=" + plat.to_string()));
}

Transition reconcile_now(const state::Active& active, const MachineFacts& facts,
                         std::string cause) {
    const auto* r = std::get_if<state::Running>(&active.phase);
    if (r == nullptr)
        return ignore(active);
    std::vector<Effect> effects;
    state::Running next = *r;
    if (r->reconcile.step == RStep::ProbingDad)
        effects = end_probe();
    if (r->reconcile.step == RStep::RetryWait)
        effects.emplace_back(effect::CancelTimer{Timer::ReconcileRetry});
    if (r->reconcile.step == RStep::Applying) {
        next.reconcile.dirty = true;  // the answer to the plan in flight replans
        return with_phase(active, next, {}, std::move(cause));
    }
    const int failures = r->reconcile.failures;
    const std::string last_error = r->reconcile.last_error;
    next.reconcile = state::Reconcile{};
    next.reconcile.failures = failures;
    next.reconcile.last_error = last_error;
    return reconcile_resolve(active, next, facts, std::move(effects), std::move(cause));
}

Transition revive(const state::Active& active, const state::Failed& failed, const PlatChoice& plat,
                  std::string cause) {
    state::Running running;
    running.plat = plat;
    running.binding = failed.binding;
    running.translator = retry_after_failure(failed.translator);
    record_restart(running.translator);
    running.mapping = mapping_of(ClatTarget{plat, failed.binding});
    running.dad = failed.dad;
    running.reconcile.step = RStep::Applying;
    running.reconcile.candidate = failed.binding;
    return with_phase(active, running,
                      {effect::ApplyPlan{ClatTarget{plat, failed.binding}},
                       effect::StartDataPath{running.mapping}},
                      std::move(cause));
}

Transition on_phase_event(const state::Active& active, const Event& event,
                          const MachineFacts& facts) {
    if (auto t = on_dad_in_use(active, event, facts))
        return std::move(*t);
    if (const auto* p = std::get_if<state::Provision>(&active.phase))
        return on_provision(active, *p, event, facts);
    if (const auto* r = std::get_if<state::Running>(&active.phase))
        return on_running(active, *r, event, facts);
    if (const auto* f = std::get_if<state::Failed>(&active.phase))
        return on_failed(active, *f, event);
    return ignore(active);  // DiscoverPLAT waits for discovery
}

}  // namespace clat::detail
