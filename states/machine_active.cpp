/// The Active parent: what all its sub-states share (stop, uplink, native IPv4, discovery,
/// reload, rediscovery). Only what is specific to one sub-state (steps of provisioning, the
/// data path, their timers) reaches the phase handlers of machine_provision.cpp.

#include <utility>

#include "states/machine.hpp"
#include "states/machine_detail.hpp"

namespace clat::detail {

namespace {

std::optional<PlatChoice> selection(const state::Active& active, const MachineFacts& facts) {
    const MachineSettings& s = facts.settings;
    const auto pref64 = s.pref64_enable ? active.candidates.pref64 : std::nullopt;
    return select_prefix(s.plat_prefix, pref64, active.candidates.dns64, s.plat_fallback_prefix);
}

std::optional<Ipv6Prefix> phase_prefix(const state::ActivePhase& phase) {
    if (const auto* p = std::get_if<state::Provision>(&phase))
        return p->plat.prefix;
    if (const auto* r = std::get_if<state::Running>(&phase))
        return r->plat.prefix;
    if (const auto* f = std::get_if<state::Failed>(&phase))
        return f->plat.prefix;
    return std::nullopt;
}

Transition prepend(std::vector<Effect> effects, Transition t) {
    effects.insert(effects.end(), t.effects.begin(), t.effects.end());
    t.effects = std::move(effects);
    return t;
}

/// Discovery or the settings changed: move to the prefix now selected. `force` reconciles
/// even when the prefix stayed the same (the configuration changed).
Transition reselect(const state::Active& active, const MachineFacts& facts,
                    std::vector<Effect> effects, const std::string& cause, bool force) {
    const auto sel = selection(active, facts);
    if (!sel && !std::holds_alternative<state::DiscoverPlat>(active.phase))
        return prepend(std::move(effects),
                       begin_teardown(active, false, true, cause + ", no PLAT prefix left"));
    const bool changed = !sel || phase_prefix(active.phase) != sel->prefix;
    return std::visit(
        Overloaded{
            [&](const state::DiscoverPlat&) {
                const MachineSettings& s = facts.settings;
                if (!sel) {
                    state::DiscoverPlat waiting{why_no_prefix(active.candidates, s.pref64_enable,
                                                              s.plat_fallback_prefix.has_value())};
                    return with_phase(active, waiting, std::move(effects), cause);
                }
                return prepend(std::move(effects), start_provision(active, *sel, facts, cause));
            },
            [&](const state::Provision& p) {
                if (!force && !changed) {
                    state::Provision next = p;
                    next.plat = *sel;  // a refreshed expiry
                    return with_phase(active, next, std::move(effects), cause);
                }
                if (p.step == state::Provision::Step::Applying ||
                    p.step == state::Provision::Step::ScriptUp) {
                    state::Provision next = p;
                    next.plat = *sel;
                    next.dirty = true;
                    return with_phase(active, next, std::move(effects),
                                      cause + ", reconcile once provisioned");
                }
                if (p.step == state::Provision::Step::ProbingDad) {
                    effects.emplace_back(effect::CancelTimer{Timer::DadTimeout});
                    effects.emplace_back(effect::EndDadProbe{});
                }
                return prepend(std::move(effects), start_provision(active, *sel, facts, cause));
            },
            [&](const state::Running& r) {
                state::Running next = r;
                next.plat = *sel;
                Transition t = with_phase(active, next, std::move(effects), cause);
                if (!force && !changed)
                    return t;
                const auto& moved = std::get<state::Active>(t.next);
                return prepend(std::move(t.effects), reconcile_now(moved, facts, cause));
            },
            [&](const state::Failed& f) {
                if (!force && !changed) {
                    state::Failed next = f;
                    next.plat = *sel;
                    return with_phase(active, next, std::move(effects), cause);
                }
                return prepend(std::move(effects), revive(active, f, *sel, cause));
            },
        },
        active.phase);
}

Transition on_plat_discovered(const state::Active& active, const event::PlatDiscovered& e,
                              const MachineFacts& facts) {
    state::Active next = active;
    record_found(next.candidates, PlatChoice{e.prefix, e.source, e.expires_at_ms});
    std::vector<Effect> effects;
    if (e.source == PlatSource::Pref64 && active.discovering)
        effects.emplace_back(effect::StopSolicitation{});
    std::string cause = std::string(to_string(e.source)) + " reported a prefix";
    if (e.source == PlatSource::Pref64) {
        cause = "pref64 prefix=" + e.prefix.to_string();
        if (e.expires_at_ms)
            cause += " lifetime=" + std::to_string((*e.expires_at_ms - facts.now_ms) / 1000) + "s";
    }
    Transition t = reselect(next, facts, std::move(effects), cause, false);
    t.notable = t.notable || e.source == PlatSource::Pref64;
    return t;
}

Transition on_plat_lost(const state::Active& active, const event::PlatLost& e,
                        const MachineFacts& facts) {
    state::Active next = active;
    record_lost(next.candidates, e.source, e.detail);
    const std::string detail =
        e.detail.empty() ? std::string(to_string(e.source)) + " has no prefix" : e.detail;
    Transition t =
        reselect(next, facts, {},
                 e.source == PlatSource::Pref64 ? "pref64 withdrawn or expired" : detail, false);
    t.notable = t.notable || e.source == PlatSource::Pref64;
    return t;
}

effect::StartDiscovery start_discovery(const state::Active& active, const MachineFacts& facts) {
    effect::StartDiscovery start;
    if (facts.settings.pref64_enable && !active.candidates.pref64 && !facts.uplink_dev.empty())
        start.solicit = facts.uplink_dev;
    return start;
}

Transition on_reload(const state::Active& active, const event::ConfigReloaded& e,
                     const MachineFacts& facts) {
    if (facts.settings.probe_v4() && !facts.native_ipv4.empty())
        return begin_teardown(active, false, false,
                              "configuration reloaded, " + facts.native_ipv4 + " present");
    // The old device's objects (address, routes, proxy entry, the tun itself) are not
    // "changed" to the new one: the whole CLAT is undone and provisioned again on it.
    if (e.diff.device && !std::holds_alternative<state::DiscoverPlat>(active.phase))
        return begin_teardown(active, false, true,
                              "configuration reloaded, clat-dev changed: re-provisioning");
    state::Active next = active;
    std::vector<Effect> effects;
    next.discovering = !facts.settings.plat_prefix;
    if (!facts.settings.pref64_enable)
        next.candidates.pref64.reset();
    else if (!next.candidates.pref64)
        next.candidates.pref64 = facts.pref64;
    // New discovery settings (dns64-servers, say) take effect with a fresh round of queries.
    if (next.discovering && (!active.discovering || e.diff.discovery))
        effects.emplace_back(start_discovery(next, facts));
    if (!next.discovering && active.discovering)
        effects.emplace_back(effect::StopDiscovery{});
    // A failed data path gets another chance with every reload, whatever it changed.
    const bool was_failed = std::holds_alternative<state::Failed>(active.phase);
    if (e.diff.clat || e.diff.discovery)
        return reselect(next, facts, std::move(effects), "configuration reloaded",
                        e.diff.clat || was_failed);
    if (const auto* failed = std::get_if<state::Failed>(&active.phase))
        return prepend(
            std::move(effects),
            revive(next, *failed, failed->plat, "configuration reloaded, retrying the translator"));
    if (const auto* running = std::get_if<state::Running>(&active.phase);
        running && e.diff.data_path) {
        state::Running moved = *running;
        if (running->translator.phase == TranslatorSupervision::Phase::WaitingRestart)
            effects.emplace_back(effect::CancelTimer{Timer::TranslatorRestart});
        moved.translator.phase = TranslatorSupervision::Phase::Starting;
        effects.emplace_back(effect::ReplaceDataPath{running->mapping});
        return with_phase(next, moved, std::move(effects),
                          "configuration reloaded, replacing the data path");
    }
    return Transition{next, std::move(effects), "configuration reloaded, CLAT unaffected"};
}

Transition on_rediscover(const state::Active& active, const MachineFacts& facts) {
    std::vector<Effect> effects;
    if (active.discovering)
        effects.emplace_back(start_discovery(active, facts));
    std::string cause = active.discovering ? "rediscovery requested"
                                           : "rediscovery requested, plat-prefix is configured";
    if (const auto* failed = std::get_if<state::Failed>(&active.phase))
        return prepend(std::move(effects),
                       revive(active, *failed, failed->plat, cause + ", retrying the translator"));
    return Transition{active, std::move(effects), std::move(cause)};
}

/// The uplink changed while usable: discovery starts over and a failed data path gets
/// another chance; a provisioned CLAT reconciles.
Transition on_uplink_changed(const state::Active& active, const MachineFacts& facts) {
    std::vector<Effect> effects;
    if (active.discovering)
        effects.emplace_back(start_discovery(active, facts));
    const std::string cause = "uplink changed";
    if (const auto* failed = std::get_if<state::Failed>(&active.phase))
        return prepend(std::move(effects),
                       revive(active, *failed, failed->plat, cause + ", retrying the translator"));
    if (std::holds_alternative<state::Running>(active.phase))
        return prepend(std::move(effects), reconcile_now(active, facts, cause));
    if (effects.empty())
        return ignore(active);
    return Transition{active, std::move(effects), cause};
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
                return on_uplink_changed(active, facts);
            },
            [&](const event::NativeIpv4Changed& e) {
                if (!probing || !e.present)
                    return ignore(active);
                return begin_teardown(active, false, false, e.description + " appeared");
            },
            [&](const event::ConfigReloaded& e) { return on_reload(active, e, facts); },
            [&](const event::RediscoverRequested&) { return on_rediscover(active, facts); },
            [&](const event::PlatDiscovered& e) {
                if (e.source == PlatSource::Pref64 && !facts.settings.pref64_enable)
                    return ignore(active);
                return on_plat_discovered(active, e, facts);
            },
            [&](const event::PlatLost& e) {
                if (e.source == PlatSource::Pref64 && !facts.settings.pref64_enable)
                    return ignore(active);
                return on_plat_lost(active, e, facts);
            },
            [&](const auto&) { return on_phase_event(active, event, facts); },
        },
        event);
}

}  // namespace clat::detail
