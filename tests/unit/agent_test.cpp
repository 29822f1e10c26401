// The agent over fake ports (no root): the io_context stepped until idle under a fail-safe
// bound, the fakes driven by hand. What the agent must do: one plan per relevant snapshot,
// each operation applied once, DAD with retry, the data path's life, one reload path for
// every group of keys, stop in every phase, a failed reconcile retried by its timer.

#include <doctest/doctest.h>

#include "tests/unit/agent_fakes.hpp"

namespace clat::test {
namespace {

int applied_twice(const std::vector<std::string>& log) {
    int duplicates = 0;
    for (std::size_t i = 0; i < log.size(); ++i)
        duplicates += std::count(log.begin() + static_cast<long>(i) + 1, log.end(), log[i]) > 0;
    return duplicates;
}

bool has_route_v4_default(const Observed& s) {
    return std::any_of(s.routes_v4.begin(), s.routes_v4.end(),
                       [](const RouteV4& r) { return r.is_default(); });
}

/// The host as the fakes hold it, for before/after comparisons.
struct HostState {
    Observed observed;
    std::map<std::string, std::string> sysctls;
    bool operator==(const HostState&) const = default;
};
HostState host(const AgentBed& bed) {
    HostState h{bed.observer.state, bed.kernel.sysctls};
    std::erase_if(h.sysctls,
                  [](const auto& kv) { return kv.first.find("/clat/") != std::string::npos; });
    return h;
}

void stop_and_expect_clean(AgentBed& bed, const HostState& before) {
    bed.agent->stop("SIGTERM");
    bed.settle();
    CHECK(bed.state() == "Stopped");
    CHECK(bed.agent->exit_code() == 0);
    CHECK(bed.io.stopped());
    CHECK_FALSE(bed.data_path.running());
    CHECK(host(bed) == before);
}

}  // namespace

TEST_CASE("agent: cold start applies each operation once and plans nothing for an echo") {
    LogCapture log;
    AgentBed bed;
    const HostState before = host(bed);
    bed.start();
    CHECK(bed.state() == "DiscoverPLAT");
    CHECK(bed.discovery.starts == 1);
    CHECK(bed.notifier.messages == std::vector<std::string>{"READY=1"});
    bed.discover();
    // Optimistic DAD (RFC 4429): Running, the data path started, while DAD still runs; the
    // address is never put on the uplink (proxy ND answers for it, without delay).
    CHECK(bed.state() == "Running");
    auto probe = bed.last_probe();
    REQUIRE(probe);
    CHECK(bed.dad.running == probe);
    CHECK(bed.kernel.count("add-address-v6 dev=eth0") == 0);
    CHECK(bed.kernel.count("set-sysctl path=net/ipv6/neigh/eth0/proxy_delay value=0") == 1);
    CHECK(bed.data_path.calls == std::vector<std::string>{"start plat=2001:db8:64::/96 clat-v6=" +
                                                          probe->to_string() + " dev=eth0"});
    const auto before_dad = bed.kernel.log.size();
    bed.dad_outcome(*probe, true);
    CHECK(bed.state() == "Running");
    CHECK(bed.kernel.log.size() == before_dad);  // passing changes nothing
    CHECK(bed.kernel.count("create-tun") == 1);
    CHECK(applied_twice(bed.kernel.log) == 0);
    // One plan for the whole provisioning: the kernel's echo of it was absorbed (read with
    // sync(), explained by the plan) and its notification planned nothing more.
    CHECK(bed.observer.syncs == 1);
    CHECK(log.count("plan operations=") == 1);
    CHECK(has_route_v4_default(bed.observer.state));
    const auto applies = bed.kernel.log.size();
    const auto reads = bed.kernel.sysctl_reads;
    bed.observer.changed();  // an echo: nothing relevant changed
    bed.settle();
    CHECK(bed.kernel.log.size() == applies);
    CHECK(bed.kernel.sysctl_reads == reads);
    stop_and_expect_clean(bed, before);
}

TEST_CASE("agent: a tun named clat-dev that clatd did not make is refused, the host unchanged") {
    AgentBed bed([](Config& c) { c.dad_enable = false; });
    bed.observer.state.links[40] = Link{40, "clat", "tun", true, false, 1500};  // a user's own
    const HostState before = host(bed);
    bed.start();
    bed.discover();
    bed.settle();
    CHECK(bed.state() != "Running");
    CHECK(bed.kernel.log.empty());
    CHECK(bed.data_path.calls.empty());
    CHECK(bed.status.views.back().last_error.find("clat-dev clat (ifindex 40) exists and clatd "
                                                  "did not create it") != std::string::npos);
    stop_and_expect_clean(bed, before);
}

TEST_CASE("agent: an unrelated interface's address storm costs no plan") {
    AgentBed bed;
    bed.run_to_running();
    bed.observer.state.links[30] = Link{30, "veth-other", "veth", true, true, 1500};
    bed.observer.changed();
    bed.settle();
    const auto applies = bed.kernel.log.size();
    const auto reads = bed.kernel.sysctl_reads;
    const auto lookups = bed.observer.lookups;
    for (int i = 0; i < 200; ++i) {
        AddressV6 a;
        a.ifindex = 30;
        a.address = v6("2001:db8:ffee::1");
        a.address.bytes[15] = static_cast<std::uint8_t>(i);
        bed.observer.state.addresses_v6.push_back(a);
        bed.observer.changed();
        bed.settle();
    }
    CHECK(bed.kernel.log.size() == applies);
    CHECK(bed.kernel.sysctl_reads == reads);
    CHECK(bed.observer.lookups == lookups);
}

TEST_CASE("agent: firewall rules in each backend that drops, put back after a flush") {
    AgentBed bed;
    const HostState before = host(bed);
    bed.firewall.targets = {{op::FirewallBackend::kNftables, "nft"},
                            {op::FirewallBackend::kIp6tablesLegacy, "ip6tables-legacy"}};
    bed.run_to_running();
    CHECK(bed.firewall.interval_ms == kFirewallPollInterval.count());
    REQUIRE(bed.kernel.firewall_rules.size() == 2);
    CHECK(bed.kernel.firewall_rules[0].backend == op::FirewallBackend::kNftables);
    CHECK(bed.kernel.firewall_rules[1].backend == op::FirewallBackend::kIp6tablesLegacy);
    CHECK(bed.status.views.back().firewall ==
          std::vector{op::FirewallBackend::kNftables, op::FirewallBackend::kIp6tablesLegacy});
    // The tools run once, not on every snapshot: bursts of netlink events plan without them.
    const int inspections = bed.firewall.inspections;
    CHECK(inspections == 1);
    for (int i = 0; i < 5; ++i) {
        bed.observer.state.routes_v6.erase(
            std::remove_if(bed.observer.state.routes_v6.begin(), bed.observer.state.routes_v6.end(),
                           [](const RouteV6& r) { return r.protocol == kRouteProtocol; }),
            bed.observer.state.routes_v6.end());
        bed.observer.changed();
        bed.settle();
    }
    CHECK(bed.firewall.inspections == inspections);
    // `ip6tables-legacy -F FORWARD`: the watch sees it, the rule comes back, the journal does
    // not grow, and the other backend's rule is left as it is.
    const auto adds = bed.kernel.count("add-firewall-accept");
    std::erase_if(bed.kernel.firewall_rules, [](const op::FirewallRule& r) {
        return r.backend == op::FirewallBackend::kIp6tablesLegacy;
    });
    bed.firewall.change();
    bed.settle();
    CHECK(bed.firewall.inspections == inspections + 1);
    CHECK(bed.kernel.count("add-firewall-accept") == adds + 1);
    CHECK(bed.kernel.firewall_rules.size() == 2);
    CHECK(bed.state() == "Running");
    // The legacy table stops dropping: its rule goes, the status follows.
    bed.firewall.targets.pop_back();
    bed.firewall.change();
    bed.settle();
    REQUIRE(bed.kernel.firewall_rules.size() == 1);
    CHECK(bed.status.views.back().firewall == std::vector{op::FirewallBackend::kNftables});
    stop_and_expect_clean(bed, before);
    CHECK(bed.kernel.firewall_rules.empty());
    CHECK(bed.status.views.back().firewall.empty());
}

TEST_CASE("agent: DAD conflict, then another address passes") {
    AgentBed bed;
    bed.start();
    bed.discover();
    auto first = bed.last_probe();
    REQUIRE(first);
    CHECK(bed.state() == "Running");
    REQUIRE(bed.data_path.mapping);
    CHECK(bed.data_path.mapping->clat_v6 == *first);
    bed.dad_outcome(*first, false);
    // Rolled back at once: the proxy entry and the route move to another address, which is
    // probed in turn, and the data path follows.
    CHECK(bed.state() == "Running");
    auto second = bed.last_probe();
    REQUIRE(second);
    CHECK(*second != *first);
    CHECK(bed.kernel.count("remove-proxy-neighbour dev=eth0 addr=" + first->to_string()) == 1);
    CHECK(bed.kernel.count("add-proxy-neighbour dev=eth0 addr=" + second->to_string()) == 1);
    REQUIRE(bed.data_path.mapping);
    CHECK(bed.data_path.mapping->clat_v6 == *second);
    bed.dad_outcome(*second, true);
    CHECK(bed.state() == "Running");
}

TEST_CASE("agent: the data path exits and is restarted after its back-off") {
    AgentBed bed;
    bed.run_to_running();
    bed.data_path.exit("killed by signal 9");
    bed.settle();
    CHECK(bed.state() == "Running");
    CHECK(bed.timers.armed(Timer::TranslatorRestart));
    CHECK(bed.data_path.count("start") == 1);
    bed.timers.advance(999);
    bed.settle();
    CHECK(bed.data_path.count("start") == 1);
    bed.timers.advance(1);
    bed.settle();
    CHECK(bed.data_path.count("start") == 2);
    CHECK(bed.data_path.running());
    CHECK(bed.status.views.back().machine.translator_restarts == 1);
}

TEST_CASE("agent: renumbering moves the CLAT; a replacement that cannot start backs off") {
    AgentBed bed;
    bed.run_to_running();
    const auto old_probe = *bed.last_probe();
    // The router moves the host to a new /64: the old address goes, a new one comes.
    auto& addresses = bed.observer.state.addresses_v6;
    std::erase_if(addresses, [](const AddressV6& a) { return a.ifindex == 2; });
    AddressV6 host;
    host.ifindex = 2;
    host.address = v6("2001:db8:2::5054:ff:fe12:3456");
    host.prefix_length = 64;
    addresses.push_back(host);
    bed.data_path.fail_starts = 1;
    bed.observer.changed();
    bed.settle();
    auto probe = bed.last_probe();
    REQUIRE(probe);
    CHECK(*probe != old_probe);
    bed.dad_outcome(*probe, true);
    CHECK(bed.data_path.count("replace plat=2001:db8:64::/96 clat-v6=" + probe->to_string() +
                              " dev=eth0") == 1);
    CHECK(bed.state() == "Running");
    CHECK_FALSE(bed.data_path.running());
    CHECK(bed.timers.armed(Timer::TranslatorRestart));
    bed.timers.advance(1000);
    bed.settle();
    CHECK(bed.data_path.running());
    REQUIRE(bed.data_path.mapping);
    CHECK(bed.data_path.mapping->clat_v6 == *probe);
}

TEST_CASE("agent: a failed reconcile is retried by its timer") {
    AgentBed bed([](Config& c) { c.dad_enable = false; });
    bed.run_to_running();
    // Someone deletes the CLAT's IPv4 default route; putting it back fails once.
    std::erase_if(bed.observer.state.routes_v4, [](const RouteV4& r) { return r.is_default(); });
    bed.kernel.fail_prefix = "add-route-v4";
    bed.kernel.failures_left = 1;
    bed.observer.changed();
    bed.settle();
    CHECK_FALSE(has_route_v4_default(bed.observer.state));
    CHECK(bed.status.views.back().machine.reason.find("reconcile failed") != std::string::npos);
    CHECK(bed.timers.armed(Timer::ReconcileRetry));
    bed.timers.advance(1000);
    bed.settle();
    CHECK(has_route_v4_default(bed.observer.state));
    CHECK(bed.status.views.back().machine.reason.find("reconcile failed") == std::string::npos);
}

TEST_CASE("agent: reload, one path for every group of keys") {
    AgentBed bed([](Config& c) { c.dad_enable = false; });
    bed.run_to_running();
    const auto discovery_starts = bed.discovery.starts;

    SUBCASE("dns64-servers: discovery reconfigured and restarted") {
        bed.next_config->dns64_servers = {"2001:db8:1::53"};
        REQUIRE(bed.agent->reload());
        bed.settle();
        REQUIRE_FALSE(bed.discovery.settings.empty());
        CHECK(bed.discovery.settings.back().servers == bed.next_config->dns64_servers);
        CHECK(bed.discovery.starts == discovery_starts + 1);
    }
    SUBCASE("dbus-admin-group: the bus policy follows") {
        bed.next_config->dbus_admin_group = "clat-admins";
        REQUIRE(bed.agent->reload());
        REQUIRE(bed.status.admin_groups.size() == 1);
        CHECK(bed.status.admin_groups.back() == std::optional<std::string>("clat-admins"));
    }
    SUBCASE("metrics-file, clat-v4-addr: the status sinks get the new configuration") {
        bed.next_config->metrics_file = "/run/clatd-test.prom";
        bed.next_config->clat_v4_addr = v4("192.0.0.2");
        REQUIRE(bed.agent->reload());
        REQUIRE(bed.status.configs.size() == 1);
        CHECK(bed.status.configs.back().metrics_file == bed.next_config->metrics_file);
        CHECK(bed.status.configs.back().clat_v4_addr == v4("192.0.0.2"));
    }
    SUBCASE("script-up only: the sinks see it too, nothing else moves") {
        bed.next_config->script_down = "true";
        REQUIRE(bed.agent->reload());
        CHECK(bed.status.configs.size() == 1);
    }
    SUBCASE("debug: the log level follows") {
        bed.next_config->debug = 1;
        REQUIRE(bed.agent->reload());
        CHECK(bed.log_levels == std::vector<std::pair<int, int>>{{0, 1}});
    }
    SUBCASE("proxynd-enable: the proxy poll stops") {
        bed.next_config->proxynd_enable = false;
        REQUIRE(bed.agent->reload());
        bed.settle();
        CHECK(bed.observer.proxy_poll == std::chrono::milliseconds(0));
    }
    SUBCASE("tayga-extra: the data path is replaced") {
        bed.next_config->tayga_extra = {"offlink-mtu 1400"};
        REQUIRE(bed.agent->reload());
        bed.settle();
        CHECK(bed.data_path.count("replace") == 1);
        CHECK(bed.data_path.configures == 2);
    }
    SUBCASE("v4-defaultroute-metric: the route is replaced") {
        bed.next_config->v4_defaultroute_metric = 4096;
        REQUIRE(bed.agent->reload());
        bed.settle();
        CHECK(bed.kernel.count("add-route-v4") == 2);
        CHECK(std::any_of(bed.observer.state.routes_v4.begin(), bed.observer.state.routes_v4.end(),
                          [](const RouteV4& r) { return r.is_default() && r.metric == 4096; }));
        CHECK(bed.discovery.starts == discovery_starts);
    }
    SUBCASE("script-up only: nothing re-provisioned") {
        bed.next_config->script_up = "true";
        const auto applies = bed.kernel.log.size();
        REQUIRE(bed.agent->reload());
        bed.settle();
        CHECK(bed.kernel.log.size() == applies);
        CHECK(bed.data_path.count("replace") == 0);
    }
    SUBCASE("clat-dev held by another instance: rejected, nothing changes") {
        bed.held_elsewhere = {"clat7"};
        bed.next_config->clat_dev = "clat7";
        const auto applies = bed.kernel.log.size();
        auto reloaded = bed.agent->reload();
        REQUIRE_FALSE(reloaded);
        CHECK(reloaded.error().message == "clat-dev clat7 is in use by another clatd (pid 4242)");
        bed.settle();
        CHECK(bed.kernel.log.size() == applies);
        CHECK(bed.claims == std::vector<std::string>{"clat7"});
        CHECK(bed.status.views.back().last_error ==
              "reload rejected: clat-dev clat7 is in use by another clatd (pid 4242)");
    }
    SUBCASE("clat-dev changed: torn down on the old device, made on the new one") {
        bed.next_config->clat_dev = "clat8";
        REQUIRE(bed.agent->reload());
        bed.settle();
        CHECK(bed.state() == "DiscoverPLAT");  // rediscovered: the old prefix may be stale
        bed.discover();
        bed.settle();
        CHECK(bed.claims == std::vector<std::string>{"clat8"});
        // script-down is the one script-up ran with, told about the device it made.
        REQUIRE(bed.scripts.runs.size() >= 2);
        const auto n = bed.scripts.runs.size();
        CHECK(bed.scripts.runs[n - 2] == "down");
        CHECK(bed.scripts.runs[n - 1] == "up");
        const auto has = [](const std::vector<std::string>& env, const std::string& entry) {
            return std::find(env.begin(), env.end(), entry) != env.end();
        };
        CHECK(has(bed.scripts.environments[n - 2], "clat_dev=clat"));
        CHECK(has(bed.scripts.environments[n - 1], "clat_dev=clat8"));
        CHECK(bed.observer.state.link_by_name("clat8") != nullptr);
        CHECK(bed.observer.state.link_by_name("clat") == nullptr);
        CHECK(bed.state() == "Running");
    }
    SUBCASE("a reload that keeps clat-dev claims nothing") {
        bed.next_config->debug = 2;
        REQUIRE(bed.agent->reload());
        CHECK(bed.claims.empty());
    }
    SUBCASE("an invalid file changes nothing and says why") {
        bed.next_config.reset();
        const auto applies = bed.kernel.log.size();
        auto reloaded = bed.agent->reload();
        REQUIRE_FALSE(reloaded);
        CHECK(reloaded.error().message.find("v4-defaultroute-metric") != std::string::npos);
        bed.settle();
        CHECK(bed.kernel.log.size() == applies);
        CHECK(bed.status.views.back().last_error.find("reload rejected") != std::string::npos);
    }
    // sd_notify(3): RELOADING=1 with MONOTONIC_USEC, then READY=1, after the first READY=1.
    REQUIRE(bed.notifier.messages.size() == 3);
    CHECK(bed.notifier.messages[0] == "READY=1");
    CHECK(bed.notifier.messages[1].rfind("RELOADING=1 MONOTONIC_USEC=", 0) == 0);
    CHECK(bed.notifier.messages[1].size() > std::string("RELOADING=1 MONOTONIC_USEC=").size());
    CHECK(bed.notifier.messages[2] == "READY=1");
}

TEST_CASE("agent: stop requested in every phase leaves the host as it was") {
    std::string phase;
    SUBCASE("DiscoverPLAT") {
        phase = "DiscoverPLAT";
    }
    SUBCASE("Provision, DAD probe running") {
        phase = "ProbingDad";
    }
    SUBCASE("Provision, script-up running") {
        phase = "ScriptUp";
    }
    SUBCASE("Running") {
        phase = "Running";
    }
    SUBCASE("Failed") {
        phase = "Failed";
    }
    SUBCASE("ProbeV4") {
        phase = "ProbeV4";
    }
    AgentBed bed([&](Config& c) {
        c.v4_conncheck_enable = phase == "ProbeV4";
        c.script_up = "up.sh";
        c.script_down = "down.sh";
    });
    const HostState before = host(bed);
    bed.scripts.hold = phase == "ScriptUp";
    bed.start();
    if (phase != "DiscoverPLAT" && phase != "ProbeV4") {
        bed.discover();
        auto probe = bed.last_probe();
        REQUIRE(probe);
        if (phase != "ProbingDad")
            bed.dad_outcome(*probe, true);
    }
    if (phase == "Failed") {
        for (int i = 0; i < 5; ++i) {
            bed.data_path.exit("exited with status 1");
            bed.settle();
            bed.timers.advance(60'000);
            bed.settle();
        }
    }
    // A derived address is in use while its DAD runs: Running.
    CHECK(bed.state() == (phase == "ProbingDad" ? "Running"
                          : phase == "ScriptUp" ? "Provision"
                                                : phase));
    bed.scripts.hold = false;
    bed.agent->stop("SIGTERM");
    bed.settle();
    if (phase == "ScriptUp") {
        CHECK(bed.scripts.cancels == 1);
        bed.scripts.hold = false;
    }
    CHECK(bed.state() == "Stopped");
    const bool provisioned = phase == "Running" || phase == "Failed" || phase == "ProbingDad";
    CHECK(!bed.dad.running);  // the probe ended with the teardown
    CHECK(bed.data_path.count("stop") == (provisioned ? 1 : 0));
    CHECK((std::find(bed.scripts.runs.begin(), bed.scripts.runs.end(), "down down.sh") !=
           bed.scripts.runs.end()) == provisioned);
    CHECK(bed.agent->exit_code() == 0);
    CHECK(host(bed) == before);
}

TEST_CASE("agent: script-timeout kills a hung script-up and a hung script-down") {
    AgentBed bed([](Config& c) {
        c.script_up = "up.sh";
        c.script_down = "down.sh";
        c.script_timeout = 5;
    });
    const HostState before = host(bed);
    bed.scripts.hold = true;
    bed.start();
    bed.discover();
    auto probe = bed.last_probe();
    REQUIRE(probe);
    bed.dad_outcome(*probe, true);
    REQUIRE(bed.scripts.runs == std::vector<std::string>{"up up.sh"});
    bed.timers.advance(4'999);
    bed.settle();
    CHECK(bed.scripts.cancels == 0);
    bed.timers.advance(1);
    bed.settle();
    CHECK(bed.scripts.cancels == 1);
    CHECK(bed.state() == "Provision");
    bed.scripts.finish(false, "killed by signal 15 (Terminated)");
    bed.settle();
    CHECK(bed.agent->machine().status().reason ==
          "provisioning failed: script-up timed out after 5 s; retrying in 1 s");
    CHECK(host(bed) == before);  // undone, no TAYGA

    bed.timers.advance(1'000);
    bed.settle();
    REQUIRE(bed.scripts.runs.size() == 2);
    bed.scripts.finish(true, "exited with status 0");
    bed.settle();
    REQUIRE(bed.state() == "Running");
    CHECK_FALSE(bed.timers.armed(Timer::ScriptTimeout));

    bed.agent->stop("SIGTERM");
    bed.settle();
    REQUIRE(bed.scripts.runs.back() == "down down.sh");
    bed.timers.advance(5'000);
    bed.settle();
    CHECK(bed.scripts.cancels == 2);
    bed.scripts.finish(false, "killed by signal 15 (Terminated)");
    bed.settle();
    CHECK(bed.state() == "Stopped");
    CHECK(bed.agent->exit_code() == 1);
    CHECK(host(bed) == before);
}

namespace {

const RouteV4* default_route_v4(const AgentBed& bed) {
    const auto& routes = bed.observer.state.routes_v4;
    auto it =
        std::find_if(routes.begin(), routes.end(), [](const RouteV4& r) { return r.is_default(); });
    return it == routes.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("agent: the IPv4 route MTU follows the uplink with the eBPF path, 1260 with TAYGA") {
    SUBCASE("eBPF: the uplink's IPv6 MTU - 20, following link MTU and RA MTU") {
        AgentBed bed;
        bed.data_path.follows_uplink_mtu = true;
        bed.run_to_running();
        const RouteV4* route = default_route_v4(bed);
        REQUIRE(route != nullptr);
        CHECK(route->mtu == 1480);
        CHECK(route->advmss == 1440);
        bed.observer.state.links[2].mtu = 1400;  // the uplink's MTU lowered
        bed.observer.changed();
        bed.settle();
        route = default_route_v4(bed);
        REQUIRE(route != nullptr);
        CHECK(route->mtu == 1380);
        CHECK(route->advmss == 1340);
        // Jumbo frames on the uplink: no more than the CLAT device's own MTU (1500).
        bed.observer.state.links[2].mtu = 9000;
        bed.observer.changed();
        bed.settle();
        route = default_route_v4(bed);
        REQUIRE(route != nullptr);
        CHECK(route->mtu == 1500);
        // A Router Advertisement's MTU option lowers the device's IPv6 MTU below the link's.
        bed.kernel.sysctls["net/ipv6/conf/eth0/mtu"] = "1300";
        bed.observer.state.links[2].mtu = 9001;
        bed.observer.changed();
        bed.settle();
        route = default_route_v4(bed);
        REQUIRE(route != nullptr);
        CHECK(route->mtu == 1280);
        CHECK(bed.state() == "Running");
    }
    SUBCASE("eBPF with an explicit v4-defaultroute-mtu: the configured value wins") {
        AgentBed bed([](Config& c) { c.v4_defaultroute_mtu = 1400; });
        bed.data_path.follows_uplink_mtu = true;
        bed.run_to_running();
        const RouteV4* route = default_route_v4(bed);
        REQUIRE(route != nullptr);
        CHECK(route->mtu == 1400);
        CHECK(route->advmss == 1360);
    }
    SUBCASE("TAYGA alone: 1260 whatever the uplink") {
        AgentBed bed;
        bed.observer.state.links[2].mtu = 9000;
        bed.run_to_running();
        const RouteV4* route = default_route_v4(bed);
        REQUIRE(route != nullptr);
        CHECK(route->mtu == 1260);
        CHECK(route->advmss == 1220);
    }
}

}  // namespace clat::test
