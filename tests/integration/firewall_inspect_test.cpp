// Where a forward drop is really in force (nftables, iptables-nft's table, legacy xtables),
// rules that go missing behind clatd's back, and the cheap fingerprint the watch polls: all
// against the real kernel and the real tools in this test's network namespace.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "adapters/firewall_detect.hpp"
#include "adapters/firewall_watch.hpp"
#include "tests/integration/firewall_fixture.hpp"

namespace clat::test {
namespace {

using op::FirewallBackend;

const op::FirewallTarget kNft{FirewallBackend::kNftables, "nft"};
const op::FirewallTarget kIp6tables{FirewallBackend::kIp6tables, "ip6tables"};
const op::FirewallTarget kLegacy{FirewallBackend::kIp6tablesLegacy, "ip6tables-legacy"};

std::vector<op::FirewallTarget> targets(const Config& config = Config{}) {
    const auto seen = firewall::inspect(config, {});
    CHECK(seen.problems.empty());
    return seen.targets;
}

std::vector<op::FirewallRule> lost(const std::vector<op::FirewallRule>& ours) {
    const auto seen = firewall::inspect(Config{}, ours);
    CHECK(seen.problems.empty());
    return seen.lost;
}

op::FirewallRule rule_in(const op::FirewallTarget& target, const ForwardingPath& path) {
    auto r = path.rule_for(target.backend, target.tool);
    r.mark = "00000000000000ee";
    return r;
}

void nft_drop_chain(const std::string& table = "filter", const std::string& chain = "forward") {
    sh("nft add table inet " + table);
    sh("nft add chain inet " + table + " " + chain +
       " '{ type filter hook forward priority 0; policy drop; }'");
}

TEST_CASE("inspect: a forward chain that accepts, an input chain, IPv4 only: nothing drops") {
    CleanFirewallsAfter clean;
    CHECK(targets().empty());
    sh("nft add table inet filter");
    sh("nft add chain inet filter forward '{ type filter hook forward priority 0; }'");
    sh("nft add chain inet filter input '{ type filter hook input priority 0; policy drop; }'");
    sh("nft add rule inet filter forward ip6 daddr 2001:db8:ff::1 counter comment '\"drop\"'");
    sh("nft add table ip v4only");
    sh("nft add chain ip v4only fw '{ type filter hook forward priority 0; policy drop; }'");
    sh("ip6tables-legacy -P FORWARD ACCEPT");
    CHECK(targets().empty());
}

TEST_CASE("inspect: a legacy ip6tables FORWARD drop is found although nft is installed") {
    CleanFirewallsAfter clean;
    ForwardingPath path("lg");
    REQUIRE(path.passes());
    SUBCASE("by policy") {
        sh("ip6tables-legacy -P FORWARD DROP");
    }
    SUBCASE("by a rule") {
        sh("ip6tables-legacy -A FORWARD -j REJECT");
    }
    CHECK_FALSE(path.ping());
    // nft sees nothing of it: before, the rules went into nftables, where nothing dropped.
    CHECK(sh("nft list ruleset").empty());
    REQUIRE(targets() == std::vector{kLegacy});
    const auto r = rule_in(kLegacy, path);
    CHECK(apply_ok(op::AddFirewallAccept{r}) == kApplied);
    CHECK(path.passes());
    CHECK(lost({r}).empty());
    CHECK(apply_ok(op::RemoveFirewallAccept{r}) == kApplied);
    CHECK_FALSE(path.ping());
}

TEST_CASE("inspect: nftables drops by policy, by a final reject (firewalld), in iptables-nft") {
    CleanFirewallsAfter clean;
    ForwardingPath path("nf");
    REQUIRE(path.passes());
    std::string chain;
    SUBCASE("policy drop") {
        nft_drop_chain();
        chain = "inet filter forward";
    }
    SUBCASE("accept policy ending in a reject, as firewalld's") {
        sh("nft add table inet fwzone");
        sh("nft add chain inet fwzone filter_FORWARD "
           "'{ type filter hook forward priority 10; policy accept; }'");
        sh("nft add rule inet fwzone filter_FORWARD ct state established,related accept");
        sh("nft add rule inet fwzone filter_FORWARD reject with icmpx admin-prohibited");
        chain = "inet fwzone filter_FORWARD";
    }
    SUBCASE("ip6tables (nf_tables) FORWARD DROP: table ip6 filter") {
        sh("ip6tables -P FORWARD DROP");
        chain = "ip6 filter FORWARD";
    }
    CHECK_FALSE(path.ping());
    REQUIRE(targets() == std::vector{kNft});
    const auto r = rule_in(kNft, path);
    CHECK(apply_ok(op::AddFirewallAccept{r}) == kApplied);
    CHECK(count(sh("nft list chain " + chain), "clatd-00000000000000ee") == 2);
    CHECK(path.passes());
    CHECK(apply_ok(op::RemoveFirewallAccept{r}) == kApplied);
    CHECK_FALSE(path.ping());
}

TEST_CASE("inspect: nftables and legacy xtables both drop: CLAT traffic needs rules in both") {
    CleanFirewallsAfter clean;
    ForwardingPath path("bo");
    REQUIRE(path.passes());
    nft_drop_chain();
    sh("ip6tables-legacy -P FORWARD DROP");
    const std::string before = snapshot();
    REQUIRE(targets() == std::vector{kNft, kLegacy});
    const auto in_nft = rule_in(kNft, path);
    const auto in_legacy = rule_in(kLegacy, path);
    CHECK(apply_ok(op::AddFirewallAccept{in_nft}) == kApplied);
    CHECK_FALSE(path.ping());  // what one backend accepts, the other still drops
    CHECK(lost({in_nft, in_legacy}) == std::vector{in_legacy});  // not added yet
    CHECK(apply_ok(op::AddFirewallAccept{in_legacy}) == kApplied);
    CHECK(path.passes());
    CHECK(lost({in_nft, in_legacy}).empty());
    CHECK(apply_ok(op::RemoveFirewallAccept{in_nft}) == kApplied);
    CHECK(apply_ok(op::RemoveFirewallAccept{in_legacy}) == kApplied);
    CHECK(snapshot() == before);
}

TEST_CASE("inspect: rules removed behind clatd's back are lost, and adding them again mends") {
    CleanFirewallsAfter clean;
    ForwardingPath path("ls");
    nft_drop_chain();
    sh("ip6tables-legacy -P FORWARD DROP");
    const auto in_nft = rule_in(kNft, path);
    const auto in_legacy = rule_in(kLegacy, path);
    REQUIRE(apply_ok(op::AddFirewallAccept{in_nft}) == kApplied);
    REQUIRE(apply_ok(op::AddFirewallAccept{in_legacy}) == kApplied);
    REQUIRE(path.passes());
    op::FirewallRule broken;
    SUBCASE("nft flush ruleset, and the firewall made again (a firewalld reload)") {
        sh("nft flush ruleset");
        nft_drop_chain();
        broken = in_nft;
    }
    SUBCASE("one direction deleted by handle") {
        const auto listed = sh("nft -a list chain inet filter forward");
        const auto at = listed.find("# handle ", listed.find("clatd-00000000000000ee"));
        REQUIRE(at != std::string::npos);
        const auto handle = listed.substr(at + 9, listed.find('\n', at) - at - 9);
        sh("nft delete rule inet filter forward handle " + handle);
        broken = in_nft;
    }
    SUBCASE("a second nft chain that drops") {
        nft_drop_chain("later", "fw");
        broken = in_nft;
    }
    SUBCASE("ip6tables-legacy -F FORWARD") {
        sh("ip6tables-legacy -F FORWARD");
        broken = in_legacy;
    }
    CHECK_FALSE(path.ping());
    CHECK(lost({in_nft, in_legacy}) == std::vector{broken});
    CHECK(apply_ok(op::AddFirewallAccept{broken}) == kApplied);
    CHECK(lost({in_nft, in_legacy}).empty());
    CHECK(path.passes());
    CHECK(apply_ok(op::RemoveFirewallAccept{in_nft}) == kApplied);
    CHECK(apply_ok(op::RemoveFirewallAccept{in_legacy}) == kApplied);
    CHECK(count(sh("nft list ruleset") + sh("ip6tables-legacy -S"), "clatd") == 0);
}

TEST_CASE("inspect: ip6tables-enable=yes is cmd-ip6tables alone, =no is nftables alone") {
    CleanFirewallsAfter clean;
    nft_drop_chain();
    sh("ip6tables-legacy -P FORWARD DROP");
    Config yes;
    yes.ip6tables_enable = true;
    CHECK(targets(yes) == std::vector{kIp6tables});
    yes.cmd_ip6tables = "ip6tables-legacy";
    CHECK(targets(yes) ==
          std::vector{op::FirewallTarget{FirewallBackend::kIp6tables, "ip6tables-legacy"}});
    Config no;
    no.ip6tables_enable = false;
    CHECK(targets(no) == std::vector{kNft});
}

TEST_CASE("inspect: without nft, ip6tables' own FORWARD; never the legacy table twice") {
    CleanFirewallsAfter clean;
    Config config;
    config.cmd_nft = "/nonexistent/nft";
    sh("ip6tables -P FORWARD DROP");
    CHECK(targets(config) == std::vector{kIp6tables});
    sh("ip6tables-legacy -P FORWARD DROP");
    CHECK(targets(config) == std::vector{kIp6tables, kLegacy});
    // cmd-ip6tables is the legacy tool itself: one target for the one table.
    config.cmd_ip6tables = "ip6tables-legacy";
    CHECK(targets(config) == std::vector{kLegacy});
    sh("ip6tables -P FORWARD ACCEPT");
}

TEST_CASE("inspect: a tool that fails is a problem, and still a target") {
    CleanFirewallsAfter clean;
    Config config;
    config.cmd_nft = "false";  // installed everywhere, fails on every listing
    const auto seen = firewall::inspect(config, {});
    REQUIRE(seen.problems.size() == 1);
    CHECK(seen.problems[0] == "false -a list ruleset: exit 1: ");
    CHECK(seen.targets == std::vector{op::FirewallTarget{FirewallBackend::kNftables, "false"}});
}

/// The fingerprint of another namespace, taken from a thread that joined it.
FirewallFingerprint fingerprint_in(const PeerNetns& ns) {
    FirewallFingerprint out;
    bool joined = false;
    std::thread([&] {
        const int fd =
            ::open(("/proc/" + std::to_string(ns.pid()) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
        joined = fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
        if (fd >= 0)
            ::close(fd);
        if (joined)
            out = firewall_fingerprint();
    }).join();
    REQUIRE(joined);
    return out;
}

TEST_CASE("fingerprint: changes with every firewall change, not with traffic, creates nothing") {
    CleanFirewallsAfter clean;
    {
        // A namespace where nothing was ever used: looking must not create the legacy table.
        PeerNetns fresh;
        const auto seen = fingerprint_in(fresh);
        CHECK(seen.nft_generation.has_value());
        CHECK_FALSE(seen.legacy_filter.has_value());
        CHECK(fresh.sh("cat /proc/net/ip6_tables_names").empty());
    }
    ForwardingPath path("fp");
    sh("ip6tables-legacy -P FORWARD ACCEPT");
    auto last = firewall_fingerprint();
    REQUIRE(last.nft_generation);
    REQUIRE(last.legacy_filter);
    const auto changed = [&](const std::string& command) {
        sh(command);
        const auto now = firewall_fingerprint();
        const bool differs = now != last;
        last = now;
        return differs;
    };
    CHECK(changed("nft add table inet watched"));
    CHECK(changed("ip6tables-legacy -A FORWARD -j ACCEPT"));
    CHECK(changed("ip6tables-legacy -P FORWARD DROP"));  // only the policy, no rule
    CHECK(changed("ip6tables -P FORWARD DROP"));         // iptables-nft: an nft transaction
    CHECK(changed("ip6tables -P FORWARD ACCEPT"));
    // Packets bump the legacy rule's counters, which are not part of it.
    CHECK(path.passes());
    CHECK(firewall_fingerprint() == last);
    CHECK(changed("ip6tables-legacy -F FORWARD"));
    CHECK(changed("nft flush ruleset"));
    CHECK_FALSE(changed("true"));
}

TEST_CASE("watch: one report per change seen; an inspection takes the fingerprint again") {
    CleanFirewallsAfter clean;
    boost::asio::io_context io;
    FirewallWatch watch(io);
    int reports = 0;
    watch.watch(std::chrono::milliseconds(20), [&] { ++reports; });
    const auto run = [&](int ms) {
        io.restart();
        io.run_for(std::chrono::milliseconds(ms));
    };
    run(100);
    CHECK(reports == 0);
    sh("nft add table inet watched");
    run(100);
    CHECK(reports == 1);
    run(100);
    CHECK(reports == 1);
    sh("ip6tables-legacy -P FORWARD DROP");
    run(100);
    CHECK(reports == 2);
    // A change the inspection already saw is not reported again.
    sh("nft add table inet watched2");
    (void)watch.inspect(Config{}, {});
    run(100);
    CHECK(reports == 2);
    watch.watch(std::chrono::milliseconds(0), {});
    sh("nft flush ruleset");
    run(100);
    CHECK(reports == 2);
}

}  // namespace
}  // namespace clat::test
