#include "states/desired_state.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace clat {
namespace {

constexpr std::string_view kConfPrefix = "net/ipv6/conf/";
constexpr std::string_view kNeighPrefix = "net/ipv6/neigh/";
constexpr std::string_view kAcceptRaSuffix = "/accept_ra";
constexpr const char* kForwarding = "net/ipv6/conf/all/forwarding";

std::string trimmed(std::string_view value) {
    return normalise_sysctl_value(value);
}

bool is_accept_ra(std::string_view path) {
    return path.size() > kConfPrefix.size() + kAcceptRaSuffix.size() &&
           path.substr(0, kConfPrefix.size()) == kConfPrefix &&
           path.substr(path.size() - kAcceptRaSuffix.size()) == kAcceptRaSuffix;
}

Status check_devices(const PlanInput& in) {
    const std::string& clat_dev = in.config.clat_dev;
    if (in.plat_dev.empty())
        return make_error("no PLAT device chosen");
    if (in.plat_dev == clat_dev)
        return make_error("PLAT device " + in.plat_dev + " is the CLAT device clat-dev");
    if (in.observed.link_by_name(in.plat_dev) == nullptr)
        return make_error("PLAT device " + in.plat_dev + " does not exist");
    // An adopted device must be a tun: TAYGA attaches to it by name. Anything else with that
    // name belongs to someone else.
    const Link* link = in.observed.link_by_name(clat_dev);
    if (link != nullptr && !link->kind.empty() && link->kind != "tun")
        return make_error("clat-dev " + clat_dev + " exists and is a " + link->kind +
                          " device, not a tun device");
    // A tun of that name is used only if this instance's journal says it made it: a user's
    // own tun (a VPN's, a test's) would otherwise lose its addresses, get the host's default
    // route and receive the host's packets. After a crash the journal replay deletes the old
    // instance's device before the first plan, so a device seen here with no CreateTun is not
    // clatd's.
    const bool created =
        std::any_of(in.applied.begin(), in.applied.end(), [&](const Operation& op) {
            const auto* tun = std::get_if<op::CreateTun>(&op);
            return tun != nullptr && tun->dev == clat_dev;
        });
    if (link != nullptr && !created)
        return make_error("clat-dev " + clat_dev + " (ifindex " + std::to_string(link->index) +
                          ") exists and clatd did not create it: not taking over another's "
                          "device; delete it or set clat-dev to another name");
    return Ok{};
}

RouteV6 clat_route(const PlanInput& in) {
    RouteV6 route;
    route.destination = Ipv6Prefix::make(in.clat_v6, 128);
    route.metric = kClatRouteMetricV6;
    route.table = kMainTable;
    route.protocol = kRouteProtocol;
    return route;
}

std::optional<RouteV4> default_route(const Config& config, std::optional<std::uint32_t> path_mtu) {
    if (!config.v4_defaultroute_enable)
        return std::nullopt;
    RouteV4 route;
    route.destination = Ipv4Prefix{};
    route.metric = config.v4_defaultroute_metric;
    route.table = kMainTable;
    route.protocol = kRouteProtocol;
    route.scope = 0;  // universe, like any default route
    route.mtu = config.effective_mtu(path_mtu);
    route.advmss = config.effective_advmss(path_mtu).value_or(0);
    return route;
}

std::vector<op::SetSysctl> sysctls(const PlanInput& in) {
    std::vector<op::SetSysctl> out;
    if (in.config.forwarding_enable) {
        // accept_ra=2 first: switching forwarding on purges the RA-learned default routes of
        // every device whose accept_ra is not 2, and later RAs would be ignored there.
        if (!sysctl_holds(in.sysctls, kForwarding, "1")) {
            for (const auto& [path, value] : in.sysctls) {
                if (is_accept_ra(path) && trimmed(value) == "1")
                    out.push_back(op::SetSysctl{path, "2", std::nullopt});
            }
        }
        out.push_back(op::SetSysctl{kForwarding, "1", std::nullopt});
    }
    if (in.config.proxynd_enable) {
        out.push_back(op::SetSysctl{std::string(kConfPrefix) + in.plat_dev + "/proxy_ndp", "1",
                                    std::nullopt});
        // The kernel delays its proxy answers to multicast solicitations by a random time up
        // to proxy_delay (0.8 s by default; RFC 4861 §7.2.8 allows it so that the owner of an
        // address answers first). The CLAT address has no other owner, and the delay would
        // hold the first packet after a start or a renumbering.
        out.push_back(op::SetSysctl{std::string(kNeighPrefix) + in.plat_dev + "/proxy_delay", "0",
                                    std::nullopt});
    }
    return out;
}

std::vector<op::FirewallRule> firewall_rules(const PlanInput& in) {
    std::vector<op::FirewallRule> rules;
    for (const op::FirewallTarget& target : in.firewall) {
        op::FirewallRule rule;
        rule.backend = target.backend;
        rule.tool = target.tool;
        rule.clat_dev = in.config.clat_dev;
        rule.plat_dev = in.plat_dev;
        rule.clat_v6 = in.clat_v6;
        rule.plat_prefix = in.plat_prefix;
        rule.mark = in.firewall_mark;
        rules.push_back(std::move(rule));
    }
    return rules;
}

void add_shared(const PlanInput& in, DesiredState& desired) {
    const Config& c = in.config;
    desired.clat_route.table = c.route_table;
    RuleV6 rule;
    rule.priority = kSharedRulePriority;
    rule.table = c.route_table;
    rule.source = in.plat_prefix;
    rule.destination = Ipv6Prefix::make(in.clat_v6, 128);
    if (c.ctmark != 0)
        rule.fwmark = c.ctmark;
    desired.shared_rule = rule;
    RuleV6 local;
    local.priority = kSharedRulePriority;
    local.table = kLocalTable;
    desired.local_rule_move = op::MoveRuleV6{local, kLocalRulePriority};
    if (c.ctmark != 0) {
        desired.marking = op::SharedMarking{c.cmd_nft,  in.firewall_mark, c.clat_dev, in.plat_dev,
                                            in.clat_v6, in.plat_prefix,   c.ctmark};
    }
}

}  // namespace

bool sysctl_holds(const std::map<std::string, std::string>& sysctls, const std::string& path,
                  std::string_view value) {
    auto it = sysctls.find(path);
    return it != sysctls.end() && trimmed(it->second) == value;
}

Result<DesiredState> desired_state(const PlanInput& in) {
    if (auto devices = check_devices(in); !devices)
        return devices.error();

    DesiredState desired;
    desired.clat_dev = in.config.clat_dev;
    desired.clat_v4 = in.config.clat_v4_addr;
    desired.clat_route = clat_route(in);
    desired.default_route = default_route(in.config, in.path_mtu);
    desired.remove_foreign_default_routes = in.config.v4_defaultroute_replace;
    desired.sysctls = sysctls(in);
    if (in.config.proxynd_enable)
        desired.proxy = op::AddProxyNeighbour{in.plat_dev, in.clat_v6};
    desired.firewall = firewall_rules(in);
    if (std::holds_alternative<ClatV6Shared>(in.config.clat_v6_addr))
        add_shared(in, desired);
    return desired;
}

}  // namespace clat
