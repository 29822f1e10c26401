// The pure parts of the control plane: which properties a new snapshot announces, who may
// call the methods, and clatctl's JSON, human output and exit codes.

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdlib>
#include <set>
#include <string>

#include "dbus/authorization.hpp"
#include "dbus/ctl_format.hpp"
#include "dbus/properties.hpp"

namespace clat::test {

using namespace clat::dbus;

TEST_CASE("a new snapshot announces exactly the properties that changed") {
    AgentStatus before;
    before.state = "Provision";
    before.reason = "applying";
    AgentStatus after = before;
    CHECK(changed_properties(before, after).empty());

    after.state = "Running";
    after.reason = "";
    after.translator_pid = 77;
    after.last_transition = 5;
    CHECK(changed_properties(before, after) ==
          std::vector<std::string>{"State", "Reason", "TranslatorPid", "LastTransition"});

    AgentStatus prefix = before;
    prefix.plat_expiry = 1;
    prefix.clat_v6 = "2001:db8::c1a7";
    CHECK(changed_properties(before, prefix) ==
          std::vector<std::string>{"PlatExpiry", "ClatIPv6Address"});
}

TEST_CASE("the property table: unique names, counters never announce changes") {
    std::set<std::string_view> dbus_names;
    std::set<std::string_view> json_names;
    for (const auto& p : properties()) {
        CHECK(dbus_names.insert(p.dbus_name).second);
        CHECK(json_names.insert(p.json_name).second);
        CHECK(find_property(p.dbus_name) == &p);
        const bool counter = p.dbus_name.ends_with("Packets") || p.dbus_name.ends_with("Bytes") ||
                             p.dbus_name.starts_with("Fast");
        CHECK(p.emits_change == !counter);
    }
    CHECK(properties().size() == 26);
    CHECK(find_property("Nope") == nullptr);
    Counters c;
    c.rx_packets = 1;
    c.tx_packets = 2;
    c.rx_bytes = 3;
    c.tx_bytes = 4;
    c.fast_ingress_packets = 5;
    c.fast_slow_path = "fragment=2";
    CHECK(find_property("TxBytes")->get(AgentStatus{}, c) == PropertyValue(std::uint64_t{4}));
    CHECK(find_property("RxPackets")->get(AgentStatus{}, c) == PropertyValue(std::uint64_t{1}));
    CHECK(find_property("FastIngressPackets")->get(AgentStatus{}, c) ==
          PropertyValue(std::uint64_t{5}));
    CHECK(find_property("FastSlowPath")->get(AgentStatus{}, c) ==
          PropertyValue(std::string("fragment=2")));
}

TEST_CASE("only root or a member of the admin group may call methods") {
    CHECK(may_control({0, {}}, std::nullopt));
    CHECK_FALSE(may_control({1000, {1000, 27}}, std::nullopt));
    CHECK(may_control({1000, {1000, 27}}, 27));
    CHECK_FALSE(may_control({1000, {1000}}, 27));
    CHECK_FALSE(may_control({std::nullopt, {27}}, 27));
    CHECK(group_id("root").ok());
    CHECK(*group_id("root") == 0);
    CHECK(group_id("no-such-group-clatd").error().message ==
          "group 'no-such-group-clatd' does not exist");
}

TEST_CASE("JSON output uses the stable snake_case names in table order") {
    const PropertyMap values{{"State", std::string("Running")},
                             {"TranslatorPid", std::uint32_t{42}},
                             {"RxBytes", std::uint64_t{1234567890123}},
                             {"Reason", std::string("a \"quoted\"\\ line\nnext\x01")}};
    CHECK(json_object(values) == R"({"state":"Running","reason":"a \"quoted\"\\ line\nnext\u0001",)"
                                 R"("translator_pid":42,"rx_bytes":1234567890123})");
    CHECK(json_object({{"State", std::string("Idle")}}, 99) ==
          R"({"timestamp":99,"state":"Idle"})");
    CHECK(json_object({{"Unknown", std::string("x")}}) == "{}");
}

TEST_CASE("human output: aligned lines, '-' for empty, readable times") {
    setenv("TZ", "UTC", 1);
    const PropertyMap values{{"State", std::string("Idle")},
                             {"PlatPrefix", std::string()},
                             {"PlatExpiry", std::uint64_t{0}},
                             {"TranslatorRestarts", std::uint32_t{3}}};
    CHECK(human_status(values, 0) ==
          "State:               Idle\n"
          "PLAT prefix:         -\n"
          "PLAT expiry:         -\n"
          "Translator restarts: 3\n");
    const auto& expiry = *find_property("PlatExpiry");
    CHECK(human_value(expiry, std::uint64_t{0}, 0) == "never");
    CHECK(human_value(expiry, std::uint64_t{3600}, 3000) == "1970-01-01 01:00:00 UTC (in 10min)");
    const auto& transition = *find_property("LastTransition");
    CHECK(human_value(transition, std::uint64_t{60'000'000}, 3721 + 60) ==
          "1970-01-01 00:01:00 UTC (1h 2min 1s ago)");
    const auto& state = *find_property("State");
    const PropertyValue before = std::string("Provision");
    CHECK(human_change(state, &before, std::string("Running"), 0) == "State: Provision -> Running");
    CHECK(human_change(state, nullptr, std::string("Running"), 0) == "State: Running");
    CHECK(human_duration(0) == "0s");
    CHECK(human_duration(90061) == "1d 1h 1min 1s");
}

TEST_CASE("D-Bus errors map to the documented exit codes") {
    CHECK(exit_code_for_error("org.freedesktop.DBus.Error.ServiceUnknown") == kExitNotRunning);
    CHECK(exit_code_for_error("org.freedesktop.DBus.Error.NameHasNoOwner") == kExitNotRunning);
    CHECK(exit_code_for_error("org.freedesktop.DBus.Error.AccessDenied") == kExitAccessDenied);
    CHECK(exit_code_for_error("net.clatd.Error.ReloadRejected") == kExitRejected);
    CHECK(exit_code_for_error("org.freedesktop.DBus.Error.Failed") == kExitFailure);
    CHECK(exit_code_for_errno(-ECONNREFUSED) == kExitNotRunning);
    CHECK(exit_code_for_errno(-ENOENT) == kExitNotRunning);
    CHECK(exit_code_for_errno(-ENOMEM) == kExitFailure);
}

}  // namespace clat::test
