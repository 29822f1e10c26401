// Running's Reconcile sub-state (SPEC §4, §6): every relevant snapshot plans once, a failed
// plan waits for its retry timer, a renumbering probes the new address and moves the data
// path; and how Machine::dispatch derives the edges of level-triggered facts.

#include <doctest/doctest.h>

#include "tests/unit/machine_fixture.hpp"

namespace clat::test {
namespace {

using RStep = state::Reconcile::Step;

/// A Running world with the derived binding on eth0 (host address 2001:db8:1::2), reached
/// through provisioning, the data path up as run 1.
void running_derived(World& w) {
    w.use_derived();
    w.facts.settings.v4_conncheck_enable = false;
    w.facts.settings.binding.dad_enable = false;
    w.facts_changed();
    w.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:64::/96"), 1});
    w.lookup();
    w.facts_changed();
    w.provisioned();
    REQUIRE(w.name() == "Running");
    w.send(event::DataPathStarted{1});
}

}  // namespace

TEST_CASE("a relevant snapshot plans once; converged answers change nothing") {
    World w(active_with(running()));
    Transition t = w.facts_changed();
    CHECK(text(t.effects) == apply_text());
    CHECK(t.cause == "observed state changed");
    CHECK(w.running_state()->reconcile.step == RStep::Applying);
    t = w.send(event::PlanApplied{0});
    CHECK(text(t.effects).empty());
    CHECK_FALSE(t.notable);  // a converged reconcile is a debug line, not an info line
    CHECK(t.cause == "reconciled, nothing to change");
    CHECK(w.running_state()->reconcile == state::Reconcile{});

    w.facts_changed();
    t = w.send(event::PlanApplied{2});  // someone removed two of ours: put back
    CHECK(t.notable);
    CHECK(t.cause == "reconciled, 2 changes");
    CHECK(w.run() == 100);  // the data path was not touched
}

TEST_CASE("snapshots while a plan is applied are folded into one more plan") {
    World w(active_with(running()));
    w.facts_changed();
    Transition t = w.facts_changed();
    CHECK(t.cause == "observed state changed while applying");
    CHECK(text(t.effects).empty());
    CHECK(w.facts_changed().ignored());  // already dirty
    t = w.send(event::PlanApplied{1});
    CHECK(text(t.effects) == apply_text());  // once, for all of them
    t = w.send(event::PlanApplied{0});
    CHECK(text(t.effects).empty());
}

TEST_CASE("a failed reconcile waits for its retry timer, backing off, and says why") {
    World w(active_with(running()));
    w.facts_changed();
    std::int64_t now = 0;
    for (std::int64_t expected : {1'000, 2'000, 4'000}) {
        CAPTURE(expected);
        Transition t = w.send(event::PlanFailed{"add route 0.0.0.0/0 dev clat: EPERM"});
        CHECK(text(t.effects) ==
              "start-timer timer=reconcile-retry delay=" + duration_text(expected));
        CHECK(w.name() == "Running");
        CHECK(w.status().reason ==
              "reconcile failed: add route 0.0.0.0/0 dev clat: EPERM; retrying in " +
                  duration_text(expected));
        CHECK(w.facts_changed().ignored());  // the timer plans from the facts of its time
        w.at(now + expected - 1);
        CHECK(w.send(event::TimerExpired{Timer::ReconcileRetry}).ignored());
        now += expected;
        w.at(now);
        t = w.send(event::TimerExpired{Timer::ReconcileRetry});
        CHECK(text(t.effects) == apply_text());
    }
    const Transition t = w.send(event::PlanApplied{3});
    CHECK(w.status().reason.empty());
    CHECK(w.status().last_error.empty());
    CHECK(t.notable);
}

TEST_CASE("renumbering: a new host address derives, is used while probed, moves the data path") {
    World w;
    running_derived(w);
    const Binding before = w.running_state()->binding;
    CHECK(before.derived_from == v6("2001:db8:1::2"));

    // The host is renumbered into 2001:db8:2::/64; the old address goes away.
    w.facts.settings.binding.dad_enable = true;
    w.remove_address(v6("2001:db8:1::2"));
    w.host_address("2001:db8:2::2");
    Transition t = w.facts_changed();
    const auto probed = w.probed();
    REQUIRE(probed);
    CHECK(probed->to_string().rfind("2001:db8:2:", 0) == 0);
    const ClatTarget renumbered{w.running_state()->plat,
                                Binding{"eth0", *probed, v6("2001:db8:2::2")}};
    CHECK(text(t.effects) == "probe-dad dev=eth0 address=" + probed->to_string() +
                                 "; start-timer timer=dad-timeout delay=10 s; apply-plan " +
                                 renumbered.to_string());
    CHECK(w.running_state()->reconcile.step == RStep::Applying);
    t = w.send(event::PlanApplied{4});
    CHECK(text(t.effects) == "replace-data-path " + mapping_of(renumbered).to_string());
    CHECK(t.cause.find("renumbered clat-v6 " + before.clat_v6.to_string() + " -> " +
                       probed->to_string()) != std::string::npos);
    CHECK(w.status().binding == renumbered.binding);
    t = w.send(event::DataPathStarted{2});
    CHECK(w.run() == 2);
    CHECK(w.status().translator_restarts == 0);  // a replacement is no restart
    CHECK(t.cause == "data path replaced run=2");
    t = w.dad_done(*probed, false);
    CHECK(text(t.effects) == "cancel-timer timer=dad-timeout");
    CHECK(w.running_state()->dad.verified.back() == *probed);
}

TEST_CASE("a DAD conflict after a renumbering tries another address; the CLAT keeps running") {
    World w;
    running_derived(w);
    w.facts.settings.binding.dad_enable = true;
    w.remove_address(v6("2001:db8:1::2"));
    w.host_address("2001:db8:2::2");
    w.facts_changed();
    const Ipv6Address first = *w.probed();
    w.send(event::PlanApplied{4});
    const Transition t = w.dad_done(first, true);
    REQUIRE(w.probed());
    CHECK(*w.probed() != first);
    CHECK(t.cause.find("dad conflict address=" + first.to_string()) == 0);
    CHECK(w.name() == "Running");
    CHECK(w.running_state()->dad.avoid == std::vector<Ipv6Address>{first});
}

TEST_CASE("a CLAT device deleted and made again moves the data path onto the new one") {
    World w(active_with(running()));
    w.observed.links[3] = Link{3, "clat", "tun", true, true, 1260};
    Transition t = w.facts_changed();  // first sight of the device: nothing to replace
    CHECK(count(t.effects, "replace-data-path " + mapping_of(target()).to_string()) == 0);
    CHECK(w.running_state()->device_index == 3);
    w.send(event::PlanApplied{0});
    // `ip link del clat`: the reconcile puts the device back; no data path move yet.
    w.observed.links.erase(3);
    t = w.facts_changed();
    CHECK(text(t.effects) == apply_text());
    CHECK(w.running_state()->device_index == 3);
    w.send(event::PlanApplied{1});
    // The new device (another index): TAYGA still holds the dead one, so it is replaced.
    w.observed.links[9] = Link{9, "clat", "tun", true, true, 1260};
    t = w.facts_changed();
    CHECK(count(t.effects, "replace-data-path " + mapping_of(target()).to_string()) == 1);
    CHECK(count(t.effects, apply_text()) == 1);  // and the reconcile plans as always
    CHECK(t.notable);
    CHECK(t.cause.find("clat was replaced (index 3 -> 9), restarting the data path on it") == 0);
    CHECK(w.running_state()->device_index == 9);
    CHECK(w.running_state()->translator.phase == TranslatorSupervision::Phase::Starting);
    w.send(event::PlanApplied{0});
    // The same device again: nothing more.
    t = w.facts_changed();
    CHECK(count(t.effects, "replace-data-path " + mapping_of(target()).to_string()) == 0);
}

TEST_CASE("the device a plan made again is seen in the plan's answer, not only in a snapshot") {
    // The reconcile's own netlink echo arrives while it applies, so no snapshot may follow.
    state::Running r = running();
    r.device_index = 3;
    World w(active_with(r));
    w.facts_changed();  // the device is gone: the plan makes it again
    w.observed.links[12] = Link{12, "clat", "tun", true, true, 1260};
    const Transition t = w.send(event::PlanApplied{5});
    CHECK(count(t.effects, "replace-data-path " + mapping_of(target()).to_string()) == 1);
    CHECK(t.cause ==
          "clat was replaced (index 3 -> 12), restarting the data path on it; reconciled, 5 "
          "changes");
    CHECK(w.running_state()->device_index == 12);
    CHECK(w.running_state()->reconcile.step == RStep::Idle);
}

TEST_CASE("a device replaced while the translator waits for its restart is left to the restart") {
    state::Running r = running();
    r.device_index = 3;
    r.translator.phase = TranslatorSupervision::Phase::WaitingRestart;
    World w(active_with(r));
    w.observed.links[4] = Link{4, "clat", "tun", true, true, 1260};
    const Transition t = w.facts_changed();
    CHECK(count(t.effects, "replace-data-path " + mapping_of(target()).to_string()) == 0);
    CHECK(w.running_state()->device_index == 4);
    CHECK(w.running_state()->translator.phase == TranslatorSupervision::Phase::WaitingRestart);
}

TEST_CASE("a failed data path keeps the kernel state ours and stays Failed") {
    World w(active_with(failed()));
    Transition t = w.facts_changed();
    CHECK(w.name() == "Failed");
    CHECK(text(t.effects) == apply_text());
    t = w.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:64::/96"), 900'000});
    CHECK(w.name() == "Failed");  // a refresh of the same prefix
    CHECK(text(t.effects).empty());
    CHECK(publishes(t));  // the expiry shown changed
}

TEST_CASE("fact_edges: uplink, native IPv4 and PREF64 edges, nothing for equal facts") {
    const MachineFacts before = default_facts();
    CHECK(fact_edges(before, before).empty());
    MachineFacts after = before;
    after.now_ms = 5'000;  // time alone is no edge
    CHECK(fact_edges(before, after).empty());

    after.uplink_dev = "eth1";
    after.native_ipv4 = kNativeV4;
    after.pref64 = pref64_plat();
    const auto edges = fact_edges(before, after);
    REQUIRE(edges.size() == 3);
    CHECK(edges[0] == Event{event::UplinkChanged{true}});
    CHECK(edges[1] == Event{event::NativeIpv4Changed{true, kNativeV4}});
    CHECK(edges[2] == Event{event::PlatDiscovered{PlatSource::Pref64, pref64_plat().prefix,
                                                  pref64_plat().expires_at_ms}});
    const auto back = fact_edges(after, before);
    REQUIRE(back.size() == 3);
    CHECK(back[1] == Event{event::NativeIpv4Changed{false, ""}});
    CHECK(std::holds_alternative<event::PlatLost>(back[2]));
}

TEST_CASE("dispatch folds a snapshot's edges and itself into one transition") {
    World w(active_with(running()));
    w.facts.uplink_usable = false;
    w.facts.uplink_dev.clear();
    Transition t = w.facts_changed();
    CHECK(w.name() == "Teardown");
    CHECK(text(t.effects) == "stop-discovery; stop-data-path");
    CHECK(t.cause == "uplink lost");
    CHECK(w.facts_changed().ignored());  // seen: no second edge

    // A PREF64 heard while no prefix is wanted is kept for later, and used once Active.
    World idle;
    idle.facts.uplink_usable = false;
    idle.facts.pref64 = pref64_plat();
    t = idle.facts_changed();
    CHECK(t.notable);
    CHECK(t.cause == "pref64 prefix=2001:db8:6464::/64 lifetime=1800s, kept for later");
    idle.facts.uplink_usable = true;
    idle.facts.settings.v4_conncheck_enable = false;
    t = idle.facts_changed();
    CHECK(w.name() == "Teardown");
    CHECK(idle.name() == "Provision");
    CHECK(idle.status().plat == pref64_plat());
    CHECK(text(t.effects) == "start-discovery; " + apply_text(pref64_plat()));
}

}  // namespace clat::test
