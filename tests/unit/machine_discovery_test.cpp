// PLAT prefix selection (SPEC §5) and how the machine follows discovery: configuration over
// PREF64 over DNS64, the fallback last, no prefix -> stay and say why, changes reconciled.

#include <doctest/doctest.h>

#include "tests/unit/machine_fixture.hpp"

namespace clat::test {

TEST_CASE("select_prefix: configuration, then PREF64, then DNS64, then the fallback") {
    const auto config = prefix("2001:db8:c0::/96");
    const auto fallback = prefix("2001:db8:fb::/96");
    const Dns64Verdict found{dns64_plat(), true, ""};
    const Dns64Verdict none{std::nullopt, true, "DNS64 found nothing"};
    const Dns64Verdict pending{};
    struct Case {
        const char* what;
        std::optional<Ipv6Prefix> config;
        std::optional<PlatChoice> pref64;
        Dns64Verdict dns64;
        std::optional<Ipv6Prefix> fallback;
        std::optional<PlatChoice> expected;
    };
    const Case cases[] = {
        {"config over all", config, pref64_plat(), found, fallback,
         PlatChoice{config, PlatSource::Config, std::nullopt}},
        {"PREF64 over DNS64", std::nullopt, pref64_plat(), found, fallback, pref64_plat()},
        {"DNS64 over fallback", std::nullopt, std::nullopt, found, fallback, dns64_plat()},
        {"fallback last", std::nullopt, std::nullopt, none, fallback,
         PlatChoice{fallback, PlatSource::Fallback, std::nullopt}},
        {"fallback held while DNS64 pending", std::nullopt, std::nullopt, pending, fallback,
         std::nullopt},
        {"nothing", std::nullopt, std::nullopt, none, std::nullopt, std::nullopt},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        CHECK(select_prefix(c.config, c.pref64, c.dns64, c.fallback) == c.expected);
    }
}

TEST_CASE("why_no_prefix says what discovery found") {
    PlatCandidates c;
    CHECK(why_no_prefix(c, true, false) ==
          "no PLAT prefix: DNS64 query pending, no PREF64, no fallback");
    CHECK(why_no_prefix(c, true, true) ==
          "no PLAT prefix: DNS64 query pending, no PREF64, fallback held until DNS64 answers");
    record_lost(c, PlatSource::Dns64, "");
    CHECK(why_no_prefix(c, true, false) ==
          "no PLAT prefix: DNS64 found nothing, no PREF64, no fallback");
    record_lost(c, PlatSource::Dns64, "DNS64 query timed out");
    CHECK(why_no_prefix(c, false, false) ==
          "no PLAT prefix: DNS64 query timed out, PREF64 disabled, no fallback");
}

TEST_CASE("no prefix: DiscoverPLAT stays, says why, and takes the fallback once DNS64 gave up") {
    World w(state::ProbeV4{true, 0, ""});
    w.send(event::TimerExpired{Timer::HoldDown});
    REQUIRE(w.name() == "DiscoverPLAT");
    Transition t = w.send(event::PlatLost{PlatSource::Dns64, ""});
    CHECK(w.name() == "DiscoverPLAT");
    CHECK(text(t.effects).empty());
    CHECK(publishes(t));
    CHECK(w.status().reason == "no PLAT prefix: DNS64 found nothing, no PREF64, no fallback");

    World f(state::ProbeV4{true, 0, ""});
    f.facts.settings.plat_fallback_prefix = prefix("2001:db8:fb::/96");
    f.send(event::TimerExpired{Timer::HoldDown});
    CHECK(f.name() == "DiscoverPLAT");  // not before DNS64 has answered
    t = f.send(event::PlatLost{PlatSource::Dns64, "DNS64 query timed out"});
    CHECK(f.name() == "Provision");
    CHECK(text(t.effects) ==
          apply_text(PlatChoice{prefix("2001:db8:fb::/96"), PlatSource::Fallback, std::nullopt}));
}

TEST_CASE("PREF64 is preferred over DNS64, also when it arrives later") {
    World w(state::ProbeV4{true, 0, ""});
    w.send(event::TimerExpired{Timer::HoldDown});
    w.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:64::/96"), 300'000});
    REQUIRE(w.name() == "Provision");
    Transition t =
        w.send(event::PlatDiscovered{PlatSource::Pref64, prefix("2001:db8:6464::/64"), 1'800'000});
    CHECK(w.name() == "Provision");
    CHECK(text(t.effects) == "stop-solicitation");
    CHECK(t.cause == "pref64 prefix=2001:db8:6464::/64 lifetime=1800s, reconcile once provisioned");
    CHECK(w.status().plat == pref64_plat());
    t = w.send(event::PlanApplied{6});  // the plan in flight, for DNS64's prefix
    CHECK(text(t.effects) == run_script_text(ScriptKind::Up, target_text(pref64_plat())));
    t = w.send(event::ScriptFinished{ScriptKind::Up, true, ""});
    CHECK(text(t.effects) == std::string(kScriptTimerOff) + "; " + start_dp_text(pref64_plat()) +
                                 "; " + apply_text(pref64_plat()));
    w.send(event::PlanApplied{2});

    // PREF64 withdrawn: back to DNS64 without leaving Running.
    t = w.send(event::PlatLost{PlatSource::Pref64, "PREF64 lifetime 0 on eth0"});
    CHECK(w.name() == "Running");
    CHECK(text(t.effects) == apply_text());
    t = w.send(event::PlanApplied{2});
    CHECK(text(t.effects) == "replace-data-path " + mapping_of(target()).to_string());
}

TEST_CASE("with pref64-enable off, PREF64 reports are ignored") {
    World w(active_with(running()));
    w.facts.settings.pref64_enable = false;
    CHECK(w.send(event::PlatDiscovered{PlatSource::Pref64, prefix("2001:db8:6464::/64"), 1})
              .ignored());
}

TEST_CASE("Running: a refreshed prefix updates the expiry, a new one reconciles") {
    World w(active_with(running()));
    Transition t = w.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:64::/96"), 7});
    CHECK(text(t.effects).empty());
    CHECK(publishes(t));
    CHECK(w.status().plat->expires_at_ms == 7);
    t = w.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:65::/96"), 8});
    CHECK(w.name() == "Running");
    const PlatChoice moved{prefix("2001:db8:65::/96"), PlatSource::Dns64, 8};
    CHECK(text(t.effects) == apply_text(moved));
    CHECK(w.run() == 100);  // the data path keeps running until the plan is in place
}

TEST_CASE("Running: losing the only prefix tears down and rediscovers, skipping ProbeV4") {
    World w(active_with(running()));
    Transition t = w.send(event::PlatLost{PlatSource::Dns64, ""});
    CHECK(w.name() == "Teardown");
    CHECK(text(t.effects) == "stop-discovery; stop-data-path");
    w.send(event::DataPathStopped{});
    w.send(event::ScriptFinished{ScriptKind::Down, true, ""});
    t = w.send(event::Undone{});
    CHECK(w.name() == "DiscoverPLAT");
    CHECK(text(t.effects) == "start-discovery solicit=eth0");
}

TEST_CASE("rediscover restarts discovery now, unless the prefix is configured") {
    World w(active_with(running()));
    Transition t = w.send(event::RediscoverRequested{});
    CHECK(w.name() == "Running");
    CHECK(text(t.effects) == "start-discovery solicit=eth0");

    World c;
    c.facts.settings.v4_conncheck_enable = false;
    c.facts.settings.plat_prefix = prefix("2001:db8:c0::/96");
    c.send(event::UplinkChanged{true});
    c.provisioned();
    REQUIRE(c.name() == "Running");
    t = c.send(event::RediscoverRequested{});
    CHECK(text(t.effects).empty());
    CHECK(t.cause == "rediscovery requested, plat-prefix is configured");
}

}  // namespace clat::test
