#pragma once
/// The desired kernel state of one CLAT instance: a pure function of the configuration, the
/// observed kernel state and the discovered facts (SPEC §6, §7). The planner (planner.hpp)
/// diffs it against what is observed.
///
/// What the CLAT needs, following the Perl clatd:
/// - the tun device clat-dev, administratively up. Its MTU is left as created (1500): the
///   IPv4 packet size is bounded by the default route's mtu/advmss instead, as in Perl
///   clatd, and TAYGA refuses a device MTU below 1280, which no SetLinkMtu could fix better;
/// - clat-v4-addr/32 on clat-dev (tayga-v4-addr is TAYGA's own address, inside the
///   translator; it is never on the device);
/// - an IPv6 route clat-v6/128 via clat-dev, so that packets to the CLAT address enter TAYGA.
///   No route for the PLAT prefix: TAYGA's output towards it follows the host's own routing
///   via the PLAT device;
/// - with v4-defaultroute-enable, an IPv4 default route via clat-dev with the configured
///   metric, mtu (0: none) and advmss;
/// - with v4-defaultroute-replace, no foreign IPv4 default route in the main table;
/// - with forwarding-enable, net/ipv6/conf/all/forwarding=1, preceded by accept_ra=2 wherever
///   accept_ra is 1 (enabling forwarding purges RA-learned default routes where accept_ra is
///   not 2). As in Perl clatd, accept_ra is touched only when forwarding has to be switched on;
///   when forwarding is already on, the accept_ra values are the administrator's choice;
/// - with proxynd-enable, proxy_ndp=1 and proxy_delay=0 (net/ipv6/neigh/) on the PLAT device
///   and a proxy entry for clat-v6 there;
/// - with a firewall backend chosen by the agent, the narrowly scoped accept rules.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "states/facts.hpp"
#include "states/ip.hpp"
#include "states/operation.hpp"
#include "states/result.hpp"

namespace clat {

/// Metric of the clat-v6/128 route: the kernel's default for IPv6 routes (IP6_RT_PRIO_USER).
/// Set explicitly, because the kernel reports 1024 for a route added without one and the
/// planner compares observed routes with desired ones field by field.
inline constexpr std::uint32_t kClatRouteMetricV6 = 1024;

/// Everything the planner looks at. References point into the caller's state and must
/// outlive the call.
///
/// Ownership of proxy entries and firewall rules cannot be observed (Observed holds proxy
/// entries but not who made them, and no firewall rules), so `applied` carries the operations
/// the executor has applied and not undone: its undo journal's pending entries, as the
/// forward operations, oldest first. The planner removes what it finds there and no longer
/// wants. It adds the proxy entry when it is not observed, and a firewall rule when it is not
/// there already (or is in firewall_lost).
/// Both journal styles work: an entry cancelled by its removal, or a later removal entry
/// (an add followed by its inverse counts as not applied).
/// The IPv6 minimum link MTU (RFC 8200 §5).
inline constexpr std::uint32_t kIpv6MinimumMtu = 1280;
/// How much larger a translated packet is: an IPv6 header (40) for an IPv4 header (20).
inline constexpr std::uint32_t kIpv4HeaderGrowth = 20;

struct PlanInput {
    const Config& config;
    const Observed& observed;
    Ipv6Prefix plat_prefix;
    Ipv6Address clat_v6;
    std::string plat_dev;  ///< the PLAT-facing device, chosen by the agent
    /// Current sysctl values, path relative to /proc/sys. The agent reads
    /// net/ipv6/conf/all/forwarding, net/ipv6/conf/<plat_dev>/proxy_ndp,
    /// net/ipv6/neigh/<plat_dev>/proxy_delay and net/ipv6/conf/{all,default,<each link>}/accept_ra.
    /// A missing value counts as "not as desired", so the write is planned.
    std::map<std::string, std::string> sysctls;
    /// Where the accept rules go, one rule each; empty: no firewall rules. The agent decides
    /// (an explicit ip6tables-enable, else where the firewall adapter finds a forward drop).
    std::vector<op::FirewallTarget> firewall;
    const Plan& applied;
    /// This instance's mark for its firewall rules (op::FirewallRule::mark).
    std::string firewall_mark;
    /// The largest IPv4 packet the data path carries whole (the uplink's IPv6 MTU - 20 with
    /// the eBPF path); nullopt: TAYGA's 1260. An explicit v4-defaultroute-mtu wins.
    std::optional<std::uint32_t> path_mtu;
    /// Rules of `applied` that the agent's last look at the firewall found removed in whole
    /// or in part behind its back (a flush, a firewall reload): planned again like a rule
    /// that was never added.
    std::vector<op::FirewallRule> firewall_lost = {};
};

/// The desired kernel objects. Routes carry oif 0: devices are named (clat_dev).
struct DesiredState {
    std::string clat_dev;
    Ipv4Address clat_v4;  ///< as a /32 on clat_dev
    RouteV6 clat_route;
    std::optional<RouteV4> default_route;
    bool remove_foreign_default_routes = false;
    /// Sysctl values in write order (accept_ra before forwarding), if_current unset.
    std::vector<op::SetSysctl> sysctls;
    std::optional<op::AddProxyNeighbour> proxy;
    std::vector<op::FirewallRule> firewall;  ///< one per PlanInput::firewall target
    /// clat-v6-addr=shared: the policy rule that sends replies of CLAT flows to clat_route
    /// (in route-table), the local-table rule moved behind it, and the nftables marking.
    std::optional<RuleV6> shared_rule;
    std::optional<op::MoveRuleV6> local_rule_move;
    std::optional<op::SharedMarking> marking;
    bool operator==(const DesiredState&) const = default;
};

/// True if sysctls holds value at path (a trailing newline, as read from /proc/sys, ignored).
bool sysctl_holds(const std::map<std::string, std::string>& sysctls, const std::string& path,
                  std::string_view value);

/// Priority of the shared mode's policy rule, and where the local-table rule moves to so that
/// the rule comes before it (as the Perl clatd): the CLAT address is a local address, and the
/// local table would otherwise deliver the replies to the host.
inline constexpr std::uint32_t kSharedRulePriority = 0;
inline constexpr std::uint32_t kLocalRulePriority = 1;
/// The local routing table (RT_TABLE_LOCAL).
inline constexpr std::uint32_t kLocalTable = 255;

/// Derives the desired state. With clat-v6-addr=shared (clat_v6 is then the host's own
/// address): the clat-v6/128 route goes into route-table, the rule `from plat-prefix to
/// clat-v6 fwmark ctmark lookup route-table` at priority 0 with the local rule moved to 1, and
/// with a ctmark the nftables marking (ctmark 0: no fwmark and no marking, so that every
/// packet from the PLAT to the address goes to the CLAT). Errors: a PLAT device that is not
/// observed or equals clat-dev, a clat-dev that exists and is not a tun or is a tun this instance
/// did not create (no CreateTun in `applied`).
Result<DesiredState> desired_state(const PlanInput& in);

}  // namespace clat
