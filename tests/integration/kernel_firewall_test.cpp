// Firewall accept rules through nft and ip6tables (nf_tables and legacy): added where a drop
// policy needs them, found again from the rule value alone, removed without a trace, and
// really letting CLAT traffic through a forward chain that drops.
#include <doctest/doctest.h>

#include <string>

#include "tests/integration/firewall_fixture.hpp"

namespace clat::test {
namespace {

TEST_CASE("nft: rules go into every forward chain with a drop policy, and leave no trace") {
    CleanFirewallsAfter clean;
    sh("nft add table inet filter");
    sh("nft add chain inet filter forward '{ type filter hook forward priority 0; policy drop; }'");
    sh("nft add rule inet filter forward ct state established accept");
    sh("nft add table ip6 other");
    sh("nft add chain ip6 other fw6 '{ type filter hook forward priority 10; policy drop; }'");
    // Not a forward drop chain: an input chain, an accept-policy chain, an IPv4-only table.
    sh("nft add chain inet filter input '{ type filter hook input priority 0; policy drop; }'");
    sh("nft add chain ip6 other open '{ type filter hook forward priority 5; policy accept; }'");
    sh("nft add table ip v4only");
    sh("nft add chain ip v4only fw4 '{ type filter hook forward priority 0; policy drop; }'");
    const std::string before = snapshot();

    const auto r = rule(op::FirewallBackend::kNftables, "nft");
    CHECK(apply_ok(op::AddFirewallAccept{r}) == kApplied);
    const auto forward = sh("nft list chain inet filter forward");
    CHECK(count(forward, "comment \"clatd\"") == 2);
    CHECK(count(forward,
                "iifname \"fwclat\" oifname \"fwplat\" ip6 saddr 2001:db8:a::2 "
                "ip6 daddr 2001:db8:64::/96 accept comment \"clatd\"") == 1);
    CHECK(count(forward,
                "iifname \"fwplat\" oifname \"fwclat\" ip6 saddr 2001:db8:64::/96 "
                "ip6 daddr 2001:db8:a::2 accept comment \"clatd\"") == 1);
    // At the top, before the chain's own rules.
    CHECK(forward.find("clatd") < forward.find("ct state established"));
    CHECK(count(sh("nft list chain ip6 other fw6"), "comment \"clatd\"") == 2);
    CHECK(count(sh("nft list ruleset"), "clatd") == 4);

    CHECK(apply_ok(op::AddFirewallAccept{r}) == kAlreadyInPlace);
    // A journal replayed after a restart knows only the value: that is enough to remove.
    const auto again = rule(op::FirewallBackend::kNftables, "nft");
    CHECK(apply_ok(op::RemoveFirewallAccept{again}) == kApplied);
    CHECK(apply_ok(op::RemoveFirewallAccept{again}) == kAlreadyInPlace);
    CHECK(snapshot() == before);
}

TEST_CASE("nft: only the rules of this value are removed, and vanished ones are tolerated") {
    CleanFirewallsAfter clean;
    sh("nft add table inet filter");
    sh("nft add chain inet filter forward '{ type filter hook forward priority 0; policy drop; }'");
    const std::string before = snapshot();
    const auto mine = rule(op::FirewallBackend::kNftables, "nft");
    const auto other = rule(op::FirewallBackend::kNftables, "nft", "2001:db8:a::3");
    CHECK(apply_ok(op::AddFirewallAccept{mine}) == kApplied);
    CHECK(apply_ok(op::AddFirewallAccept{other}) == kApplied);
    // Someone deletes one of ours by hand; adding again restores just that one.
    const auto listed = sh("nft -a list chain inet filter forward");
    const auto at = listed.find("ip6 daddr 2001:db8:a::2 accept comment \"clatd\" # handle ");
    REQUIRE(at != std::string::npos);
    const auto handle = listed.substr(listed.find("# handle ", at) + 9);
    sh("nft delete rule inet filter forward handle " + handle.substr(0, handle.find('\n')));
    CHECK(count(sh("nft list ruleset"), "clatd") == 3);
    CHECK(apply_ok(op::AddFirewallAccept{mine}) == kApplied);
    CHECK(count(sh("nft list ruleset"), "clatd") == 4);

    CHECK(apply_ok(op::RemoveFirewallAccept{mine}) == kApplied);
    const auto left = sh("nft list ruleset");
    CHECK(count(left, "clatd") == 2);
    CHECK(count(left, "2001:db8:a::3") == 2);
    CHECK(count(left, "2001:db8:a::2") == 0);
    CHECK(apply_ok(op::RemoveFirewallAccept{other}) == kApplied);
    CHECK(snapshot() == before);
}

op::FirewallRule marked(op::FirewallBackend backend, const std::string& tool, const char* mark) {
    auto r = rule(backend, tool);
    r.mark = mark;
    return r;
}

TEST_CASE("nft: removal takes only this instance's marked rules, never a look-alike") {
    CleanFirewallsAfter clean;
    sh("nft add table inet filter");
    sh("nft add chain inet filter forward '{ type filter hook forward priority 0; policy drop; }'");
    // A user's own rule for the same traffic, even with the comment "clatd".
    sh("nft add rule inet filter forward iifname fwclat oifname fwplat ip6 saddr 2001:db8:a::2 "
       "ip6 daddr 2001:db8:64::/96 accept comment '\"clatd\"'");
    const std::string before = snapshot();
    const auto mine = marked(op::FirewallBackend::kNftables, "nft", "00000000000000aa");
    const auto theirs = marked(op::FirewallBackend::kNftables, "nft", "00000000000000bb");
    CHECK(apply_ok(op::AddFirewallAccept{mine}) == kApplied);  // the look-alike is not ours
    CHECK(apply_ok(op::AddFirewallAccept{theirs}) == kApplied);
    const auto forward = sh("nft list chain inet filter forward");
    CHECK(count(forward, "accept comment \"clatd-00000000000000aa\"") == 2);
    CHECK(count(forward, "accept comment \"clatd-00000000000000bb\"") == 2);
    CHECK(apply_ok(op::RemoveFirewallAccept{mine}) == kApplied);
    const auto left = sh("nft list chain inet filter forward");
    CHECK(count(left, "clatd-00000000000000aa") == 0);
    CHECK(count(left, "clatd-00000000000000bb") == 2);
    CHECK(count(left, "accept comment \"clatd\"") == 1);
    CHECK(apply_ok(op::RemoveFirewallAccept{theirs}) == kApplied);
    CHECK(snapshot() == before);
}

TEST_CASE("ip6tables: removal takes only this instance's marked rules, never a look-alike") {
    CleanFirewallsAfter clean;
    for (const std::string tool : {"ip6tables", "ip6tables-legacy"}) {
        CAPTURE(tool);
        sh(tool + " -P FORWARD DROP");
        sh(tool +
           " -A FORWARD -i fwclat -o fwplat -s 2001:db8:a::2 -d 2001:db8:64::/96 "
           "-m comment --comment clatd -j ACCEPT");
        const std::string before_tool = sh(tool + " -S");
        const auto mine = marked(op::FirewallBackend::kIp6tables, tool, "00000000000000cc");
        CHECK(apply_ok(op::AddFirewallAccept{mine}) == kApplied);
        CHECK(count(sh(tool + " -S FORWARD"), "--comment clatd-00000000000000cc -j ACCEPT") == 2);
        CHECK(apply_ok(op::RemoveFirewallAccept{mine}) == kApplied);
        CHECK(apply_ok(op::RemoveFirewallAccept{mine}) == kAlreadyInPlace);
        CHECK(sh(tool + " -S") == before_tool);  // the user's "clatd" rule is still there
        sh(tool + " -P FORWARD ACCEPT && " + tool + " -F FORWARD");
    }
}

TEST_CASE("nft: without a dropping forward chain there is nothing to do") {
    CleanFirewallsAfter clean;
    sh("nft add table inet filter");
    sh("nft add chain inet filter forward '{ type filter hook forward priority 0; }'");
    const std::string before = snapshot();
    const auto r = rule(op::FirewallBackend::kNftables, "nft");
    CHECK(apply_ok(op::AddFirewallAccept{r}) == kAlreadyInPlace);
    CHECK(apply_ok(op::RemoveFirewallAccept{r}) == kAlreadyInPlace);
    CHECK(snapshot() == before);
}

TEST_CASE("nft: a forward chain managed by ip6tables-nft is a drop chain like any other") {
    CleanFirewallsAfter clean;
    sh("ip6tables -P FORWARD DROP");
    sh("ip6tables -A FORWARD -m conntrack --ctstate ESTABLISHED -m comment --comment 'x { y' "
       "-j ACCEPT");
    const std::string before = snapshot();
    const auto r = rule(op::FirewallBackend::kNftables, "nft");
    CHECK(apply_ok(op::AddFirewallAccept{r}) == kApplied);
    CHECK(count(sh("nft list chain ip6 filter FORWARD"), "comment \"clatd\"") == 2);
    CHECK(apply_ok(op::RemoveFirewallAccept{r}) == kApplied);
    CHECK(snapshot() == before);
}

TEST_CASE("ip6tables (nf_tables and legacy): rules go into FORWARD and leave no trace") {
    CleanFirewallsAfter clean;
    for (const std::string tool : {"ip6tables", "ip6tables-legacy"}) {
        CAPTURE(tool);
        sh(tool + " -P FORWARD DROP");
        const std::string before = snapshot();
        const std::string before_tool = sh(tool + " -S");
        const auto r = rule(op::FirewallBackend::kIp6tables, tool);
        CHECK(apply_ok(op::AddFirewallAccept{r}) == kApplied);
        const auto listed = sh(tool + " -S FORWARD");
        CHECK(count(listed,
                    "-A FORWARD -s 2001:db8:a::2/128 -d 2001:db8:64::/96 -i fwclat "
                    "-o fwplat -m comment --comment clatd -j ACCEPT") == 1);
        CHECK(count(listed,
                    "-A FORWARD -s 2001:db8:64::/96 -d 2001:db8:a::2/128 -i fwplat "
                    "-o fwclat -m comment --comment clatd -j ACCEPT") == 1);
        CHECK(apply_ok(op::AddFirewallAccept{r}) == kAlreadyInPlace);
        CHECK(apply_ok(op::RemoveFirewallAccept{r}) == kApplied);
        CHECK(apply_ok(op::RemoveFirewallAccept{r}) == kAlreadyInPlace);
        CHECK(sh(tool + " -S") == before_tool);
        CHECK(snapshot() == before);
    }
}

TEST_CASE("a missing firewall tool is an error that names the operation and the tool") {
    const Operation add =
        op::AddFirewallAccept{rule(op::FirewallBackend::kNftables, "/nonexistent/nft")};
    auto result = kernel().apply(add);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message ==
          to_string(add) + ": cannot run /nonexistent/nft: No such file or directory");
}

TEST_CASE("CLAT traffic passes an nft forward policy of drop only while the rules are there") {
    CleanFirewallsAfter clean;
    ForwardingPath path("nft");
    REQUIRE(path.passes());
    sh("nft add table inet filter");
    sh("nft add chain inet filter forward "
       "'{ type filter hook forward priority 0; policy drop; }'");
    CHECK_FALSE(path.ping());
    const auto r = path.rule_for(op::FirewallBackend::kNftables, "nft");
    CHECK(apply_ok(op::AddFirewallAccept{r}) == kApplied);
    CHECK(path.passes());
    CHECK(apply_ok(op::RemoveFirewallAccept{r}) == kApplied);
    CHECK_FALSE(path.ping());
}

TEST_CASE(
    "CLAT traffic passes an ip6tables FORWARD policy of drop only while the rules are there") {
    CleanFirewallsAfter clean;
    ForwardingPath path("ipt");
    REQUIRE(path.passes());
    sh("ip6tables -P FORWARD DROP");
    CHECK_FALSE(path.ping());
    const auto r = path.rule_for(op::FirewallBackend::kIp6tables, "ip6tables");
    CHECK(apply_ok(op::AddFirewallAccept{r}) == kApplied);
    CHECK(path.passes());
    CHECK(apply_ok(op::RemoveFirewallAccept{r}) == kApplied);
    CHECK_FALSE(path.ping());
}

}  // namespace
}  // namespace clat::test
