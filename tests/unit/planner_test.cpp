#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "states/planner.hpp"
#include "tests/values.hpp"

namespace clat::test {
namespace {

constexpr std::uint8_t kProtoKernel = 2;  // RTPROT_KERNEL
constexpr std::uint8_t kProtoBoot = 3;    // RTPROT_BOOT: `ip route add` without proto
constexpr std::uint8_t kProtoRa = 9;      // RTPROT_RA
constexpr std::uint8_t kProtoDhcp = 16;   // RTPROT_DHCP

/// One text line per operation, so that a failing comparison shows both plans readably.
std::string lines(const Plan& plan) {
    std::string out;
    for (const Operation& operation : plan)
        out += to_string(operation) + "\n";
    return out;
}

/// How many operations of type T the plan holds.
template <typename T>
long count(const Plan& plan) {
    return std::count_if(plan.begin(), plan.end(),
                         [](const Operation& o) { return std::holds_alternative<T>(o); });
}

void check_plan(const Plan& actual, const Plan& expected) {
    CHECK(lines(actual) == lines(expected));
    CHECK(actual == expected);
}

/// An IPv6-only host: lo and eth0 with a SLAAC address and an RA default route.
struct Host {
    Config config;
    Observed observed;
    std::map<std::string, std::string> sysctls = {
        {"net/ipv6/conf/all/forwarding", "0"},     {"net/ipv6/conf/all/accept_ra", "1"},
        {"net/ipv6/conf/default/accept_ra", "1"},  {"net/ipv6/conf/lo/accept_ra", "0"},
        {"net/ipv6/conf/eth0/accept_ra", "1\n"},   {"net/ipv6/conf/eth0/proxy_ndp", "0"},
        {"net/ipv6/neigh/eth0/proxy_delay", "80"},
    };
    std::vector<op::FirewallTarget> firewall = {{op::FirewallBackend::kNftables, "nft"}};
    std::vector<op::FirewallRule> firewall_lost;
    Ipv6Prefix plat = *Ipv6Prefix::parse("2001:db8:64::/96");
    Ipv6Address clat_v6 = v6("2001:db8:1::c1a7");
    std::string plat_dev = "eth0";
    Plan applied;  ///< what the fake executor applied, oldest first, as a journal would hold
    std::optional<std::uint32_t> path_mtu;  ///< what the data path carries (eBPF: uplink - 20)

    Host() {
        observed.links[1] = Link{1, "lo", "", true, true, 65536};
        observed.links[2] = Link{2, "eth0", "veth", true, true, 1500};
        observed.addresses_v6.push_back(AddressV6{2, v6("2001:db8:1::5054:ff:fe12:3456"), 64});
        RouteV6 ra_default;
        ra_default.oif = 2;
        ra_default.gateway = v6("fe80::1");
        ra_default.metric = 1024;
        ra_default.protocol = kProtoRa;
        observed.routes_v6.push_back(ra_default);
    }

