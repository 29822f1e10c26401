// The state machine (SPEC §4): what all states share, each teardown step, the happy path with a
// fake clock, ProbeV4's hold-down, stop in every state and step, and the exhaustive check that
// an ignored event changes nothing.

#include <doctest/doctest.h>

#include "tests/unit/machine_fixture.hpp"

namespace clat::test {
namespace {

/// The shared events, each with the facts the agent would hold when posting it.
std::pair<Event, MachineFacts> shared_event(const std::string& label) {
    MachineFacts facts = default_facts(20'000);
    if (label == "stop")
        return {event::StopRequested{"SIGTERM"}, facts};
    if (label == "uplink-lost") {
        facts.uplink_usable = false;
        facts.uplink_dev.clear();
        return {event::UplinkChanged{false}, facts};
    }
    if (label == "native-v4") {
        facts.native_ipv4 = kNativeV4;
        return {event::NativeIpv4Changed{true, kNativeV4}, facts};
    }
    ConfigDiff diff;
    diff.logging = label == "reload-logging";
    diff.clat = label == "reload-clat";
    diff.discovery = label == "reload-discovery";
    diff.data_path = label == "reload-data-path";
    if (label == "reload-device") {  // clat-dev changes three groups at once
        diff.clat = true;
        diff.device = true;
        diff.data_path = true;
    }
    return {event::ConfigReloaded{diff}, facts};
}

struct Row {
    const char* state;
    const char* event;
    const char* next;     ///< state name afterwards
    std::string effects;  ///< golden text, PublishStatus left out
};

constexpr const char* kHold = "start-timer timer=hold-down delay=10 s";
constexpr const char* kDiscover = "start-discovery solicit=eth0";
std::string replace_dp_text() {
    return "replace-data-path " + mapping_of(target()).to_string();
}

}  // namespace

TEST_CASE("shared events from every state and step: uplink lost, native IPv4, stop") {
    const std::string stop_dp = "stop-discovery; stop-data-path";
    const std::string undo = "stop-discovery; undo-all";
    const std::string dad = "cancel-timer timer=dad-timeout; " + undo;
    const std::string retry = "cancel-timer timer=provision-retry; " + undo;
    const std::string restart = "cancel-timer timer=translator-restart; " + stop_dp;
    const std::string rec = "cancel-timer timer=reconcile-retry; " + stop_dp;
    const std::string script =
        std::string(kScriptTimerOff) + "; stop-discovery; cancel-script; undo-all";
    const Row rows[] = {
        {"Idle", "uplink-lost", "Idle", ""},
        {"Idle", "native-v4", "Idle", ""},
        {"Idle", "stop", "Teardown", "undo-all"},
        {"ProbeV4 holding", "uplink-lost", "Idle", "cancel-timer timer=hold-down"},
        {"ProbeV4 holding", "native-v4", "ProbeV4", kHold},
        {"ProbeV4 holding", "stop", "Teardown", "cancel-timer timer=hold-down; undo-all"},
        {"ProbeV4 native", "uplink-lost", "Idle", "cancel-timer timer=hold-down"},
        {"ProbeV4 native", "stop", "Teardown", "cancel-timer timer=hold-down; undo-all"},
        {"DiscoverPLAT", "uplink-lost", "Teardown", undo},
        {"DiscoverPLAT", "native-v4", "Teardown", undo},
        {"DiscoverPLAT", "stop", "Teardown", undo},
        {"Provision resolving", "uplink-lost", "Teardown", undo},
        {"Provision resolving", "stop", "Teardown", undo},
        {"Provision probing DAD", "uplink-lost", "Teardown", dad},
        {"Provision probing DAD", "native-v4", "Teardown", dad},
        {"Provision probing DAD", "stop", "Teardown", dad},
        {"Provision applying", "native-v4", "Teardown", undo},
        {"Provision applying", "stop", "Teardown", undo},
        {"Provision script-up", "uplink-lost", "Teardown", script},
        {"Provision script-up", "stop", "Teardown", script},
        {"Provision retry wait", "uplink-lost", "Teardown", retry},
        {"Provision retry wait", "stop", "Teardown", retry},
        {"Running", "uplink-lost", "Teardown", stop_dp},
        {"Running", "native-v4", "Teardown", stop_dp},
        {"Running", "stop", "Teardown", stop_dp},
        {"Running restart wait", "uplink-lost", "Teardown", restart},
        {"Running restart wait", "stop", "Teardown", restart},
        {"Running reconciling", "stop", "Teardown", stop_dp},
        {"Running reconcile wait", "uplink-lost", "Teardown", rec},
        {"Running reconcile wait", "stop", "Teardown", rec},
        {"Failed", "uplink-lost", "Teardown", stop_dp},
        {"Failed", "native-v4", "Teardown", stop_dp},
        {"Failed", "stop", "Teardown", stop_dp},
        {"Teardown stopping data path", "stop", "Teardown", ""},
        {"Teardown script-down", "uplink-lost", "Teardown", ""},
        {"Teardown", "native-v4", "Teardown", ""},
        {"Teardown", "stop", "Teardown", ""},
        {"Teardown exiting", "stop", "Teardown", ""},
        {"Stopped", "stop", "Stopped", ""},
        {"Stopped", "uplink-lost", "Stopped", ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.state);
        CAPTURE(row.event);
        auto [event, facts] = shared_event(row.event);
        const Transition t = on(state_named(row.state), event, facts);
        CHECK(state_name(t.next) == row.next);
        CHECK(text(t.effects) == row.effects);
    }
}

TEST_CASE("reload by group of keys, from every state and step") {
    const std::string kApply = apply_text();
    const std::string kStartDp = start_dp_text();
    const std::string kReplaceDp = replace_dp_text();
    const std::string redo_dad = "cancel-timer timer=dad-timeout; end-dad-probe; " + kApply;
    const std::string revive = kApply + "; " + kStartDp;
    const Row rows[] = {
        {"Idle", "reload-clat", "Idle", ""},
        {"ProbeV4 holding", "reload-logging", "ProbeV4", kHold},
        {"ProbeV4 native", "reload-clat", "ProbeV4", kHold},
        {"DiscoverPLAT", "reload-logging", "DiscoverPLAT", ""},
        {"DiscoverPLAT", "reload-clat", "DiscoverPLAT", ""},
        {"DiscoverPLAT", "reload-discovery", "DiscoverPLAT", kDiscover},
        {"Provision resolving", "reload-logging", "Provision", ""},
        {"Provision resolving", "reload-clat", "Provision", kApply},
        {"Provision probing DAD", "reload-clat", "Provision", redo_dad},
        {"Provision probing DAD", "reload-discovery", "Provision", kDiscover},
        {"Provision applying", "reload-clat", "Provision", ""},  // dirty: reconciled after
        {"Provision script-up", "reload-clat", "Provision", ""},
        {"Provision retry wait", "reload-clat", "Provision", kApply},
        {"Provision retry wait", "reload-data-path", "Provision", ""},
        {"Running", "reload-logging", "Running", ""},
        {"Running", "reload-clat", "Running", kApply},
        {"Running", "reload-discovery", "Running", kDiscover},
        {"Running", "reload-data-path", "Running", kReplaceDp},
        {"Running restart wait", "reload-clat", "Running", kApply},
        {"Running restart wait", "reload-data-path", "Running",
         "cancel-timer timer=translator-restart; " + kReplaceDp},
        {"Running reconciling", "reload-clat", "Running", ""},  // dirty: replanned after
        {"Running reconcile wait", "reload-clat", "Running",
         "cancel-timer timer=reconcile-retry; " + kApply},
        {"Running reconcile wait", "reload-logging", "Running", ""},
        {"Failed", "reload-logging", "Running", revive},
        {"Failed", "reload-clat", "Running", revive},
        {"Failed", "reload-discovery", "Running", std::string(kDiscover) + "; " + revive},
        {"Failed", "reload-data-path", "Running", revive},
        // clat-dev: the CLAT is torn down and provisioned again on the new device.
        {"Idle", "reload-device", "Idle", ""},
        {"DiscoverPLAT", "reload-device", "DiscoverPLAT", ""},
        {"Provision resolving", "reload-device", "Teardown", "stop-discovery; undo-all"},
        {"Provision script-up", "reload-device", "Teardown",
         std::string(kScriptTimerOff) + "; stop-discovery; cancel-script; undo-all"},
        {"Running", "reload-device", "Teardown", "stop-discovery; stop-data-path"},
        {"Running restart wait", "reload-device", "Teardown",
         "cancel-timer timer=translator-restart; stop-discovery; stop-data-path"},
        {"Failed", "reload-device", "Teardown", "stop-discovery; stop-data-path"},
        {"Teardown stopping data path", "reload-device", "Teardown", ""},
        {"Teardown stopping data path", "reload-clat", "Teardown", ""},
        {"Teardown", "reload-discovery", "Teardown", ""},
        {"Stopped", "reload-clat", "Stopped", ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.state);
        CAPTURE(row.event);
        auto [event, facts] = shared_event(row.event);
        const Transition t = on(state_named(row.state), event, facts);
        CHECK(state_name(t.next) == row.next);
        CHECK(text(t.effects) == row.effects);
    }
}

TEST_CASE("teardown steps: stop the data path, script-down, undo; then start over or exit") {
    struct Case {
        const char* event;
        const char* after_done;
    };
    for (auto c :
         {Case{"uplink-lost", "Idle"}, Case{"native-v4", "ProbeV4"}, Case{"stop", "Stopped"}}) {
        CAPTURE(c.event);
        auto [event, facts] = shared_event(c.event);
        World w(active_with(running()));
        w.facts = facts;
        w.send(event);
        REQUIRE(w.name() == "Teardown");
        CHECK(w.send(event::Undone{}).ignored());  // not before its step
        Transition t = w.send(event::DataPathStopped{});
        CHECK(text(t.effects) == run_script_text(ScriptKind::Down, target_text()));
        CHECK(w.send(event::ScriptFinished{ScriptKind::Up, true, ""}).ignored());
        t = w.send(event::ScriptFinished{ScriptKind::Down, true, ""});
        CHECK(text(t.effects) == std::string(kScriptTimerOff) + "; undo-all");
        const Transition done = w.send(event::Undone{});
        CHECK(w.name() == c.after_done);
        CHECK(publishes(done));
    }
    World w(active_with(running()));
    w.facts.native_ipv4 = kNativeV4;
    w.send(event::NativeIpv4Changed{true, kNativeV4});
    w.send(event::DataPathStopped{});
    w.send(event::ScriptFinished{ScriptKind::Down, true, ""});
    w.send(event::Undone{});
    CHECK(w.status().reason == kNativeV4);
    CHECK(text(w.last.effects) == kHold);
}

TEST_CASE("teardown without a provisioned CLAT runs no data-path stop and no script-down") {
    World w(active_with(provision_at(state::Provision::Step::Applying)));
    Transition t = w.send(event::StopRequested{"SIGINT"});
    CHECK(text(t.effects) == "stop-discovery; undo-all");
    CHECK(t.cause == "stop requested (SIGINT)");
    t = w.send(event::Undone{});
    CHECK(text(t.effects) == "exit code=0");
}

TEST_CASE("stop in every state and step runs the teardown exactly once, then exits") {
    for (const auto& [label, state] : all_states()) {
        CAPTURE(label);
        World w(state);
        std::vector<Effect> all;
        for (const Event& e :
             std::vector<Event>{event::StopRequested{"SIGTERM"}, event::StopRequested{"SIGINT"},
                                event::PlanApplied{1}, event::DataPathStopped{},
                                event::ScriptFinished{ScriptKind::Up, false, "killed by signal 15"},
                                event::ScriptFinished{ScriptKind::Down, true, ""}, event::Undone{},
                                event::StopRequested{"SIGTERM"}}) {
            const Transition t = w.send(e);
            all.insert(all.end(), t.effects.begin(), t.effects.end());
        }
        // A teardown already under way goes on from its step; nothing runs twice.
        const bool undoing = label == "Teardown" || label == "Teardown exiting";
        const bool stopped = label == "Stopped";
        const bool provisioned = label.starts_with("Running") || label == "Failed";
        const bool script_down = provisioned || label == "Teardown stopping data path";
        CHECK(count(all, "undo-all") == (undoing || stopped ? 0 : 1));
        CHECK(count(all, "stop-data-path") == (provisioned ? 1 : 0));
        CHECK(count(all, "run-script kind=down " + target_text()) == (script_down ? 1 : 0));
        CHECK(count(all, "exit code=0") == (stopped ? 0 : 1));
        CHECK(w.name() == "Stopped");
    }
}

TEST_CASE("a teardown that could not undo everything, or whose script-down failed, exits 1") {
    World w(teardown_at(state::Teardown::Step::Undoing, true));
    Transition t = w.send(event::Undone{"sysctl net.ipv6.conf.all.forwarding: EPERM"});
    CHECK(text(t.effects) == "exit code=1");
    CHECK(t.cause.find("EPERM") != std::string::npos);

    World s(teardown_at(state::Teardown::Step::ScriptDown, true));
    t = s.send(event::ScriptFinished{ScriptKind::Down, false, "exited with status 3"});
    CHECK(text(t.effects) == std::string(kScriptTimerOff) + "; undo-all");  // undone all the same
    t = s.send(event::Undone{});
    CHECK(text(t.effects) == "exit code=1");
    CHECK(t.cause == "teardown done with error: script-down exited with status 3");
}

TEST_CASE("a script-down that outlives script-timeout is killed; the teardown undoes all, exits") {
    World w(active_with(running()));
    w.facts.settings.script_timeout_ms = 7'000;
    w.send(event::StopRequested{"SIGTERM"});
    Transition t = w.send(event::DataPathStopped{});
    CHECK(text(t.effects) ==
          "run-script kind=down " + target_text() + "; start-timer timer=script-timeout delay=7 s");
    t = w.send(event::TimerExpired{Timer::ScriptTimeout});
    CHECK(text(t.effects) == "cancel-script");
    CHECK(t.cause == "script-down timed out after 7 s, killing it");
    CHECK(t.notable);
    CHECK(w.send(event::TimerExpired{Timer::ScriptTimeout}).ignored());
    CHECK(w.send(event::Undone{}).ignored());  // nothing is undone under a live script
    t = w.send(event::ScriptFinished{ScriptKind::Down, false, "killed by signal 15 (Terminated)"});
    CHECK(text(t.effects) == "cancel-timer timer=script-timeout; undo-all");
    CHECK(t.cause == "script-down timed out after 7 s, undoing");
    t = w.send(event::Undone{});
    CHECK(w.name() == "Stopped");
    // A script-down that did not finish is a teardown that failed, as one that exits 3.
    CHECK(text(t.effects) == "exit code=1");
    CHECK(t.cause == "teardown done with error: script-down timed out after 7 s");
}

TEST_CASE("a teardown that starts over kills a timed-out script-down too, then starts over") {
    auto [event, facts] = shared_event("uplink-lost");
    World w(active_with(running()));
    w.facts = facts;
    w.send(event);
    w.send(event::DataPathStopped{});
    Transition t = w.send(event::TimerExpired{Timer::ScriptTimeout});
    CHECK(text(t.effects) == "cancel-script");
    CHECK(t.cause == "script-down timed out after 30 s, killing it");
    w.send(event::ScriptFinished{ScriptKind::Down, false, "killed by signal 9 (Killed)"});
    t = w.send(event::Undone{});
    CHECK(w.name() == "Idle");
    CHECK(text(t.effects).empty());  // no exit: the uplink may come back
}

TEST_CASE("a second stop request kills a running script-down at once") {
    World w(active_with(running()));
    w.send(event::StopRequested{"SIGTERM"});
    w.send(event::DataPathStopped{});
    Transition t = w.send(event::StopRequested{"SIGTERM"});
    CHECK(text(t.effects) == "cancel-timer timer=script-timeout; cancel-script");
    CHECK(t.cause == "stop requested (SIGTERM) again, killing script-down");
    CHECK(w.send(event::StopRequested{"SIGINT"}).ignored());  // being killed already
    CHECK(w.send(event::TimerExpired{Timer::ScriptTimeout}).ignored());
    t = w.send(event::ScriptFinished{ScriptKind::Down, false, "killed by signal 15 (Terminated)"});
    CHECK(text(t.effects) == "cancel-timer timer=script-timeout; undo-all");
    t = w.send(event::Undone{});
    CHECK(text(t.effects) == "exit code=1");
    CHECK(t.cause == "teardown done with error: script-down killed by a second stop request");
}

TEST_CASE("a stop during a teardown that would start over only makes it exit") {
    for (auto step : {state::Teardown::Step::StoppingDataPath, state::Teardown::Step::ScriptDown,
                      state::Teardown::Step::Undoing}) {
        CAPTURE(static_cast<int>(step));
        World w(teardown_at(step, false));
        Transition t = w.send(event::StopRequested{"SIGTERM"});
        CHECK(text(t.effects).empty());
        CHECK(t.cause == "stop requested during teardown");
        // Again: script-down is killed, other steps have nothing to hurry.
        t = w.send(event::StopRequested{"SIGTERM"});
        CHECK(text(t.effects) == (step == state::Teardown::Step::ScriptDown
                                      ? "cancel-timer timer=script-timeout; cancel-script"
                                      : ""));
    }
}

TEST_CASE("happy path Idle -> ProbeV4 -> DiscoverPLAT -> Provision -> Running, fake clock") {
    const std::string kApply = apply_text();
    World w;
    w.facts.uplink_usable = false;
    w.facts.uplink_dev.clear();
    CHECK(w.status().reason == "no usable IPv6 uplink");

    w.at(1'000);
    w.facts.uplink_usable = true;
    w.facts.uplink_dev = "eth0";
    Transition t = w.facts_changed();  // the uplink edge is derived from the facts
    CHECK(w.name() == "ProbeV4");
    CHECK(t.cause == "uplink usable");
    CHECK(text(t.effects) == kHold);
    CHECK(publishes(t));

    w.at(10'999);
    CHECK(w.send(event::TimerExpired{Timer::HoldDown}).ignored());  // not yet due
    w.at(11'000);
    t = w.send(event::TimerExpired{Timer::HoldDown});
    CHECK(w.name() == "DiscoverPLAT");
    CHECK(text(t.effects) == kDiscover);
    CHECK(w.status().reason == "no PLAT prefix: DNS64 query pending, no PREF64, no fallback");

    w.at(11'200);
    t = w.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:64::/96"), 311'200});
    CHECK(w.name() == "Provision");
    CHECK(text(t.effects) == kApply);
    CHECK(t.notable);
    REQUIRE(w.status().plat);
    CHECK(w.status().plat->expires_at_ms == 311'200);
    CHECK(w.status().binding == static_binding());

    t = w.send(event::PlanApplied{6});
    CHECK(w.name() == "Provision");
    CHECK(text(t.effects) == run_script_text(ScriptKind::Up, target_text()));
    t = w.send(event::ScriptFinished{ScriptKind::Up, true, ""});
    CHECK(w.name() == "Running");
    CHECK(t.cause == "converged");
    CHECK(text(t.effects) == std::string(kScriptTimerOff) + "; " + start_dp_text());
    CHECK(w.status().reason == "starting translator");

    w.at(11'300);
    t = w.send(event::DataPathStarted{4242});
    CHECK(w.name() == "Running");
    CHECK(w.run() == 4242);
    CHECK(w.status().reason.empty());
    CHECK(publishes(t));
    CHECK(t.notable);
}

TEST_CASE("ProbeV4: the hold-down is restarted by relevant changes") {
    World w(state::ProbeV4{true, 10'000, ""});
    w.at(6'000);
    w.facts.uplink_dev = "eth1";  // another uplink
    Transition t = w.facts_changed();
    CHECK(text(t.effects) == kHold);
    w.at(10'000);
    CHECK(w.send(event::TimerExpired{Timer::HoldDown}).ignored());  // stale: restarted at 6 s
    CHECK(w.name() == "ProbeV4");

    w.at(12'000);
    w.facts.native_ipv4 = kNativeV4;
    t = w.facts_changed();
    CHECK(text(t.effects) == kHold);
    CHECK(w.status().reason == kNativeV4);
    w.at(22'000);
    t = w.send(event::TimerExpired{Timer::HoldDown});
    CHECK(w.name() == "ProbeV4");  // native IPv4: stay, say why, keep watching
    CHECK(w.status().reason == kNativeV4);
    CHECK(text(t.effects).empty());

    w.at(30'000);
    w.facts.native_ipv4.clear();
    t = w.facts_changed();
    CHECK(text(t.effects) == kHold);
    w.at(40'000);
    t = w.send(event::TimerExpired{Timer::HoldDown});
    CHECK(w.name() == "DiscoverPLAT");
    CHECK(text(t.effects) == "start-discovery solicit=eth1");
}

TEST_CASE("ProbeV4 is skipped when the check is off or the default route is replaced") {
    for (int variant = 0; variant < 2; ++variant) {
        CAPTURE(variant);
        World w;
        w.facts.uplink_usable = false;
        w.facts_changed();
        (variant == 0 ? w.facts.settings.v4_conncheck_enable
                      : w.facts.settings.v4_defaultroute_replace) = variant == 1;
        w.facts.native_ipv4 = kNativeV4;
        w.facts.uplink_usable = true;
        w.facts_changed();
        CHECK(w.name() == "DiscoverPLAT");
        w.send(event::NativeIpv4Changed{true, kNativeV4});
        CHECK(w.name() == "DiscoverPLAT");
    }
}

TEST_CASE("a configured prefix wins, disables discovery, and goes straight to Provision") {
    World w;
    w.facts.settings.v4_conncheck_enable = false;
    w.facts.settings.plat_prefix = prefix("2001:db8:c0::/96");
    const Transition t = w.send(event::UplinkChanged{true});
    CHECK(w.name() == "Provision");
    const PlatChoice config{prefix("2001:db8:c0::/96"), PlatSource::Config, std::nullopt};
    CHECK(text(t.effects) == apply_text(config));
    const Transition later =
        w.send(event::PlatDiscovered{PlatSource::Pref64, prefix("2001:db8:6464::/64"), 9});
    CHECK(text(later.effects).empty());
    CHECK(w.status().plat->source == PlatSource::Config);
}

TEST_CASE("every event in every state: an ignored event changes nothing") {
    const Event events[] = {
        event::FactsChanged{},
        event::UplinkChanged{true},
        event::UplinkChanged{false},
        event::NativeIpv4Changed{false, ""},
        event::TimerExpired{Timer::HoldDown},
        event::TimerExpired{Timer::ProvisionRetry},
        event::TimerExpired{Timer::TranslatorRestart},
        event::TimerExpired{Timer::DadTimeout},
        event::TimerExpired{Timer::ReconcileRetry},
        event::PlatDiscovered{PlatSource::Pref64, prefix("2001:db8:6464::/64"), 1},
        event::PlatLost{PlatSource::Dns64, ""},
        event::DadProbeStarted{v6(kClatV6), "EEXIST"},
        event::PlanApplied{0},
        event::PlanFailed{"x"},
        event::ScriptFinished{ScriptKind::Up, true, ""},
        event::ScriptFinished{ScriptKind::Down, false, "x"},
        event::DataPathStarted{7},
        event::DataPathExited{7, "x"},
        event::DataPathStopped{},
        event::Undone{},
        event::ConfigReloaded{},
        event::RediscoverRequested{},
    };
    for (const auto& [label, state] : all_states()) {
        for (const Event& e : events) {
            CAPTURE(label);
            CAPTURE(event_name(e));
            const Transition t = on(state, e, default_facts(1'000'000));
            if (t.ignored()) {
                CHECK(t.next == state);
                CHECK(t.effects.empty());
            }
            CHECK(publishes(t) == (status_of(t.next) != status_of(state)));
        }
    }
}

}  // namespace clat::test
