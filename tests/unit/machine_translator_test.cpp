// Data path supervision in Running (SPEC §9): exponential back-off with a cap, a visible
// Failed state after repeated fast failures, and the ways out of it. Runs are numbered by the
// data path port; a report about an older run is stale.

#include <doctest/doctest.h>

#include "tests/unit/machine_fixture.hpp"

namespace clat::test {
namespace {

/// Lets the running translator exit after running for run_ms, then fires the restart timer
/// when due and reports the new child. Returns the restart delay, or -1 when it gave up.
std::int64_t crash_and_restart(World& w, std::int64_t run_ms, const std::string& status) {
    const state::Running* r = w.running_state();
    REQUIRE(r);
    const std::uint64_t run = w.run();
    REQUIRE(run != 0);
    w.at(r->translator.started_at_ms + run_ms);
    Transition t = w.send(event::DataPathExited{run, status});
    if (w.name() == "Failed") {
        CHECK(text(t.effects).empty());
        return -1;
    }
    const std::int64_t delay = w.running_state()->translator.restart_at_ms - w.facts.now_ms;
    CHECK(text(t.effects) == "start-timer timer=translator-restart delay=" + duration_text(delay));
    CHECK(w.status().reason == "translator " + status + "; restarting in " + duration_text(delay));
    CHECK(w.send(event::DataPathExited{run, status}).ignored());  // a duplicate report

    w.at(w.facts.now_ms + delay - 1);
    CHECK(w.send(event::TimerExpired{Timer::TranslatorRestart}).ignored());
    w.at(w.facts.now_ms + 1);
    t = w.send(event::TimerExpired{Timer::TranslatorRestart});
    CHECK(text(t.effects) == start_dp_text());
    w.send(event::DataPathStarted{run + 1});
    CHECK(w.run() == run + 1);
    return delay;
}

}  // namespace

TEST_CASE("a killed translator restarts with back-off 1, 2, 4 ... capped at 60 s") {
    World w(active_with(running(100, 0)));
    int restarts = 0;
    for (std::int64_t expected :
         {1'000, 2'000, 4'000, 8'000, 16'000, 32'000, 60'000, 60'000, 60'000}) {
        CAPTURE(expected);
        // 20 s runs are neither fast failures nor stable runs: the back-off keeps growing.
        CHECK(crash_and_restart(w, 20'000, "killed by signal 9") == expected);
        CHECK(w.name() == "Running");
        CHECK(w.status().translator_restarts == ++restarts);
    }
}

TEST_CASE("exit reports about another run are ignored") {
    World w(active_with(running(100, 0)));
    CHECK(w.send(event::DataPathExited{99, "exited with status 0"}).ignored());
    CHECK(w.run() == 100);
}

TEST_CASE("a data path replaced by a reconcile is followed, and is no restart") {
    state::Running replacing = running(100, 0);
    replacing.translator.phase = TranslatorSupervision::Phase::Starting;  // ReplaceDataPath
    World w(active_with(replacing));
    auto t = w.send(event::DataPathStarted{200});
    CHECK_FALSE(t.ignored());
    CHECK(w.name() == "Running");
    CHECK(w.run() == 200);
    CHECK(w.status().translator_restarts == 0);
    // The old child's report is stale now; the new child's crash is supervised.
    CHECK(w.send(event::DataPathExited{100, "exited with status 0"}).ignored());
    CHECK(crash_and_restart(w, 20'000, "killed by signal 9") == 1'000);
    CHECK(w.status().translator_restarts == 1);
}

TEST_CASE("a stable run resets the back-off") {
    World w(active_with(running(100, 0)));
    CHECK(crash_and_restart(w, 20'000, "exited with status 1") == 1'000);
    CHECK(crash_and_restart(w, 20'000, "exited with status 1") == 2'000);
    CHECK(crash_and_restart(w, 20'000, "exited with status 1") == 4'000);
    CHECK(crash_and_restart(w, kStableRunMs, "exited with status 1") == 1'000);
}

TEST_CASE("repeated fast failures end in a visible Failed state instead of spinning") {
    World w(active_with(running(100, 0)));
    for (std::int64_t expected : {1'000, 2'000, 4'000, 8'000})
        CHECK(crash_and_restart(w, 500, "exited with status 1") == expected);
    CHECK(crash_and_restart(w, 500, "exited with status 1") == -1);
    CHECK(w.name() == "Failed");
    CHECK(w.last.cause == "translator gave up: exited with status 1");
    CHECK(w.status().reason ==
          "translator failed 5 times within 300 s, last exited with status 1; waiting for "
          "reload, rediscover or an uplink change");
    CHECK(w.status().translator_restarts == 4);
    CHECK(w.run() == 0);
    CHECK(w.status().plat == dns64_plat());  // still provisioned: Failed is an Active state
    CHECK(w.send(event::TimerExpired{Timer::TranslatorRestart}).ignored());
    CHECK(w.send(event::DataPathExited{0, "exited with status 1"}).ignored());
}

TEST_CASE("a spawn failure counts as a fast failure") {
    state::Running starting = running();
    starting.translator = TranslatorSupervision{};  // StartDataPath outstanding
    World w(active_with(starting));
    const Transition t = w.send(event::DataPathExited{0, "failed to start: ENOENT"});
    CHECK(text(t.effects) == "start-timer timer=translator-restart delay=1 s");
    CHECK(w.running_state()->translator.fast_failures.size() == 1);
}

TEST_CASE("fast failures spread wider than the window do not give up") {
    World w(active_with(running(100, 0)));
    for (int i = 0; i < 8; ++i) {
        const state::Running* r = w.running_state();
        REQUIRE(r);
        w.at(r->translator.started_at_ms + 500);
        w.send(event::DataPathExited{w.run(), "exited with status 1"});
        REQUIRE(w.name() == "Running");
        w.at(w.facts.now_ms + 80'000);  // the agent restarts it 80 s later each time
        w.send(event::TimerExpired{Timer::TranslatorRestart});
        w.send(event::DataPathStarted{200 + static_cast<std::uint64_t>(i)});
    }
    CHECK(w.status().translator_restarts == 8);
}

TEST_CASE("recovery from Failed: reload, rediscover, an uplink change or a new prefix") {
    const std::string revive = apply_text() + "; " + start_dp_text();
    const std::string solicit = "start-discovery solicit=eth0; ";
    ConfigDiff logging;
    logging.logging = true;
    ConfigDiff clat;
    clat.clat = true;
    struct Case {
        const char* what;
        Event event;
        std::string effects;
    };
    const Case cases[] = {
        {"reload", event::ConfigReloaded{logging}, revive},
        {"reload-clat", event::ConfigReloaded{clat}, revive},
        {"rediscover", event::RediscoverRequested{}, solicit + revive},
        {"uplink", event::UplinkChanged{true}, solicit + revive},
        {"pref64", event::PlatDiscovered{PlatSource::Pref64, prefix("2001:db8:6464::/64"), 9},
         "stop-solicitation; " + apply_text(pref64_plat()) + "; " + start_dp_text(pref64_plat())},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        state::Failed f = failed();
        f.translator.restarts = 4;
        f.translator.backoff_steps = 4;  // 16 s next
        World w(active_with(f));
        const Transition t = w.send(c.event);
        CHECK(w.name() == "Running");
        CHECK(text(t.effects) == c.effects);
        CHECK(w.status().translator_restarts == 5);
        w.send(event::PlanApplied{0});
        w.send(event::DataPathStarted{300});
        w.at(w.facts.now_ms + 100);
        const Transition exit = w.send(event::DataPathExited{300, "exited with status 1"});
        CHECK(text(exit.effects) == "start-timer timer=translator-restart delay=1 s");
    }
}

TEST_CASE("the scaled policy keeps the default ratios") {
    CHECK(scaled_policy(1'000) == SupervisionPolicy{});
    const SupervisionPolicy p = scaled_policy(50);
    CHECK(p.initial_delay_ms == 50);
    CHECK(p.max_delay_ms == 3'000);
    CHECK(p.fast_failure_ms == 500);
    CHECK(p.stable_run_ms == 3'000);
    CHECK(p.failure_window_ms == 15'000);
    CHECK(p.fast_failure_limit == kFastFailureLimit);
    CHECK(scaled_policy(0).initial_delay_ms == 1);  // never a zero delay that would spin
    CHECK(restart_delay_ms(p, 0) == 50);
    CHECK(restart_delay_ms(p, 5) == 1'600);
    CHECK(restart_delay_ms(p, 6) == 3'000);
    CHECK(restart_delay_ms(p, 1'000) == 3'000);
}

TEST_CASE("tayga-restart-delay scales the back-off and its cap") {
    World w(active_with(running(100, 0)));
    w.facts.settings.tayga_restart_delay_ms = 50;
    // 2 s runs: neither fast failures (< 500 ms) nor stable runs (>= 3 s).
    for (std::int64_t expected : {50, 100, 200, 400, 800, 1'600, 3'000, 3'000}) {
        CAPTURE(expected);
        CHECK(crash_and_restart(w, 2'000, "killed by signal 9") == expected);
    }
    CHECK(w.status().translator_restarts == 8);
    CHECK(crash_and_restart(w, 3'000, "killed by signal 9") == 50);  // a stable run resets
    CHECK(crash_and_restart(w, 2'999, "killed by signal 9") == 100);
}

TEST_CASE("tayga-restart-delay scales the fast-failure limit and its window") {
    World w(active_with(running(100, 0)));
    w.facts.settings.tayga_restart_delay_ms = 50;
    // Runs of 500 ms are not fast failures at this scale; they do not count towards giving up.
    for (int i = 0; i < 6; ++i)
        CHECK(crash_and_restart(w, 500, "killed by signal 9") > 0);
    for (std::int64_t expected : {3'000, 3'000, 3'000, 3'000})
        CHECK(crash_and_restart(w, 499, "killed by signal 9") == expected);
    CHECK(crash_and_restart(w, 499, "killed by signal 9") == -1);
    CHECK(w.status().reason ==
          "translator failed 5 times within 15 s, last killed by signal 9; waiting for reload, "
          "rediscover or an uplink change");
    // Out of Failed the history is forgotten: the first delay is the scaled one again.
    w.send(event::RediscoverRequested{});
    w.send(event::DataPathStarted{900});
    CHECK(crash_and_restart(w, 10, "killed by signal 9") == 50);
}

TEST_CASE("scaled fast failures spread wider than the scaled window do not give up") {
    World w(active_with(running(100, 0)));
    w.facts.settings.tayga_restart_delay_ms = 50;
    for (int i = 0; i < 8; ++i) {
        const state::Running* r = w.running_state();
        REQUIRE(r);
        w.at(r->translator.started_at_ms + 100);
        w.send(event::DataPathExited{w.run(), "exited with status 1"});
        REQUIRE(w.name() == "Running");
        w.at(w.facts.now_ms + 4'000);  // 4 s apart: 4 of them span more than 15 s
        w.send(event::TimerExpired{Timer::TranslatorRestart});
        w.send(event::DataPathStarted{200 + static_cast<std::uint64_t>(i)});
    }
    CHECK(w.status().translator_restarts == 8);
}

}  // namespace clat::test