    PlanInput input() const {
        return PlanInput{config,   observed, plat,   clat_v6,  plat_dev,     sysctls,
                         firewall, applied,  "5eed", path_mtu, firewall_lost};
    }
    Plan plan() const {
        auto result = make_plan(input());
        REQUIRE_MESSAGE(result.ok(), result.error().message);
        return *result;
    }
    int index_of(const std::string& dev) const {
        const Link* link = observed.link_by_name(dev);
        return link == nullptr ? 0 : link->index;
    }
    void apply(const Operation& operation);
    /// Plans, applies, and returns what was applied.
    Plan converge() {
        Plan ops = plan();
        for (const Operation& operation : ops)
            apply(operation);
        return ops;
    }
};

template <typename T>
void erase_equal(std::vector<T>& values, const T& value) {
    std::erase(values, value);
}

/// A fake kernel: what netlink would then report, including the link-local address and
/// route the kernel itself puts on a tun device when it comes up.
void Host::apply(const Operation& operation) {
    applied.push_back(operation);
    if (const auto* create = std::get_if<op::CreateTun>(&operation)) {
        int index = observed.links.rbegin()->first + 1;
        observed.links[index] = Link{index, create->dev, "tun", false, false, 1500};
    } else if (const auto* up = std::get_if<op::SetLinkUp>(&operation)) {
        Link& link = observed.links[index_of(up->dev)];
        link.admin_up = up->up;
        RouteV6 link_local;
        link_local.destination = *Ipv6Prefix::parse("fe80::/64");
        link_local.oif = link.index;
        link_local.metric = 256;
        link_local.protocol = kProtoKernel;
        observed.routes_v6.push_back(link_local);
    } else if (const auto* add_a = std::get_if<op::AddAddressV4>(&operation)) {
        observed.addresses_v4.push_back(
            AddressV4{index_of(add_a->dev), add_a->address, add_a->prefix_length});
    } else if (const auto* del_a = std::get_if<op::RemoveAddressV4>(&operation)) {
        erase_equal(observed.addresses_v4,
                    AddressV4{index_of(del_a->dev), del_a->address, del_a->prefix_length});
    } else if (const auto* add4 = std::get_if<op::AddRouteV4>(&operation)) {
        auto route = add4->route;
        route.oif = index_of(add4->dev);
        observed.routes_v4.push_back(route);
    } else if (const auto* del4 = std::get_if<op::RemoveRouteV4>(&operation)) {
        auto route = del4->route;
        route.oif = index_of(del4->dev);
        erase_equal(observed.routes_v4, route);
    } else if (const auto* foreign = std::get_if<op::RemoveForeignRouteV4>(&operation)) {
        auto route = foreign->route;
        route.oif = index_of(foreign->dev);
        erase_equal(observed.routes_v4, route);
    } else if (const auto* add6 = std::get_if<op::AddRouteV6>(&operation)) {
        auto route = add6->route;
        route.oif = index_of(add6->dev);
        observed.routes_v6.push_back(route);
    } else if (const auto* del6 = std::get_if<op::RemoveRouteV6>(&operation)) {
        auto route = del6->route;
        route.oif = index_of(del6->dev);
        erase_equal(observed.routes_v6, route);
    } else if (const auto* sysctl = std::get_if<op::SetSysctl>(&operation)) {
        sysctls[sysctl->path] = sysctl->value;
    } else if (const auto* add_p = std::get_if<op::AddProxyNeighbour>(&operation)) {
        observed.proxies_v6.push_back(ProxyNeighbourV6{index_of(add_p->dev), add_p->address});
    } else if (const auto* del_p = std::get_if<op::RemoveProxyNeighbour>(&operation)) {
        erase_equal(observed.proxies_v6, ProxyNeighbourV6{index_of(del_p->dev), del_p->address});
    }
}

/// A host on which the CLAT is provisioned with the defaults.
Host converged() {
    Host host;
    host.converge();
    return host;
}

RouteV6 clat_route(const char* address) {
    RouteV6 route;
    route.destination = Ipv6Prefix::make(v6(address), 128);
    route.metric = 1024;
    route.protocol = kRouteProtocol;
    return route;
}

RouteV4 clat_default(std::uint32_t metric = 2048) {
    RouteV4 route;
    route.metric = metric;
    route.protocol = kRouteProtocol;
    route.mtu = 1260;
    route.advmss = 1220;
    return route;
}

RouteV4 foreign_default(int oif, const char* gateway, std::uint32_t metric) {
    RouteV4 route;
    route.oif = oif;
    route.gateway = v4(gateway);
    route.metric = metric;
    route.protocol = kProtoDhcp;
    return route;
}

op::FirewallRule nft_rule(const char* clat_v6, const char* plat_dev = "eth0") {
    return op::FirewallRule{
        op::FirewallBackend::kNftables,         "nft", "clat", plat_dev, v6(clat_v6),
        *Ipv6Prefix::parse("2001:db8:64::/96"), "5eed"};
}

/// No delay for proxy answers on dev (the kernel's default is 80 centiseconds).
op::SetSysctl proxy_delay(const std::string& dev) {
    return op::SetSysctl{"net/ipv6/neigh/" + dev + "/proxy_delay", "0", std::nullopt};
}

op::SetSysctl sysctl(const std::string& path, const char* value) {
    return op::SetSysctl{"net/ipv6/conf/" + path, value, std::nullopt};
}

/// The device and everything on it, as provisioned from nothing.
Plan device_ops() {
    return {op::CreateTun{"clat"}, op::SetLinkUp{"clat", true},
            op::AddAddressV4{"clat", v4("192.0.0.1"), 32},
            op::AddRouteV6{"clat", clat_route("2001:db8:1::c1a7")},
            op::AddRouteV4{"clat", clat_default()}};
}

}  // namespace

TEST_CASE("cold provisioning with the defaults") {
    Host host;
    Plan expected = {sysctl("all/accept_ra", "2"),  sysctl("default/accept_ra", "2"),
                     sysctl("eth0/accept_ra", "2"), sysctl("all/forwarding", "1"),
                     sysctl("eth0/proxy_ndp", "1"), proxy_delay("eth0")};
    for (const Operation& operation : device_ops())
        expected.push_back(operation);
    expected.push_back(op::AddProxyNeighbour{"eth0", v6("2001:db8:1::c1a7")});
    expected.push_back(op::AddFirewallAccept{nft_rule("2001:db8:1::c1a7")});
    check_plan(host.plan(), expected);
}

TEST_CASE("a converged host yields an empty plan, also when planned again") {
    Host host = converged();
    check_plan(host.plan(), {});
    check_plan(host.converge(), {});
    // The kernel's own link-local route on the tun device is foreign and stays.
    CHECK(std::count_if(host.observed.routes_v6.begin(), host.observed.routes_v6.end(),
                        [](const RouteV6& r) { return r.protocol == kProtoKernel; }) == 1);
}

TEST_CASE("renumbering changes only the /128 route, the proxy entry and the firewall rule") {
    Host host = converged();
    host.clat_v6 = v6("2001:db8:2::c1a7");
    check_plan(host.converge(),
               {op::RemoveFirewallAccept{nft_rule("2001:db8:1::c1a7")},
                op::RemoveProxyNeighbour{"eth0", v6("2001:db8:1::c1a7"), std::nullopt},
                op::RemoveRouteV6{"clat", clat_route("2001:db8:1::c1a7")},
                op::AddRouteV6{"clat", clat_route("2001:db8:2::c1a7")},
                op::AddProxyNeighbour{"eth0", v6("2001:db8:2::c1a7")},
                op::AddFirewallAccept{nft_rule("2001:db8:2::c1a7")}});
    check_plan(host.plan(), {});
}

TEST_CASE("a new PLAT device moves the proxy entry and the firewall rule") {
    Host host = converged();
    host.observed.links[10] = Link{10, "eth1", "veth", true, true, 1500};
    host.sysctls["net/ipv6/conf/eth1/proxy_ndp"] = "0";
    host.plat_dev = "eth1";
    check_plan(host.converge(),
               {op::RemoveFirewallAccept{nft_rule("2001:db8:1::c1a7")},
                op::RemoveProxyNeighbour{"eth0", v6("2001:db8:1::c1a7"), std::nullopt},
                sysctl("eth1/proxy_ndp", "1"), proxy_delay("eth1"),
                op::AddProxyNeighbour{"eth1", v6("2001:db8:1::c1a7")},
                op::AddFirewallAccept{nft_rule("2001:db8:1::c1a7", "eth1")}});
    check_plan(host.plan(), {});
}

TEST_CASE("a new metric replaces the default route, removing the old one first") {
    Host host = converged();
    host.config.v4_defaultroute_metric = 100;
    check_plan(host.converge(), {op::RemoveRouteV4{"clat", clat_default(2048)},
                                 op::AddRouteV4{"clat", clat_default(100)}});
    check_plan(host.plan(), {});
}

TEST_CASE("a new route MTU replaces the default route; mtu 0 means none") {
    Host host = converged();
    host.config.v4_defaultroute_mtu = 0;
    RouteV4 bare = clat_default();
    bare.mtu = 0;
    bare.advmss = 0;
    check_plan(host.converge(),
               {op::RemoveRouteV4{"clat", clat_default()}, op::AddRouteV4{"clat", bare}});
    check_plan(host.plan(), {});
}

TEST_CASE("v4-defaultroute-enable=no adds no default route and removes ours") {
    Host cold;
    cold.config.v4_defaultroute_enable = false;
    auto plan = cold.plan();
    CHECK(count<op::AddRouteV4>(plan) == 0);
    CHECK(plan.size() == 12);

    Host host = converged();
    host.config.v4_defaultroute_enable = false;
    check_plan(host.converge(), {op::RemoveRouteV4{"clat", clat_default()}});
    check_plan(host.plan(), {});
}

TEST_CASE("v4-defaultroute-replace removes every foreign IPv4 default route, with its device") {
    Host host = converged();
    host.observed.links[4] = Link{4, "wlan0", "", true, true, 1500};
    auto dhcp_eth0 = foreign_default(2, "192.0.2.1", 100);
    auto dhcp_wlan0 = foreign_default(4, "198.51.100.1", 600);
    host.observed.routes_v4.push_back(dhcp_eth0);
    host.observed.routes_v4.push_back(dhcp_wlan0);
    // Not a default route, and a default route in another table: both stay.
    auto lan = foreign_default(2, "192.0.2.1", 100);
    lan.destination = *Ipv4Prefix::parse("203.0.113.0/24");
    auto other_table = foreign_default(2, "192.0.2.1", 100);
    other_table.table = 100;
    host.observed.routes_v4.push_back(lan);
    host.observed.routes_v4.push_back(other_table);
    host.config.v4_defaultroute_replace = true;

    dhcp_eth0.oif = 0;
    dhcp_wlan0.oif = 0;
    check_plan(host.converge(), {op::RemoveForeignRouteV4{"eth0", dhcp_eth0, {}},
                                 op::RemoveForeignRouteV4{"wlan0", dhcp_wlan0, {}}});
    check_plan(host.plan(), {});

    SUBCASE("a foreign default route that reappears is removed again") {
        host.observed.routes_v4.push_back(foreign_default(4, "198.51.100.1", 600));
        check_plan(host.plan(), {op::RemoveForeignRouteV4{"wlan0", dhcp_wlan0, {}}});
    }
    SUBCASE("without our own default route") {
        host.config.v4_defaultroute_enable = false;
        check_plan(host.plan(), {op::RemoveRouteV4{"clat", clat_default()}});
    }
}

TEST_CASE("v4-defaultroute-replace on a cold host removes before it adds") {
    Host host;
    host.config.v4_defaultroute_replace = true;
    auto dhcp = foreign_default(2, "192.0.2.1", 2048);  // same key as ours: must go first
    host.observed.routes_v4.push_back(dhcp);
    auto plan = host.plan();
    dhcp.oif = 0;
    REQUIRE(!plan.empty());
    CHECK(plan.front() == Operation{op::RemoveForeignRouteV4{"eth0", dhcp, {}}});
    CHECK(count<op::AddRouteV4>(plan) == 1);
}

TEST_CASE("without v4-defaultroute-replace foreign default routes stay") {
    Host host = converged();
    host.observed.routes_v4.push_back(foreign_default(2, "192.0.2.1", 100));
    check_plan(host.plan(), {});
}

TEST_CASE("forwarding already on: no sysctl is written, accept_ra=1 stays") {
    Host host;
    host.sysctls["net/ipv6/conf/all/forwarding"] = "1\n";
    host.sysctls["net/ipv6/conf/eth0/proxy_ndp"] = "1";
    host.sysctls["net/ipv6/neigh/eth0/proxy_delay"] = "0\n";
    auto plan = host.plan();
    CHECK(count<op::SetSysctl>(plan) == 0);
    check_plan(plan, [] {
        Plan expected = device_ops();
        expected.push_back(op::AddProxyNeighbour{"eth0", v6("2001:db8:1::c1a7")});
        expected.push_back(op::AddFirewallAccept{nft_rule("2001:db8:1::c1a7")});
        return expected;
    }());
}

TEST_CASE("accept_ra 1 on two devices becomes 2 before forwarding is switched on") {
    Host host;
    host.observed.links[3] = Link{3, "eth1", "veth", true, true, 1500};
    host.sysctls = {{"net/ipv6/conf/all/forwarding", "0"}, {"net/ipv6/conf/all/accept_ra", "0"},
                    {"net/ipv6/conf/eth0/accept_ra", "1"}, {"net/ipv6/conf/eth1/accept_ra", "1"},
                    {"net/ipv6/conf/lo/accept_ra", "2"},   {"net/ipv6/conf/eth0/proxy_ndp", "1"}};
    auto plan = host.plan();
    REQUIRE(plan.size() >= 3);
    check_plan(Plan(plan.begin(), plan.begin() + 3),
               {sysctl("eth0/accept_ra", "2"), sysctl("eth1/accept_ra", "2"),
                sysctl("all/forwarding", "1")});
    CHECK(count<op::SetSysctl>(plan) == 4);  // and proxy_delay
}

TEST_CASE("forwarding-enable=no writes no forwarding or accept_ra sysctl") {
    Host host;
    host.config.forwarding_enable = false;
    auto plan = host.plan();
    CHECK(count<op::SetSysctl>(plan) == 2);
    CHECK(plan.front() == Operation{sysctl("eth0/proxy_ndp", "1")});
    CHECK(plan[1] == Operation{proxy_delay("eth0")});
}

TEST_CASE("proxynd-enable=no: no proxy_ndp sysctl and no proxy entry") {
    Host host;
    host.config.proxynd_enable = false;
    auto plan = host.plan();
    CHECK(count<op::AddProxyNeighbour>(plan) == 0);
    CHECK(count<op::SetSysctl>(plan) == 4);  // accept_ra x3 and forwarding; no proxy_delay

    Host on = converged();
    on.config.proxynd_enable = false;
    check_plan(on.converge(),
               {op::RemoveProxyNeighbour{"eth0", v6("2001:db8:1::c1a7"), std::nullopt}});
    check_plan(on.plan(), {});
}

TEST_CASE("firewall: none adds no rule; a new backend replaces the rule") {
    Host none;
    none.firewall = {};
    auto plan = none.plan();
    CHECK(count<op::AddFirewallAccept>(plan) == 0);

    Host host = converged();
    host.firewall = {{op::FirewallBackend::kIp6tables, "/usr/sbin/ip6tables"}};
    auto ip6tables = nft_rule("2001:db8:1::c1a7");
    ip6tables.backend = op::FirewallBackend::kIp6tables;
    ip6tables.tool = "/usr/sbin/ip6tables";
    check_plan(host.converge(), {op::RemoveFirewallAccept{nft_rule("2001:db8:1::c1a7")},
                                 op::AddFirewallAccept{ip6tables}});
    check_plan(host.plan(), {});
}

TEST_CASE("firewall: a rule in each backend that drops; one that stops dropping loses its rule") {
    Host host = converged();
    auto legacy = nft_rule("2001:db8:1::c1a7");
    legacy.backend = op::FirewallBackend::kIp6tablesLegacy;
    legacy.tool = "ip6tables-legacy";
    host.firewall.push_back({op::FirewallBackend::kIp6tablesLegacy, "ip6tables-legacy"});
    check_plan(host.converge(), {op::AddFirewallAccept{legacy}});
    check_plan(host.plan(), {});
    host.firewall.erase(host.firewall.begin());  // nft no longer drops
    check_plan(host.converge(), {op::RemoveFirewallAccept{nft_rule("2001:db8:1::c1a7")}});
    check_plan(host.plan(), {});
}

TEST_CASE("firewall: a journalled rule found lost is added again, and only that one") {
    Host host = converged();
    auto legacy = nft_rule("2001:db8:1::c1a7");
    legacy.backend = op::FirewallBackend::kIp6tablesLegacy;
    legacy.tool = "ip6tables-legacy";
    host.firewall.push_back({op::FirewallBackend::kIp6tablesLegacy, "ip6tables-legacy"});
    host.converge();
    host.firewall_lost = {legacy};  // `ip6tables-legacy -F` behind the agent's back
    check_plan(host.plan(), {op::AddFirewallAccept{legacy}});
    // A lost rule of a backend that no longer drops is removed, not added.
    host.firewall.pop_back();
    check_plan(host.plan(), {op::RemoveFirewallAccept{legacy}});
}

TEST_CASE("a clat device deleted by someone else is re-created with everything on it") {
    Host host = converged();
    int index = host.index_of("clat");
    host.observed.links.erase(index);
    std::erase_if(host.observed.routes_v4, [&](const RouteV4& r) { return r.oif == index; });
    std::erase_if(host.observed.routes_v6, [&](const RouteV6& r) { return r.oif == index; });
    std::erase_if(host.observed.addresses_v4,
                  [&](const AddressV4& a) { return a.ifindex == index; });
    check_plan(host.converge(), device_ops());
    check_plan(host.plan(), {});
}

TEST_CASE("our objects removed by someone else are put back") {
    Host host = converged();
    SUBCASE("the /128 route") {
        std::erase_if(host.observed.routes_v6,
                      [](const RouteV6& r) { return r.protocol == kRouteProtocol; });
        check_plan(host.plan(), {op::AddRouteV6{"clat", clat_route("2001:db8:1::c1a7")}});
    }
    SUBCASE("the IPv4 address, and the device set down") {
        host.observed.addresses_v4.clear();
        host.observed.links[host.index_of("clat")].admin_up = false;
        check_plan(host.plan(),
                   {op::SetLinkUp{"clat", true}, op::AddAddressV4{"clat", v4("192.0.0.1"), 32}});
    }
}

TEST_CASE("foreign routes on the clat device are left alone; stale routes of ours go") {
    Host host = converged();
    int clat = host.index_of("clat");
    RouteV4 script_up;  // as `ip route add 198.51.100.0/24 dev clat` in script-up
    script_up.destination = *Ipv4Prefix::parse("198.51.100.0/24");
    script_up.oif = clat;
    script_up.protocol = kProtoBoot;
    RouteV4 other_instance = clat_default(3000);  // our protocol, another device
    other_instance.oif = 2;
    RouteV4 stale = script_up;
    stale.destination = *Ipv4Prefix::parse("203.0.113.0/24");
    stale.protocol = kRouteProtocol;
    host.observed.routes_v4.insert(host.observed.routes_v4.end(),
                                   {script_up, other_instance, stale});
    host.observed.addresses_v4.push_back(AddressV4{clat, v4("192.0.0.4"), 30});
    stale.oif = 0;
    check_plan(host.converge(), {op::RemoveRouteV4{"clat", stale},
                                 op::RemoveAddressV4{"clat", v4("192.0.0.4"), 30}});
    check_plan(host.plan(), {});
}

TEST_CASE("an entry followed by its removal in the journal counts as not applied") {
    Host host = converged();
    host.applied.push_back(op::RemoveFirewallAccept{nft_rule("2001:db8:1::c1a7")});
    check_plan(host.plan(), {op::AddFirewallAccept{nft_rule("2001:db8:1::c1a7")}});
}

TEST_CASE("a proxy entry removed behind the agent's back is put back, and only that") {
    Host host = converged();
    const ProxyNeighbourV6 ours{host.index_of("eth0"), v6("2001:db8:1::c1a7")};
    REQUIRE(host.observed.proxies_v6 == std::vector{ours});
    host.observed.proxies_v6.clear();  // `ip -6 neigh del proxy`, or eth0 set down and up
    check_plan(host.converge(), {op::AddProxyNeighbour{"eth0", v6("2001:db8:1::c1a7")}});
    check_plan(host.plan(), {});
}

TEST_CASE("a proxy entry someone else made is neither added again nor removed") {
    Host host;
    host.observed.proxies_v6.push_back({host.index_of("eth0"), v6("2001:db8:1::c1a7")});
    CHECK(count<op::AddProxyNeighbour>(host.converge()) == 0);
    host.config.proxynd_enable = false;
    CHECK(count<op::RemoveProxyNeighbour>(host.converge()) == 0);
    CHECK(host.observed.proxies_v6.size() == 1);
}

namespace {

/// A host whose only address is the /128 2001:db8:1::2, in clat-v6-addr=shared with the
/// defaults shared mode gets (proxynd-enable=no, ctmark=0xc1a7).
Host shared_host() {
    Host host;
    host.config.clat_v6_addr = ClatV6Shared{};
    host.config.proxynd_enable = false;
    host.config.ctmark = 0xc1a7;
    host.observed.addresses_v6 = {AddressV6{2, v6("2001:db8:1::2"), 128}};
    host.clat_v6 = v6("2001:db8:1::2");
    return host;
}

RouteV6 shared_route(const char* address) {
    RouteV6 route = clat_route(address);
    route.table = 0xc1a7;
    return route;
}

RuleV6 shared_rule(const char* address, std::optional<std::uint32_t> fwmark = 0xc1a7) {
    return RuleV6{
        0,      0xc1a7, Ipv6Prefix::make(v6(address), 128), *Ipv6Prefix::parse("2001:db8:64::/96"),
        fwmark, ""};
}

op::MoveRuleV6 local_move() {
    return op::MoveRuleV6{RuleV6{0, 255, std::nullopt, std::nullopt, std::nullopt, ""}, 1};
}

op::SharedMarking marking(const char* address, const char* plat_dev = "eth0") {
    return op::SharedMarking{"nft",    "5eed",      "clat",
                             plat_dev, v6(address), *Ipv6Prefix::parse("2001:db8:64::/96"),
                             0xc1a7};
}

}  // namespace

TEST_CASE("shared mode: route in route-table, rule before the local one, marking; no proxy") {
    Host host = shared_host();
    check_plan(
        host.plan(),
        {sysctl("all/accept_ra", "2"), sysctl("default/accept_ra", "2"),
         sysctl("eth0/accept_ra", "2"), sysctl("all/forwarding", "1"), op::CreateTun{"clat"},
         op::SetLinkUp{"clat", true}, op::AddAddressV4{"clat", v4("192.0.0.1"), 32},
         op::AddRouteV6{"clat", shared_route("2001:db8:1::2")},
         op::AddRouteV4{"clat", clat_default()}, op::AddFirewallAccept{nft_rule("2001:db8:1::2")},
         local_move(), op::AddRuleV6{shared_rule("2001:db8:1::2")},
         op::AddSharedMarking{marking("2001:db8:1::2")}});
    host.converge();
    check_plan(host.plan(), {});
}

TEST_CASE("shared mode: a renumbered host moves route, rule and marking; the local rule stays") {
    Host host = shared_host();
    host.converge();
    host.observed.addresses_v6 = {AddressV6{2, v6("2001:db8:1::3"), 128}};
    host.clat_v6 = v6("2001:db8:1::3");
    check_plan(host.converge(), {op::RemoveSharedMarking{marking("2001:db8:1::2")},
                                 op::RemoveRuleV6{shared_rule("2001:db8:1::2")},
                                 op::RemoveFirewallAccept{nft_rule("2001:db8:1::2")},
                                 op::RemoveRouteV6{"clat", shared_route("2001:db8:1::2")},
                                 op::AddRouteV6{"clat", shared_route("2001:db8:1::3")},
                                 op::AddFirewallAccept{nft_rule("2001:db8:1::3")},
                                 op::AddRuleV6{shared_rule("2001:db8:1::3")},
                                 op::AddSharedMarking{marking("2001:db8:1::3")}});
    check_plan(host.plan(), {});
}

TEST_CASE("shared mode with ctmark=0: the rule has no fwmark and there is no marking") {
    Host host = shared_host();
    host.config.ctmark = 0;
    const Plan plan = host.plan();
    CHECK(count<op::AddSharedMarking>(plan) == 0);
    CHECK(std::find(plan.begin(), plan.end(),
                    Operation{op::AddRuleV6{shared_rule("2001:db8:1::2", std::nullopt)}}) !=
          plan.end());
}

TEST_CASE("leaving shared mode takes back the marking, the rule and the local rule's move") {
    Host host = shared_host();
    host.converge();
    host.config.clat_v6_addr = ClatV6Derived{};
    host.clat_v6 = v6("2001:db8:1::c1a7");
    host.config.proxynd_enable = false;
    const Plan plan = host.converge();
    CHECK(plan.front() == Operation{op::RemoveSharedMarking{marking("2001:db8:1::2")}});
    CHECK(plan[1] == Operation{op::RemoveRuleV6{shared_rule("2001:db8:1::2")}});
    CHECK(plan[2] == Operation{op::MoveRuleV6{
                         RuleV6{1, 255, std::nullopt, std::nullopt, std::nullopt, ""}, 0}});
    // The move and the move back cancel out: nothing of shared mode is left applied.
    check_plan(host.plan(), {});
}

TEST_CASE("inputs the planner refuses") {
    Host host;
    SUBCASE("a PLAT device that does not exist") {
        host.plat_dev = "wwan0";
        auto result = make_plan(host.input());
        REQUIRE_FALSE(result.ok());
        CHECK(result.error().message.find("wwan0") != std::string::npos);
    }
    SUBCASE("the PLAT device is clat-dev") {
        host.config.clat_dev = "eth0";
        CHECK_FALSE(make_plan(host.input()).ok());
    }
    SUBCASE("clat-dev exists and is not a tun") {
        host.observed.links[3] = Link{3, "clat", "veth", true, true, 1500};
        auto result = make_plan(host.input());
        REQUIRE_FALSE(result.ok());
        CHECK(result.error().message.find("veth") != std::string::npos);
    }
    SUBCASE("a tun named clat-dev that clatd did not create is refused, with its ifindex") {
        host.observed.links[3] = Link{3, "clat", "tun", true, false, 1500};
        auto result = make_plan(host.input());
        REQUIRE_FALSE(result.ok());
        CHECK(result.error().message ==
              "clat-dev clat (ifindex 3) exists and clatd did not create it: not taking over "
              "another's device; delete it or set clat-dev to another name");
    }
    SUBCASE("the tun clatd created (journalled) is kept and not made again") {
        host.applied.push_back(op::CreateTun{"clat"});
        host.observed.links[3] = Link{3, "clat", "tun", true, false, 1500};
        auto plan = host.plan();
        CHECK(count<op::CreateTun>(plan) == 0);
        CHECK(count<op::SetLinkUp>(plan) == 0);
    }
}

}  // namespace clat::test
