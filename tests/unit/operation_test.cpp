#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "states/operation.hpp"
#include "tests/values.hpp"

namespace clat::test {
namespace {

RouteV4 clat_default_route() {
    RouteV4 r;
    r.destination = p4("0.0.0.0/0");
    r.metric = 2048;
    r.protocol = kRouteProtocol;
    r.mtu = 1260;
    r.advmss = 1220;
    return r;
}

RouteV4 full_route_v4() {
    RouteV4 r = clat_default_route();
    r.destination = p4("198.51.100.0/24");
    r.gateway = v4("192.0.2.1");
    r.table = 100;
    r.scope = 253;
    r.type = 2;
    r.oif = 7;
    return r;
}

RouteV6 full_route_v6() {
    RouteV6 r;
    r.destination = p6("64:ff9b::/96");
    r.gateway = v6("fe80::1");
    r.metric = 1024;
    r.table = 4242;
    r.protocol = kRouteProtocol;
    r.type = 7;
    r.mtu = 1500;
    r.oif = 3;
    return r;
}

RuleV6 rule(std::uint32_t priority, std::uint32_t table) {
    RuleV6 r;
    r.priority = priority;
    r.table = table;
    return r;
}

RuleV6 full_rule() {
    return RuleV6{.priority = 1000,
                  .table = 4242,
                  .destination = p6("2001:db8:1::/48"),
                  .source = p6("2001:db8::c1a7/128"),
                  .fwmark = 0xc1a7,
                  .iif = "clat dev"};
}

op::FirewallRule firewall_rule(op::FirewallBackend backend, std::string tool) {
    return op::FirewallRule{.backend = backend,
                            .tool = std::move(tool),
                            .clat_dev = "clat",
                            .plat_dev = "eth0",
                            .clat_v6 = v6("2001:db8::c1a7"),
                            .plat_prefix = p6("64:ff9b::/96"),
                            .mark = "0123456789abcdef"};
}

op::SharedMarking shared_marking(std::string tool) {
    return op::SharedMarking{.tool = std::move(tool),
                             .mark = "00c0ffee00c0ffee",
                             .clat_dev = "clat",
                             .plat_dev = "eth0",
                             .clat_v6 = v6("2001:db8:1::2"),
                             .plat_prefix = p6("2001:db8:64::/96"),
                             .ctmark = 0xc1a7};
}

// Device names the kernel accepts may hold almost any byte but '/', ':' and whitespace; the
// text form must carry more than that (sysctl values contain tabs, tools have spaces).
const std::vector<std::string> kTrickyNames = {
    "clat",      "",    "a b", "quote\"d",          "back\\slash",   "tab\there",
    "new\nline", "x=y", "\"",  "\xc3\xa9t\xc3\xa9", "-leading-dash", "trailing "};

std::vector<Operation> every_kind_of_operation() {
    using namespace op;
    RouteV6 bare_v6;
    bare_v6.destination = p6("::/0");
    return {
        CreateTun{"clat"},
        DeleteLink{"clat"},
        SetLinkUp{"clat", true},
        SetLinkUp{"clat", false},
        SetLinkMtu{"clat", 1260},
        AddAddressV4{"clat", v4("192.0.0.1"), 32},
        RemoveAddressV4{"eth0", v4("192.0.2.33"), 24},
        AddAddressV6{"eth0", v6("2001:db8::c1a7"), 64, true},
        AddAddressV6{"eth0", v6("2001:db8::c1a7"), 128, false},
        RemoveAddressV6{"eth0", v6("2001:db8::c1a7"), 0},
        AddRouteV4{"clat", clat_default_route()},
        AddRouteV4{"", RouteV4{}},
        RemoveRouteV4{"eth0", full_route_v4()},
        AddRouteV6{"clat", full_route_v6()},
        RemoveRouteV6{"", bare_v6},
        AddRuleV6{full_rule()},
        RemoveRuleV6{rule(1, 2)},
        AddProxyNeighbour{"eth0", v6("2001:db8::c1a7")},
        RemoveProxyNeighbour{"eth0", v6("2001:db8::c1a7"), std::nullopt},
        RemoveProxyNeighbour{"eth0", v6("2001:db8::c1a7"), 7},  // journalled with its device
        SetSysctl{"net/ipv6/conf/all/forwarding", "1", "0"},
        SetSysctl{"net/ipv4/tcp_rmem", "4096\t131072\t6291456", std::nullopt},
        SetSysctl{"net/ipv6/conf/eth0/accept_ra", "", ""},
        AddFirewallAccept{firewall_rule(FirewallBackend::kNftables, "nft")},
        RemoveFirewallAccept{firewall_rule(FirewallBackend::kIp6tables, "/opt/my tools/ip6tables")},
        AddFirewallAccept{firewall_rule(FirewallBackend::kIp6tablesLegacy, "ip6tables-legacy")},
        RemoveForeignRouteV4{"eth0", full_route_v4(), {}},
        RemoveForeignRouteV4{"", RouteV4{}, {0x02, 0x00, 0xff}},
        RestoreRoute{{0x02, 0x00, 0x00, 0x00, 0xfe, 0x04, 0x00, 0x01, 0xab, 0xcd, 0xef, 0x10}},
        RemoveTcFilter{"eth0", "ingress", 0xc1a7, 0xc1a7, 4242},
        RemoveTcFilter{"clat", "egress", 0xc1a7, 0xc1a7, std::nullopt},  // older journals
        RemoveClsact{"eth0"},
        MoveRuleV6{RuleV6{0, 255, std::nullopt, std::nullopt, std::nullopt, ""}, 1},
        MoveRuleV6{full_rule(), 7},
        AddSharedMarking{shared_marking("nft")},
        RemoveSharedMarking{shared_marking("/opt/my tools/nft")},
    };
}

TEST_CASE("shared mode's operations: the text form names the table's mark and the rule moved") {
    using namespace op;
    CHECK(to_string(MoveRuleV6{RuleV6{0, 255, std::nullopt, std::nullopt, std::nullopt, ""}, 1}) ==
          "move-rule-v6 prio=0 table=255 to-prio=1");
    CHECK(to_string(AddSharedMarking{shared_marking("nft")}) ==
          "add-shared-marking tool=nft mark=00c0ffee00c0ffee clat-dev=clat plat-dev=eth0 "
          "clat-v6=2001:db8:1::2 plat-prefix=2001:db8:64::/96 ctmark=49575");
    CHECK(shared_marking("nft").table() == "clatd_shared_00c0ffee00c0ffee");
    // Moving back is the inverse of moving.
    const auto back =
        static_inverse(MoveRuleV6{RuleV6{0, 255, std::nullopt, std::nullopt, std::nullopt, ""}, 1});
    REQUIRE(back);
    CHECK(*back ==
          Operation{MoveRuleV6{RuleV6{1, 255, std::nullopt, std::nullopt, std::nullopt, ""}, 0}});
    CHECK_FALSE(
        parse_operation("add-shared-marking tool=nft mark=1 clat-dev=clat plat-dev=eth0 "
                        "clat-v6=2001:db8:1::2 plat-prefix=2001:db8:64::/96"));
}

TEST_CASE("the text form is the documented one-line key=value form") {
    using namespace op;
    CHECK(to_string(AddRouteV4{"clat", clat_default_route()}) ==
          "add-route-v4 dev=clat dst=0.0.0.0/0 metric=2048 table=254 proto=199 mtu=1260 "
          "advmss=1220");
    CHECK(to_string(SetSysctl{"net/ipv6/conf/all/forwarding", "1", "0"}) ==
          "set-sysctl path=net/ipv6/conf/all/forwarding value=1 if-current=0");
    CHECK(to_string(SetSysctl{"net/ipv4/tcp_rmem", "4096\t131072", std::nullopt}) ==
          "set-sysctl path=net/ipv4/tcp_rmem value=\"4096\\x09131072\"");
    CHECK(to_string(RemoveRouteV4{"eth0", full_route_v4()}) ==
          "remove-route-v4 dev=eth0 dst=198.51.100.0/24 gw=192.0.2.1 metric=2048 table=100 "
          "proto=199 scope=253 type=2 mtu=1260 advmss=1220 oif=7");
    CHECK(to_string(AddRouteV4{"", RouteV4{}}) ==
          "add-route-v4 dst=0.0.0.0/0 metric=0 table=254 proto=0");
    // A replaced route's undo carries the kernel's own message for it, as hex.
    CHECK(to_string(RestoreRoute{{0x02, 0x00, 0xfe, 0x0a}}) == "restore-route msg=0200fe0a");
    CHECK(to_string(RemoveForeignRouteV4{"eth0", RouteV4{}, {0x02}}) ==
          "remove-foreign-route-v4 dev=eth0 dst=0.0.0.0/0 metric=0 table=254 proto=0 saved=02");
    CHECK(to_string(AddAddressV6{"eth0", v6("2001:db8::c1a7"), 64, true}) ==
          "add-address-v6 dev=eth0 addr=2001:db8::c1a7/64 dad=1");
    CHECK(to_string(AddRuleV6{full_rule()}) ==
          "add-rule-v6 prio=1000 table=4242 from=2001:db8::c1a7/128 to=2001:db8:1::/48 "
          "fwmark=49575 iif=\"clat dev\"");
    CHECK(to_string(CreateTun{"a\"b\\c"}) == "create-tun dev=\"a\\\"b\\\\c\"");
    CHECK(to_string(CreateTun{""}) == "create-tun dev=\"\"");
    CHECK(to_string(AddFirewallAccept{firewall_rule(FirewallBackend::kNftables, "nft")}) ==
          "add-firewall-accept backend=nftables tool=nft clat-dev=clat plat-dev=eth0 "
          "clat-v6=2001:db8::c1a7 plat-prefix=64:ff9b::/96 mark=0123456789abcdef");
    // A journal line of an older build has no mark: it still parses, with the mark empty.
    auto legacy = parse_operation(
        "remove-firewall-accept backend=nftables tool=nft clat-dev=clat plat-dev=eth0 "
        "clat-v6=2001:db8::c1a7 plat-prefix=64:ff9b::/96");
    REQUIRE(legacy.ok());
    auto expected = firewall_rule(FirewallBackend::kNftables, "nft");
    expected.mark.clear();
    CHECK(*legacy == Operation{RemoveFirewallAccept{expected}});
}

TEST_CASE("every operation kind survives a round trip through its text") {
    for (const auto& op : every_kind_of_operation()) {
        const auto text = to_string(op);
        CAPTURE(text);
        CHECK(text.find('\n') == std::string::npos);
        auto parsed = parse_operation(text);
        REQUIRE_MESSAGE(parsed.ok(), parsed.error().message);
        CHECK(*parsed == op);
        CHECK(to_string(*parsed) == text);
    }
}

TEST_CASE("tricky device names, values and tools round-trip") {
    using namespace op;
    for (const auto& name : kTrickyNames) {
        CAPTURE(name);
        auto fw = firewall_rule(FirewallBackend::kNftables, name);
        fw.clat_dev = name;
        RuleV6 rule = full_rule();
        rule.iif = name;
        for (const Operation& op : std::vector<Operation>{
                 CreateTun{name}, SetLinkMtu{name, 4294967295U}, AddRouteV4{name, full_route_v4()},
                 AddProxyNeighbour{name, v6("::1")}, SetSysctl{name, name, name},
                 SetSysctl{"p", name, std::nullopt}, RemoveRuleV6{rule}, AddFirewallAccept{fw}}) {
            auto text = to_string(op);
            CAPTURE(text);
            CHECK(text.find('\n') == std::string::npos);
            auto parsed = parse_operation(text);
            REQUIRE_MESSAGE(parsed.ok(), parsed.error().message);
            CHECK(*parsed == op);
        }
    }
}

TEST_CASE("every optional route and rule field may be present or absent") {
    using namespace op;
    for (int mask = 0; mask < 32; ++mask) {
        RouteV4 r4 = clat_default_route();
        RouteV6 r6 = full_route_v6();
        RuleV6 rule = clat::test::rule(5, 6);
        if (mask & 1) {
            r4.gateway = v4("203.0.113.9");
            rule.source = p6("2001:db8::/32");
        } else {
            r6.gateway.reset();
        }
        if (mask & 2) {
            r4.mtu = 0;
            rule.destination = p6("2001:db8:ffff::/64");
        }
        if (mask & 4) {
            r4.advmss = 0;
            r6.mtu = 0;
            rule.fwmark = 0;
        }
        if (mask & 8) {
            r4.scope = 200;
            r6.type = 1;
            rule.iif = "eth0";
        }
        if (mask & 16)
            r4.oif = 0;
        for (const Operation& op : std::vector<Operation>{
                 AddRouteV4{"clat", r4}, RemoveRouteV6{"eth0", r6}, AddRuleV6{rule}}) {
            auto text = to_string(op);
            CAPTURE(text);
            auto parsed = parse_operation(text);
            REQUIRE_MESSAGE(parsed.ok(), parsed.error().message);
            CHECK(*parsed == op);
        }
    }
}

TEST_CASE("the parser accepts hand-written variants of the canonical text") {
    auto parsed = parse_operation("create-tun  dev=clat ");
    REQUIRE(parsed.ok());
    CHECK(*parsed == Operation{op::CreateTun{"clat"}});
    parsed = parse_operation("set-sysctl value=1 path=net/ipv4/ip_forward");
    REQUIRE(parsed.ok());
    CHECK(*parsed == Operation{op::SetSysctl{"net/ipv4/ip_forward", "1", std::nullopt}});
    parsed = parse_operation("create-tun dev=");
    REQUIRE(parsed.ok());
    CHECK(*parsed == Operation{op::CreateTun{""}});
    parsed = parse_operation("set-sysctl path=\"a\\x41\" value=x=y");
    REQUIRE(parsed.ok());
    CHECK(*parsed == Operation{op::SetSysctl{"aA", "x=y", std::nullopt}});
}

TEST_CASE("malformed lines are rejected with a message naming the problem") {
    struct Case {
        const char* line;
        const char* message;
    };
    for (auto c : {
             Case{"", "missing verb"},
             Case{" create-tun dev=x", "missing verb"},
             Case{"frobnicate dev=x", "unknown operation 'frobnicate'"},
             Case{"create-tun", "create-tun: missing field 'dev'"},
             Case{"create-tun dev=x colour=red", "create-tun: unknown field 'colour'"},
             Case{"create-tun dev=x dev=y", "field 'dev' given twice"},
             Case{"create-tun dev", "expected key=value at 'dev'"},
             Case{"create-tun =x", "expected key=value at '=x'"},
             Case{"create-tun dev=\"open", "field 'dev' has a malformed quoted value"},
             Case{"create-tun dev=\"a\"b", "field 'dev' has a malformed quoted value"},
             Case{"create-tun dev=\"\\q\"", "field 'dev' has a malformed quoted value"},
             Case{"create-tun dev=\"\\x4\"", "field 'dev' has a malformed quoted value"},
             Case{"create-tun dev=a\"b", "field 'dev' has a character that needs quoting"},
             Case{"set-link-mtu dev=x mtu=-1", "set-link-mtu: field 'mtu' has an invalid value"},
             Case{"set-link-mtu dev=x mtu=4294967296", "field 'mtu' has an invalid value"},
             Case{"set-link-mtu dev=x mtu=12a", "field 'mtu' has an invalid value '12a'"},
             Case{"set-link-up dev=x up=yes", "field 'up' has an invalid value 'yes'"},
             Case{"add-address-v4 dev=x addr=192.0.2.1", "field 'addr' has an invalid value"},
             Case{"add-address-v4 dev=x addr=192.0.2.1/33", "field 'addr' has an invalid value"},
             Case{"add-address-v6 dev=x addr=192.0.2.1/32 dad=0", "field 'addr'"},
             Case{"add-address-v6 dev=x addr=2001:db8::1/64", "missing field 'dad'"},
             Case{"add-route-v4 dst=192.0.2.1/24 metric=0 table=254 proto=0",
                  "field 'dst' has an invalid value"},
             Case{"add-route-v4 dst=0.0.0.0/0 metric=0 table=254 proto=256",
                  "field 'proto' has an invalid value '256'"},
             Case{"add-route-v4 dst=0.0.0.0/0 table=254 proto=1", "missing field 'metric'"},
             Case{"add-route-v6 dst=::/0 gw=192.0.2.1 metric=0 table=254 proto=0",
                  "add-route-v6: field 'gw' has an invalid value '192.0.2.1'"},
             Case{"add-route-v6 dst=::/0 metric=0 table=254 proto=0 advmss=1",
                  "unknown field 'advmss'"},
             Case{"add-rule-v6 prio=1 table=2 from=2001:db8::1/64",
                  "field 'from' has an invalid value"},
             Case{"add-firewall-accept backend=iptables tool=x clat-dev=a plat-dev=b "
                  "clat-v6=::1 plat-prefix=::/0",
                  "field 'backend' has an invalid value 'iptables'"},
             Case{"set-sysctl path=a", "set-sysctl: missing field 'value'"},
             Case{"restore-route msg=020", "field 'msg' has an invalid value '020'"},
             Case{"restore-route msg=02zz", "field 'msg' has an invalid value '02zz'"},
             Case{"restore-route", "restore-route: missing field 'msg'"},
         }) {
        CAPTURE(c.line);
        auto parsed = parse_operation(c.line);
        REQUIRE_FALSE(parsed.ok());
        CHECK_MESSAGE(parsed.error().message.find(c.message) != std::string::npos,
                      parsed.error().message);
    }
}

TEST_CASE("adds and removes invert each other; the rest need observed state") {
    using namespace op;
    for (const auto& op : every_kind_of_operation()) {
        CAPTURE(to_string(op));
        auto inverse = static_inverse(op);
        const bool stateful =
            std::holds_alternative<SetSysctl>(op) || std::holds_alternative<SetLinkUp>(op) ||
            std::holds_alternative<SetLinkMtu>(op) || std::holds_alternative<DeleteLink>(op) ||
            std::holds_alternative<RemoveForeignRouteV4>(op) ||
            std::holds_alternative<RestoreRoute>(op) ||
            // Undos of the data path's own tc changes: nothing re-attaches a program from text.
            std::holds_alternative<RemoveTcFilter>(op) || std::holds_alternative<RemoveClsact>(op);
        REQUIRE(inverse.has_value() == !stateful);
        if (!inverse || std::holds_alternative<CreateTun>(op))
            continue;
        // A move's inverse is the move back.
        CHECK((inverse->index() != op.index()) == !std::holds_alternative<MoveRuleV6>(op));
        auto back = static_inverse(*inverse);
        REQUIRE(back);
        if (const auto* add = std::get_if<AddAddressV6>(&op)) {
            // The DAD flag does not survive removal: a restored address skips DAD.
            CHECK(*back ==
                  Operation{AddAddressV6{add->dev, add->address, add->prefix_length, false}});
        } else if (const auto* proxy = std::get_if<RemoveProxyNeighbour>(&op)) {
            // The device index is the executor's to journal, not an inverse's to invent.
            CHECK(*back ==
                  Operation{RemoveProxyNeighbour{proxy->dev, proxy->address, std::nullopt}});
        } else {
            CHECK(*back == op);
        }
    }
    CHECK(static_inverse(CreateTun{"clat"}) == Operation{DeleteLink{"clat"}});
    CHECK(static_inverse(AddRouteV4{"clat", clat_default_route()}) ==
          Operation{RemoveRouteV4{"clat", clat_default_route()}});
    CHECK(static_inverse(RemoveAddressV6{"eth0", v6("2001:db8::1"), 64}) ==
          Operation{AddAddressV6{"eth0", v6("2001:db8::1"), 64, false}});
}

TEST_CASE("a per-device sysctl keeps its device's index through the text form") {
    using namespace op;
    const Operation undo = SetSysctl{"net/ipv6/conf/host0/proxy_ndp", "0", "1", 7};
    CHECK(to_string(undo) ==
          "set-sysctl path=net/ipv6/conf/host0/proxy_ndp value=0 if-current=1 ifindex=7");
    auto parsed = parse_operation(to_string(undo));
    REQUIRE(parsed.ok());
    CHECK(*parsed == undo);
    // Journals of older builds have no index: undo goes by name as before.
    auto old = parse_operation("set-sysctl path=net/ipv6/conf/host0/proxy_ndp value=0");
    REQUIRE(old.ok());
    CHECK_FALSE(std::get<SetSysctl>(*old).ifindex.has_value());
}

TEST_CASE("the device of a sysctl path, and the path under another name") {
    CHECK(sysctl_path_device("net/ipv6/conf/host0/proxy_ndp") == "host0");
    CHECK(sysctl_path_device("net/ipv6/neigh/eth0.100/proxy_delay") == "eth0.100");
    CHECK(sysctl_path_device("net/ipv4/conf/wan/rp_filter") == "wan");
    CHECK(sysctl_path_device("net/ipv6/conf/all/forwarding").empty());
    CHECK(sysctl_path_device("net/ipv6/conf/default/accept_ra").empty());
    CHECK(sysctl_path_device("net/ipv4/ip_forward").empty());
    CHECK(sysctl_path_with_device("net/ipv6/conf/host0/proxy_ndp", "wan0") ==
          "net/ipv6/conf/wan0/proxy_ndp");
    CHECK(sysctl_path_with_device("net/ipv6/conf/all/forwarding", "wan0") ==
          "net/ipv6/conf/all/forwarding");
}

}  // namespace
}  // namespace clat::test
