// Provision's steps (SPEC §4): Resolving asks for the route lookup once, a derived address is
// probed by DAD and replaced on conflict, the plan and script-up follow; every failing step
// backs off and retries, saying why.

#include <doctest/doctest.h>

#include "tests/unit/machine_fixture.hpp"

namespace clat::test {
namespace {

/// A world in DiscoverPLAT with the derived binding, about to receive the DNS64 prefix.
void discovering(World& w) {
    w.use_derived();
    w.facts.settings.v4_conncheck_enable = false;
    w.facts_changed();  // the uplink edge
    REQUIRE(w.name() == "DiscoverPLAT");
    REQUIRE(text(w.last.effects) == "start-discovery solicit=eth0");
}

ClatTarget derived_target(const Ipv6Address& address) {
    return ClatTarget{PlatChoice{prefix("2001:db8:64::/96"), PlatSource::Dns64, 1},
                      Binding{"eth0", address, v6("2001:db8:1::2")}};
}

/// Sends the prefix, answers RefreshFacts with the route lookup, and returns the address
/// the machine probes: a derived one is applied at once, while its DAD runs (RFC 4429).
Ipv6Address probe_started(World& w) {
    Transition t = w.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:64::/96"), 1});
    CHECK(text(t.effects) == "refresh-facts");
    CHECK(w.provision()->step == state::Provision::Step::Resolving);
    w.lookup();
    t = w.facts_changed();
    const auto probed = w.probed();
    REQUIRE(probed);
    CHECK(text(t.effects) == "probe-dad dev=eth0 address=" + probed->to_string() +
                                 "; start-timer timer=dad-timeout delay=10 s; apply-plan " +
                                 derived_target(*probed).to_string());
    CHECK(w.provision()->step == state::Provision::Step::Applying);
    CHECK(w.provision()->dad.probing == derived_target(*probed).binding);
    CHECK(w.send(event::DadProbeStarted{*probed, std::nullopt}).ignored());
    return *probed;
}

/// From probe_started to Running, DAD still running.
void converge(World& w, const Ipv6Address& address) {
    Transition t = w.send(event::PlanApplied{6});
    CHECK(text(t.effects) == run_script_text(ScriptKind::Up, derived_target(address).to_string()));
    w.send(event::ScriptFinished{ScriptKind::Up, true, ""});
    REQUIRE(w.name() == "Running");
}

}  // namespace

TEST_CASE("derived address: in use while DAD runs (optimistic), then verified") {
    World w;
    discovering(w);
    const Ipv6Address address = probe_started(w);
    CHECK(address != v6("2001:db8:1::2"));
    CHECK(address.to_string().rfind("2001:db8:1:", 0) == 0);  // in the host's /64

    // Neither the plan nor script-up nor the data path waits for DAD.
    CHECK(w.facts_changed().cause == "observed state changed, reconcile once provisioned");
    Transition t = w.send(event::PlanApplied{6});
    CHECK(text(t.effects) == run_script_text(ScriptKind::Up, derived_target(address).to_string()));
    t = w.send(event::ScriptFinished{ScriptKind::Up, true, ""});
    CHECK(w.name() == "Running");
    CHECK(text(t.effects).find("start-data-path " +
                               mapping_of(derived_target(address)).to_string()) !=
          std::string::npos);
    CHECK(w.status().binding == derived_target(address).binding);
    CHECK(w.running_state()->dad.probing == derived_target(address).binding);

    t = w.dad_done(address, false);
    CHECK(text(t.effects) == "cancel-timer timer=dad-timeout");
    CHECK(t.cause ==
          "dad passed address=" + address.to_string() + " dev=eth0 (in use while probed)");
    CHECK(t.notable);
    CHECK(w.running_state()->dad.verified == std::vector<Ipv6Address>{address});
    CHECK(!w.running_state()->dad.probing);
    CHECK(w.dad_done(address, false).ignored());  // a second report changes nothing
}

TEST_CASE("RefreshFacts is asked for once while Resolving waits for the route lookup") {
    World w;
    discovering(w);
    w.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:64::/96"), 1});
    CHECK(w.provision()->refresh_requested);
    const Transition t = w.facts_changed();  // a burst without the lookup
    CHECK(text(t.effects).empty());
    CHECK(w.provision()->step == state::Provision::Step::Resolving);
}

TEST_CASE("DAD conflict while provisioning: once provisioned, another address replaces it") {
    World w;
    discovering(w);
    const Ipv6Address first = probe_started(w);
    Transition t = w.dad_done(first, true);
    CHECK(w.name() == "Provision");
    CHECK(t.notable);
    CHECK(t.cause == "dad conflict address=" + first.to_string() +
                         " dev=eth0: another node holds it (neighbour advertisement from "
                         "fe80::99); another address once provisioned");
    CHECK(text(t.effects) == "cancel-timer timer=dad-timeout");
    CHECK(w.provision()->dad.avoid == std::vector<Ipv6Address>{first});
    CHECK(w.provision()->dirty);

    w.send(event::PlanApplied{6});
    t = w.send(event::ScriptFinished{ScriptKind::Up, true, ""});
    CHECK(w.name() == "Running");
    const auto second = w.probed();
    REQUIRE(second);
    CHECK(*second != first);
    CHECK(text(t.effects).find("probe-dad dev=eth0 address=" + second->to_string() +
                               "; start-timer timer=dad-timeout delay=10 s; apply-plan " +
                               derived_target(*second).to_string()) != std::string::npos);
    t = w.send(event::PlanApplied{4});
    CHECK(text(t.effects) ==
          "replace-data-path " + mapping_of(derived_target(*second)).to_string());
    CHECK(w.status().binding == derived_target(*second).binding);
    t = w.dad_done(*second, false);
    CHECK(w.running_state()->dad.verified == std::vector<Ipv6Address>{*second});
}

TEST_CASE("DAD conflict while Running: rolled back to another address at once") {
    World w;
    discovering(w);
    const Ipv6Address first = probe_started(w);
    converge(w, first);
    Transition t = w.dad_done(first, true);
    const auto second = w.probed();
    REQUIRE(second);
    CHECK(*second != first);
    CHECK(text(t.effects) ==
          "cancel-timer timer=dad-timeout; probe-dad dev=eth0 address=" + second->to_string() +
              "; start-timer timer=dad-timeout delay=10 s; apply-plan " +
              derived_target(*second).to_string());
    CHECK(t.notable);
    t = w.send(event::PlanApplied{4});
    CHECK(text(t.effects) ==
          "replace-data-path " + mapping_of(derived_target(*second)).to_string());
    CHECK(w.running_state()->dad.avoid == std::vector<Ipv6Address>{first});
    CHECK(w.running_state()->dad.probing == derived_target(*second).binding);
}

TEST_CASE("five DAD conflicts in a row while Running back off; the retry probes a sixth") {
    World w;
    discovering(w);
    Ipv6Address probing = probe_started(w);
    converge(w, probing);
    for (int conflict = 1; conflict <= kDadAttempts; ++conflict) {
        CAPTURE(conflict);
        w.dad_done(probing, true);
        if (conflict < kDadAttempts) {
            REQUIRE(w.probed());
            probing = *w.probed();
            w.send(event::PlanApplied{4});
        }
    }
    CHECK(w.running_state()->reconcile.step == state::Reconcile::Step::RetryWait);
    CHECK(text(w.last.effects) ==
          "cancel-timer timer=dad-timeout; start-timer timer=reconcile-retry delay=1 s");
    CHECK(w.status().last_error.find("DAD failed for 5 addresses in a row") != std::string::npos);
    w.at(1'000);
    w.send(event::TimerExpired{Timer::ReconcileRetry});
    REQUIRE(w.probed());
    CHECK(w.running_state()->dad.avoid.size() == 5);
}

TEST_CASE("a configured clat-v6-addr waits for DAD; in use, it fails at once, naming it") {
    World w;
    discovering(w);
    w.facts.settings.binding.clat_v6 = v6("2001:db8:1::99");
    w.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:64::/96"), 1});
    w.lookup();
    w.facts_changed();
    REQUIRE(w.probed() == v6("2001:db8:1::99"));
    CHECK(w.provision()->step == state::Provision::Step::ProbingDad);
    CHECK(text(w.last.effects).find("apply-plan") == std::string::npos);
    CHECK(w.facts_changed().ignored());
    SUBCASE("in use") {
        w.dad_done(v6("2001:db8:1::99"), true);
        CHECK(w.provision()->step == state::Provision::Step::RetryWait);
        CHECK(w.status().last_error.find("the configured clat-v6-addr 2001:db8:1::99 is in use "
                                         "by another node") != std::string::npos);
    }
    SUBCASE("passed") {
        const Transition t = w.dad_done(v6("2001:db8:1::99"), false);
        CHECK(w.provision()->step == state::Provision::Step::Applying);
        CHECK(text(t.effects).find("cancel-timer timer=dad-timeout; end-dad-probe; apply-plan") ==
              0);
    }
}

TEST_CASE("a DAD probe that cannot start, or never concludes, fails the attempt") {
    SUBCASE("the probe could not start") {
        World w;
        discovering(w);
        const Ipv6Address address = probe_started(w);
        const Transition t = w.send(event::DadProbeStarted{address, "EPERM"});
        CHECK(text(t.effects) ==
              "cancel-timer timer=dad-timeout; start-timer timer=provision-retry delay=1 s");
        CHECK(w.status().last_error == "DAD probe: EPERM");
        CHECK(!w.provision()->dad.probing);
    }
    SUBCASE("the timeout fires") {
        World w;
        discovering(w);
        probe_started(w);
        const Transition t = w.send(event::TimerExpired{Timer::DadTimeout});
        CHECK(text(t.effects) == "end-dad-probe; start-timer timer=provision-retry delay=1 s");
        CHECK(w.status().last_error == "DAD did not finish on eth0 within 10 s");
    }
    SUBCASE("Running: the retry probes the address in use again") {
        World w;
        discovering(w);
        const Ipv6Address address = probe_started(w);
        converge(w, address);
        w.send(event::DadProbeStarted{address, "EPERM"});
        CHECK(w.running_state()->reconcile.step == state::Reconcile::Step::RetryWait);
        w.at(1'000);
        w.send(event::TimerExpired{Timer::ReconcileRetry});
        CHECK(w.probed() == address);
    }
}

TEST_CASE("provisioning failures back off and retry, saying why") {
    World w(active_with(provision_at(state::Provision::Step::Applying)));
    std::int64_t now = 0;
    for (std::int64_t expected : {1'000, 2'000, 4'000, 8'000, 16'000, 32'000, 60'000, 60'000}) {
        CAPTURE(expected);
        Transition t = w.send(event::PlanFailed{"add route: EPERM"});
        CHECK(w.name() == "Provision");
        CHECK(text(t.effects) ==
              "start-timer timer=provision-retry delay=" + duration_text(expected));
        CHECK(w.status().reason ==
              "provisioning failed: add route: EPERM; retrying in " + duration_text(expected));
        CHECK(w.send(event::PlanFailed{"late duplicate"}).ignored());
        w.at(now + expected - 1);
        CHECK(w.send(event::TimerExpired{Timer::ProvisionRetry}).ignored());
        now += expected;
        w.at(now);
        t = w.send(event::TimerExpired{Timer::ProvisionRetry});
        CHECK(text(t.effects) == apply_text());
        CHECK(w.status().reason == "retrying provisioning after: add route: EPERM");
    }
    w.provisioned();
    CHECK(w.name() == "Running");
}

TEST_CASE("derived on a host with only a /128: waits naming the cause and the keys, no plan") {
    World w;
    w.use_derived();
    w.observed.addresses_v6.clear();
    w.observed.addresses_v6.push_back(AddressV6{2, v6("2001:db8:1::2"), 128});
    w.facts.settings.v4_conncheck_enable = false;
    w.facts_changed();
    REQUIRE(w.name() == "DiscoverPLAT");
    w.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:64::/96"), 1});
    w.lookup();
    Transition t = w.facts_changed();
    CHECK(text(t.effects) == "start-timer timer=provision-retry delay=1 s");  // no plan, no DAD
    CHECK(w.provision()->step == state::Provision::Step::RetryWait);
    const std::string reason = w.status().reason;
    CHECK(reason.find("provisioning failed: clat-v6-addr=derived needs a prefix to derive a "
                      "second address in") == 0);
    CHECK(reason.find("only single addresses (2001:db8:1::2/128") != std::string::npos);
    CHECK(reason.find("set clat-v6-addr=shared") != std::string::npos);
    CHECK(reason.find("or clat-v6-addr to a static address") != std::string::npos);
    // The retry finds the same, and still changes nothing.
    w.at(1'000);
    t = w.send(event::TimerExpired{Timer::ProvisionRetry});
    CHECK(text(t.effects) == "start-timer timer=provision-retry delay=2 s");
    // A static address keeps working on the same host.
    World s;
    s.use_derived();
    s.observed.addresses_v6.clear();
    s.observed.addresses_v6.push_back(AddressV6{2, v6("2001:db8:1::2"), 128});
    s.facts.settings.binding.clat_v6 = v6("2001:db8:77::c1a7");
    s.facts.settings.binding.dad_enable = false;
    s.facts.settings.v4_conncheck_enable = false;
    s.facts_changed();
    s.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:64::/96"), 1});
    s.lookup();
    t = s.facts_changed();
    CHECK(text(t.effects) ==
          "apply-plan plat=2001:db8:64::/96 source=dns64 dev=eth0 clat-v6=2001:db8:77::c1a7");
}

TEST_CASE("a failed script-up undoes what was applied and retries") {
    World w(active_with(provision_at(state::Provision::Step::ScriptUp)));
    Transition t = w.send(event::ScriptFinished{ScriptKind::Up, false, "exited with status 2"});
    CHECK(text(t.effects) ==
          std::string(kScriptTimerOff) + "; undo-all; start-timer timer=provision-retry delay=1 s");
    CHECK(w.status().reason ==
          "provisioning failed: script-up exited with status 2; retrying "
          "in 1 s");
    CHECK(w.send(event::ScriptFinished{ScriptKind::Down, true, ""}).ignored());
    w.at(1'000);
    t = w.send(event::TimerExpired{Timer::ProvisionRetry});
    CHECK(text(t.effects) == apply_text());
}

TEST_CASE("a script-up that outlives script-timeout is killed, then the provisioning fails") {
    World w(active_with(provision_at(state::Provision::Step::Applying)));
    w.facts.settings.script_timeout_ms = 5'000;
    Transition t = w.send(event::PlanApplied{3});
    CHECK(text(t.effects) ==
          "run-script kind=up " + target_text() + "; start-timer timer=script-timeout delay=5 s");
    w.facts.settings.script_timeout_ms = 9'000;  // a reload meanwhile: the next script's limit
    t = w.send(event::TimerExpired{Timer::ScriptTimeout});
    CHECK(text(t.effects) == "cancel-script");
    CHECK(t.cause == "script-up timed out after 5 s, killing it");
    CHECK(t.notable);
    CHECK(w.name() == "Provision");
    CHECK(w.send(event::TimerExpired{Timer::ScriptTimeout}).ignored());  // killed once
    // Undone only once the script has gone: it could re-add what the undo removes.
    t = w.send(event::ScriptFinished{ScriptKind::Up, false, "killed by signal 15 (Terminated)"});
    CHECK(text(t.effects) ==
          "cancel-timer timer=script-timeout; undo-all; start-timer timer=provision-retry "
          "delay=1 s");
    CHECK(w.status().reason ==
          "provisioning failed: script-up timed out after 5 s; retrying in 1 s");
    CHECK(w.provision()->step == state::Provision::Step::RetryWait);
    CHECK(w.provision()->script_killed.empty());
    w.at(1'000);
    t = w.send(event::TimerExpired{Timer::ProvisionRetry});
    CHECK(text(t.effects) == apply_text());
    t = w.send(event::PlanApplied{3});
    CHECK(text(t.effects) ==
          "run-script kind=up " + target_text() + "; start-timer timer=script-timeout delay=9 s");
}

TEST_CASE("a script-up that exits 0 just as it times out has done its work") {
    World w(active_with(provision_at(state::Provision::Step::ScriptUp)));
    w.send(event::TimerExpired{Timer::ScriptTimeout});
    const Transition t = w.send(event::ScriptFinished{ScriptKind::Up, true, ""});
    CHECK(text(t.effects) == "cancel-timer timer=script-timeout; " + start_dp_text());
    CHECK(w.name() == "Running");
}

TEST_CASE("script-timeout=0: script-up runs without a timer") {
    World w(active_with(provision_at(state::Provision::Step::Applying)));
    w.facts.settings.script_timeout_ms = 0;
    const Transition t = w.send(event::PlanApplied{3});
    CHECK(text(t.effects) == "run-script kind=up " + target_text());
}

TEST_CASE("changes during provisioning are reconciled once provisioned") {
    for (auto step : {state::Provision::Step::Applying, state::Provision::Step::ScriptUp}) {
        CAPTURE(static_cast<int>(step));
        World w(active_with(provision_at(step)));
        Transition t = w.facts_changed();
        CHECK(t.cause == "observed state changed, reconcile once provisioned");
        CHECK(text(t.effects).empty());
        CHECK(w.facts_changed().ignored());  // once is enough
        if (step == state::Provision::Step::Applying)
            w.send(event::PlanApplied{2});
        t = w.send(event::ScriptFinished{ScriptKind::Up, true, ""});
        CHECK(text(t.effects) ==
              std::string(kScriptTimerOff) + "; " + start_dp_text() + "; " + apply_text());
        CHECK(w.running_state()->reconcile.step == state::Reconcile::Step::Applying);
    }
}

TEST_CASE("a new prefix while DAD runs keeps the probe; reconciled once provisioned") {
    World w;
    discovering(w);
    const Ipv6Address address = probe_started(w);
    const Transition t =
        w.send(event::PlatDiscovered{PlatSource::Pref64, prefix("2001:db8:6464::/64"), 9'000});
    CHECK(text(t.effects) == "stop-solicitation");
    CHECK(w.status().plat->prefix == prefix("2001:db8:6464::/64"));
    CHECK(w.provision()->dirty);
    CHECK(w.provision()->dad.probing->clat_v6 == address);
}

TEST_CASE("a new prefix while a configured address waits for DAD abandons the probe") {
    World w;
    discovering(w);
    w.facts.settings.binding.clat_v6 = v6("2001:db8:1::99");
    w.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:64::/96"), 1});
    w.lookup();
    w.facts_changed();
    REQUIRE(w.provision()->step == state::Provision::Step::ProbingDad);
    const Transition t =
        w.send(event::PlatDiscovered{PlatSource::Pref64, prefix("2001:db8:6464::/64"), 9'000});
    CHECK(text(t.effects) ==
          "stop-solicitation; cancel-timer timer=dad-timeout; end-dad-probe; refresh-facts");
}

}  // namespace clat::test
