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

std::string stop_cause(const event::StopRequested& stop) {
    return stop.origin.empty() ? "stop requested" : "stop requested (" + stop.origin + ")";
}

namespace {

/// The timer a state may have running, to cancel when leaving it.
std::optional<Timer> running_timer(const State& state) {
    if (std::holds_alternative<state::ProbeV4>(state))
        return Timer::HoldDown;
    const auto* active = std::get_if<state::Active>(&state);
    if (active == nullptr)
        return std::nullopt;
    if (const auto* p = std::get_if<state::Provision>(&active->phase); p && !p->in_flight)
        return Timer::ProvisionRetry;
    if (const auto* r = std::get_if<state::Running>(&active->phase);
        r && r->translator.phase == TranslatorSupervision::Phase::WaitingRestart)
        return Timer::TranslatorRestart;
    return std::nullopt;
}

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
            [&](const event::ConfigReloaded&) {
                if (!probing) {
                    Transition t = enter_active(facts, "IPv4 check disabled by reload");
                    t.effects.insert(t.effects.begin(), effect::CancelTimer{Timer::HoldDown});
                    return t;
                }
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

Transition on_teardown(const state::Teardown& teardown, const Event& event,
                       const MachineFacts& facts) {
    if (std::holds_alternative<event::StopRequested>(event)) {
        if (teardown.exit_after)
            return ignore(teardown);  // idempotent: the teardown already running suffices
        state::Teardown next = teardown;
        next.exit_after = true;
        return Transition{next, {}, "stop requested during teardown"};
    }
    if (const auto* e = std::get_if<event::TeardownDone>(&event)) {
        if (!teardown.exit_after)
            return resume(teardown, facts);
        const int code = e->error ? 1 : 0;
        return Transition{state::Stopped{code},
                          {effect::Exit{code}},
                          e->error ? "teardown done with error: " + *e->error : "teardown done"};
    }
    return ignore(teardown);
}

}  // namespace

Transition enter_active(const MachineFacts& facts, std::string cause) {
    const MachineSettings& s = facts.settings;
    state::Active active;
    active.discovering = !s.plat_prefix;
    std::vector<Effect> effects;
    if (active.discovering)
        effects.emplace_back(effect::StartDiscovery{});
    const auto selected = select_prefix(s.plat_prefix, active.candidates.pref64,
                                        active.candidates.dns64, s.plat_fallback_prefix);
    if (selected) {
        active.phase = provisioning(*selected);
        effects.emplace_back(effect::Provision{*selected});
        cause += ", PLAT prefix " + selected->to_string();
    } else {
        active.phase = state::DiscoverPlat{
            why_no_prefix(active.candidates, s.pref64_enable, s.plat_fallback_prefix.has_value())};
    }
    return Transition{active, std::move(effects), std::move(cause)};
}

Transition begin_teardown(const State& from, bool exit_after, bool rediscover, std::string cause) {
    std::vector<Effect> effects;
    if (auto timer = running_timer(from))
        effects.emplace_back(effect::CancelTimer{*timer});
    if (const auto* active = std::get_if<state::Active>(&from); active && active->discovering)
        effects.emplace_back(effect::StopDiscovery{});
    effects.emplace_back(effect::Teardown{});
    return Transition{state::Teardown{exit_after, rediscover, cause}, std::move(effects), cause};
}

}  // namespace detail

namespace {

std::string provision_reason(const state::Provision& p) {
    if (p.failures == 0)
        return {};
    if (p.in_flight)
        return "retrying provisioning after: " + p.last_error;
    return "provisioning failed: " + p.last_error + "; retrying in " +
           duration_text(provision_retry_delay_ms(p.failures));
}

}  // namespace

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
    MachineStatus status{std::string(state_name(state)), {}, {}, {}, 0};
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
                                   status.reason = provision_reason(p);
                                   status.plat = p.plat;
                               },
                               [&](const state::Running& r) {
                                   status.reason = describe(r.translator);
                                   status.plat = r.plat;
                                   status.translator_pid = r.translator.pid;
                                   status.translator_restarts = r.translator.restarts;
                               },
                               [&](const state::Failed& f) {
                                   status.reason = f.reason;
                                   status.plat = f.plat;
                                   status.translator_restarts = f.translator.restarts;
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
    if (status_of(t.next) != status_of(state))
        t.effects.insert(t.effects.begin(), effect::PublishStatus{});
    return t;
}

Machine Machine::in_state(State state) {
    Machine machine;
    machine.state_ = std::move(state);
    return machine;
}

Transition Machine::dispatch(const Event& event, const MachineFacts& facts) {
    Transition t = on(state_, event, facts);
    state_ = t.next;
    return t;
}

}  // namespace clat
