// The state machine (SPEC §4): what all states share, the happy path with a fake clock,
// ProbeV4's hold-down, stop in every state, reloads and renumbering.

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
        return {event::UplinkChanged{false}, facts};
    }
    if (label == "native-v4") {
        facts.native_ipv4 = kNativeV4;
        return {event::NativeIpv4Changed{true, kNativeV4}, facts};
    }
    return {event::ConfigReloaded{label == "reload-clat"}, facts};
}

struct Row {
    const char* state;
    const char* event;
    const char* next;     ///< state name afterwards
    const char* effects;  ///< golden text, PublishStatus left out
};

constexpr const char* kHold = "start-timer timer=hold-down delay=10 s";
constexpr const char* kReconcile = "reconcile plat=2001:db8:64::/96 source=dns64";

}  // namespace

TEST_CASE("shared events from every state: uplink lost, native IPv4, stop, reload") {
    const Row rows[] = {
        {"Idle", "uplink-lost", "Idle", ""},
        {"Idle", "native-v4", "Idle", ""},
        {"Idle", "stop", "Teardown", "teardown"},
        {"Idle", "reload", "Idle", ""},
        {"Idle", "reload-clat", "Idle", ""},
        {"ProbeV4 holding", "uplink-lost", "Idle", "cancel-timer timer=hold-down"},
        {"ProbeV4 holding", "native-v4", "ProbeV4", kHold},
        {"ProbeV4 holding", "stop", "Teardown", "cancel-timer timer=hold-down; teardown"},
        {"ProbeV4 holding", "reload", "ProbeV4", kHold},
        {"ProbeV4 native", "uplink-lost", "Idle", "cancel-timer timer=hold-down"},
        {"ProbeV4 native", "native-v4", "ProbeV4", kHold},
        {"ProbeV4 native", "stop", "Teardown", "cancel-timer timer=hold-down; teardown"},
        {"ProbeV4 native", "reload-clat", "ProbeV4", kHold},
        {"DiscoverPLAT", "uplink-lost", "Teardown", "stop-discovery; teardown"},
        {"DiscoverPLAT", "native-v4", "Teardown", "stop-discovery; teardown"},
        {"DiscoverPLAT", "stop", "Teardown", "stop-discovery; teardown"},
        {"DiscoverPLAT", "reload", "DiscoverPLAT", ""},
        {"DiscoverPLAT", "reload-clat", "DiscoverPLAT", ""},
        {"Provision in flight", "uplink-lost", "Teardown", "stop-discovery; teardown"},
        {"Provision in flight", "native-v4", "Teardown", "stop-discovery; teardown"},
        {"Provision in flight", "stop", "Teardown", "stop-discovery; teardown"},
        {"Provision in flight", "reload", "Provision", ""},
        {"Provision in flight", "reload-clat", "Provision", ""},
        {"Provision retry wait", "uplink-lost", "Teardown",
         "cancel-timer timer=provision-retry; stop-discovery; teardown"},
        {"Provision retry wait", "native-v4", "Teardown",
         "cancel-timer timer=provision-retry; stop-discovery; teardown"},
        {"Provision retry wait", "stop", "Teardown",
         "cancel-timer timer=provision-retry; stop-discovery; teardown"},
        {"Provision retry wait", "reload-clat", "Provision", ""},
        {"Running", "uplink-lost", "Teardown", "stop-discovery; teardown"},
        {"Running", "native-v4", "Teardown", "stop-discovery; teardown"},
        {"Running", "stop", "Teardown", "stop-discovery; teardown"},
        {"Running", "reload", "Running", ""},
        {"Running", "reload-clat", "Running", kReconcile},
        {"Running restart wait", "uplink-lost", "Teardown",
         "cancel-timer timer=translator-restart; stop-discovery; teardown"},
        {"Running restart wait", "native-v4", "Teardown",
         "cancel-timer timer=translator-restart; stop-discovery; teardown"},
        {"Running restart wait", "stop", "Teardown",
         "cancel-timer timer=translator-restart; stop-discovery; teardown"},
        {"Running restart wait", "reload-clat", "Running", kReconcile},
        {"Failed", "uplink-lost", "Teardown", "stop-discovery; teardown"},
        {"Failed", "native-v4", "Teardown", "stop-discovery; teardown"},
        {"Failed", "stop", "Teardown", "stop-discovery; teardown"},
        {"Failed", "reload", "Running", "start-translator"},
        {"Failed", "reload-clat", "Running",
         "reconcile plat=2001:db8:64::/96 source=dns64; start-translator"},
        {"Teardown", "uplink-lost", "Teardown", ""},
        {"Teardown", "native-v4", "Teardown", ""},
        {"Teardown", "stop", "Teardown", ""},
        {"Teardown", "reload-clat", "Teardown", ""},
        {"Teardown exiting", "stop", "Teardown", ""},
        {"Teardown exiting", "uplink-lost", "Teardown", ""},
        {"Stopped", "stop", "Stopped", ""},
        {"Stopped", "uplink-lost", "Stopped", ""},
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

TEST_CASE("after teardown the machine starts over from the facts, or exits") {
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
        const Transition done = w.send(event::TeardownDone{});
        CHECK(w.name() == c.after_done);
        CHECK(publishes(done));
    }
    World w(active_with(running()));
    w.facts.native_ipv4 = kNativeV4;
    w.send(event::NativeIpv4Changed{true, kNativeV4});
    w.send(event::TeardownDone{});
    CHECK(w.status().reason == kNativeV4);
    CHECK(text(w.last.effects) == kHold);
}

TEST_CASE("stop in every state runs the teardown exactly once, then exits") {
    for (const auto& [label, state] : all_states()) {
        CAPTURE(label);
        World w(state);
        std::vector<Effect> all;
        for (const Event& e :
             std::vector<Event>{event::StopRequested{"SIGTERM"}, event::StopRequested{"SIGINT"},
                                event::ProvisionSucceeded{}, event::TeardownDone{},
                                event::StopRequested{"SIGTERM"}}) {
            const Transition t = w.send(e);
            all.insert(all.end(), t.effects.begin(), t.effects.end());
        }
        const bool already_tearing_down = label.starts_with("Teardown");
        const bool stopped = label == "Stopped";
        CHECK(count(all, "teardown") == (already_tearing_down || stopped ? 0 : 1));
        CHECK(count(all, "exit code=0") == (stopped ? 0 : 1));
        CHECK(w.name() == "Stopped");
    }
}

TEST_CASE("a teardown that could not undo everything exits non-zero") {
    World w(state::Teardown{true, false, "stop requested"});
    const Transition t = w.send(event::TeardownDone{"sysctl net.ipv6.conf.all.forwarding: EPERM"});
    CHECK(text(t.effects) == "exit code=1");
    CHECK(t.cause.find("EPERM") != std::string::npos);
}

TEST_CASE("happy path Idle -> ProbeV4 -> DiscoverPLAT -> Provision -> Running, fake clock") {
    World w;
    w.facts.uplink_usable = false;
    CHECK(w.status().reason == "no usable IPv6 uplink");

    w.at(1'000);
    w.facts.uplink_usable = true;
    Transition t = w.send(event::UplinkChanged{true});
    CHECK(w.name() == "ProbeV4");
    CHECK(t.cause == "uplink usable");
    CHECK(text(t.effects) == kHold);
    CHECK(publishes(t));

    w.at(10'999);
    CHECK(w.send(event::TimerExpired{Timer::HoldDown}).ignored());  // not yet due
    w.at(11'000);
    t = w.send(event::TimerExpired{Timer::HoldDown});
    CHECK(w.name() == "DiscoverPLAT");
    CHECK(text(t.effects) == "start-discovery");
    CHECK(w.status().reason == "no PLAT prefix: DNS64 query pending, no PREF64, no fallback");

    w.at(11'200);
    t = w.send(event::PlatDiscovered{PlatSource::Dns64, prefix("2001:db8:64::/96"), 311'200});
    CHECK(w.name() == "Provision");
    CHECK(text(t.effects) == "provision plat=2001:db8:64::/96 source=dns64");
    REQUIRE(w.status().plat);
    CHECK(w.status().plat->expires_at_ms == 311'200);

    t = w.send(event::ProvisionSucceeded{});
    CHECK(w.name() == "Running");
    CHECK(t.cause == "converged");
    CHECK(text(t.effects) == "start-translator");
    CHECK(w.status().reason == "starting translator");

    w.at(11'300);
    t = w.send(event::TranslatorStarted{4242});
    CHECK(w.name() == "Running");
    CHECK(w.status().translator_pid == 4242);
    CHECK(w.status().reason.empty());
    CHECK(publishes(t));
}

TEST_CASE("ProbeV4: the hold-down is restarted by relevant changes") {
    World w(state::ProbeV4{true, 10'000, ""});
    w.at(6'000);
    Transition t = w.send(event::UplinkChanged{true});
    CHECK(text(t.effects) == kHold);
    w.at(10'000);
    CHECK(w.send(event::TimerExpired{Timer::HoldDown}).ignored());  // stale: restarted at 6 s
    CHECK(w.name() == "ProbeV4");

    w.at(12'000);
    w.facts.native_ipv4 = kNativeV4;
    t = w.send(event::NativeIpv4Changed{true, kNativeV4});
    CHECK(text(t.effects) == kHold);
    CHECK(w.status().reason == kNativeV4);
    w.at(22'000);
    t = w.send(event::TimerExpired{Timer::HoldDown});
    CHECK(w.name() == "ProbeV4");  // native IPv4: stay, say why, keep watching
    CHECK(w.status().reason == kNativeV4);
    CHECK(text(t.effects).empty());

    w.at(30'000);
    w.facts.native_ipv4.clear();
    t = w.send(event::NativeIpv4Changed{false, ""});
    CHECK(text(t.effects) == kHold);
    w.at(40'000);
    t = w.send(event::TimerExpired{Timer::HoldDown});
    CHECK(w.name() == "DiscoverPLAT");
    CHECK(text(t.effects) == "start-discovery");
}

TEST_CASE("ProbeV4 is skipped when the check is off or the default route is replaced") {
    for (int variant = 0; variant < 2; ++variant) {
        World w;
        (variant == 0 ? w.facts.settings.v4_conncheck_enable
                      : w.facts.settings.v4_defaultroute_replace) = variant == 1;
        w.facts.native_ipv4 = kNativeV4;
        w.send(event::UplinkChanged{true});
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
    CHECK(text(t.effects) == "provision plat=2001:db8:c0::/96 source=config");
    const Transition later =
        w.send(event::PlatDiscovered{PlatSource::Pref64, prefix("2001:db8:6464::/64"), 9});
    CHECK(text(later.effects).empty());
    CHECK(w.status().plat->source == PlatSource::Config);
}

TEST_CASE("reconcile on renumbering and other changes stays in Running") {
    const Event events[] = {
        event::ClatAddressChanged{*Ipv6Address::parse("2001:db8:1::c1a7")},
        event::DadFailed{*Ipv6Address::parse("2001:db8:1::c1a7")},
        event::UplinkChanged{true},
        event::ReconcileNeeded{"route 0.0.0.0/0 dev clat removed"},
        event::ReconcileNeeded{""},
    };
    for (const Event& e : events) {
        CAPTURE(event_name(e));
        World w(active_with(running()));
        const Transition t = w.send(e);
        CHECK(w.machine.state() == State{active_with(running())});  // not a teardown
        CHECK(text(t.effects) == kReconcile);
        CHECK_FALSE(t.cause.empty());
    }
}

TEST_CASE("reload: unaffecting keeps Running as it is, affecting reconciles") {
    // An invalid configuration is rejected by the agent and never reaches the machine.
    World w(active_with(running()));
    Transition t = w.send(event::ConfigReloaded{false});
    CHECK(w.machine.state() == State{active_with(running())});
    CHECK(t.effects.empty());
    t = w.send(event::ConfigReloaded{true});
    CHECK(w.name() == "Running");
    CHECK(text(t.effects) == kReconcile);

    // A reload that sets plat-prefix stops discovery and reconciles onto the configured one.
    w.facts.settings.plat_prefix = prefix("2001:db8:c0::/96");
    t = w.send(event::ConfigReloaded{true});
    CHECK(text(t.effects) == "stop-discovery; reconcile plat=2001:db8:c0::/96 source=config");
    CHECK(w.status().plat->source == PlatSource::Config);
}

TEST_CASE("changes during provisioning are reconciled once provisioned") {
    state::Provision in_flight;
    in_flight.plat = dns64_plat();
    World w(active_with(in_flight));
    CHECK(w.send(event::ClatAddressChanged{*Ipv6Address::parse("2001:db8:1::2")}).cause ==
          "CLAT address now 2001:db8:1::2, reconcile once provisioned");
    const Transition t = w.send(event::ProvisionSucceeded{});
    CHECK(text(t.effects) == kReconcile + std::string("; start-translator"));
}

TEST_CASE("provisioning failures back off and retry, saying why") {
    state::Provision in_flight;
    in_flight.plat = dns64_plat();
    World w(active_with(in_flight));
    std::int64_t now = 0;
    for (std::int64_t expected : {1'000, 2'000, 4'000, 8'000, 16'000, 32'000, 60'000, 60'000}) {
        CAPTURE(expected);
        Transition t = w.send(event::ProvisionFailed{"script-up exited with status 2"});
        CHECK(w.name() == "Provision");
        CHECK(text(t.effects) ==
              "start-timer timer=provision-retry delay=" + duration_text(expected));
        CHECK(w.status().reason ==
              "provisioning failed: script-up exited with status 2; "
              "retrying in " +
                  duration_text(expected));
        CHECK(w.send(event::ProvisionFailed{"late duplicate"}).ignored());
        w.at(now + expected - 1);
        CHECK(w.send(event::TimerExpired{Timer::ProvisionRetry}).ignored());
        now += expected;
        w.at(now);
        t = w.send(event::TimerExpired{Timer::ProvisionRetry});
        CHECK(text(t.effects) == "provision plat=2001:db8:64::/96 source=dns64");
    }
    w.send(event::ProvisionSucceeded{});
    CHECK(w.name() == "Running");
}

TEST_CASE("every event in every state: an ignored event changes nothing") {
    const Event events[] = {
        event::UplinkChanged{true},
        event::UplinkChanged{false},
        event::NativeIpv4Changed{false, ""},
        event::TimerExpired{Timer::HoldDown},
        event::TimerExpired{Timer::ProvisionRetry},
        event::TimerExpired{Timer::TranslatorRestart},
        event::PlatDiscovered{PlatSource::Pref64, prefix("2001:db8:6464::/64"), 1},
        event::PlatLost{PlatSource::Dns64, ""},
        event::ProvisionSucceeded{},
        event::ProvisionFailed{"x"},
        event::TranslatorStarted{7},
        event::TranslatorExited{7, "x"},
        event::ReconcileNeeded{"x"},
        event::RediscoverRequested{},
        event::TeardownDone{},
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
