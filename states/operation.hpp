#pragma once
/// Operations: value-type imperatives that change the host. The planner yields an ordered
/// list of them; the executor applies each through netlink, /proc/sys or the firewall tool
/// and journals its inverse first. Devices are named, not indexed, so that a plan can refer
/// to a device it creates itself and an undo entry survives the device being re-created.
///
/// Every operation has a stable one-line text form, `verb key=value ...`, used in logs, in
/// golden-plan tests and as the undo journal's on-disk format: parse(to_string(op)) == op.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "states/facts.hpp"
#include "states/ip.hpp"
#include "states/result.hpp"

namespace clat::op {

struct CreateTun {
    std::string dev;
    bool operator==(const CreateTun&) const = default;
};
/// Deletes a link the agent created (the inverse of CreateTun).
struct DeleteLink {
    std::string dev;
    bool operator==(const DeleteLink&) const = default;
};
struct SetLinkUp {
    std::string dev;
    bool up = true;
    bool operator==(const SetLinkUp&) const = default;
};
struct SetLinkMtu {
    std::string dev;
    std::uint32_t mtu = 0;
    bool operator==(const SetLinkMtu&) const = default;
};
struct AddAddressV4 {
    std::string dev;
    Ipv4Address address;
    int prefix_length = 32;
    bool operator==(const AddAddressV4&) const = default;
};
struct RemoveAddressV4 {
    std::string dev;
    Ipv4Address address;
    int prefix_length = 32;
    bool operator==(const RemoveAddressV4&) const = default;
};
/// With dad, the kernel runs Duplicate Address Detection and the outcome is observed over
/// netlink (tentative, then usable or dadfailed); without, the address is added IFA_F_NODAD.
struct AddAddressV6 {
    std::string dev;
    Ipv6Address address;
    int prefix_length = 128;
    bool dad = false;
    bool operator==(const AddAddressV6&) const = default;
};
struct RemoveAddressV6 {
    std::string dev;
    Ipv6Address address;
    int prefix_length = 128;
    bool operator==(const RemoveAddressV6&) const = default;
};
/// route.oif is ignored: dev names the output device ("" for a route without one).
struct AddRouteV4 {
    std::string dev;
    RouteV4 route;
    bool operator==(const AddRouteV4&) const = default;
};
struct RemoveRouteV4 {
    std::string dev;
    RouteV4 route;
    bool operator==(const RemoveRouteV4&) const = default;
};
/// v4-defaultroute-replace: removes a foreign IPv4 route, named as the planner observed it
/// (dev and route as the netlink parser reads a dump; with several nexthops, the first). The
/// executor first has the kernel port save the kernel's whole RTM_NEWROUTE for it
/// (KernelPort::save_route) and journals RestoreRoute with those bytes; saved then carries them,
/// so that the delete names exactly that route (every nexthop, a nexthop object, tos, prefsrc,
/// metrics) and no other. Empty saved: the adapter looks the route up itself.
struct RemoveForeignRouteV4 {
    std::string dev;
    RouteV4 route;
    std::vector<std::uint8_t> saved;
    bool operator==(const RemoveForeignRouteV4&) const = default;
};
/// Re-adds a route from message, the rtmsg and attributes the kernel dumped for it, exactly
/// as it was (onlink, src, initcwnd, multipath, nhid...): the undo of RemoveForeignRouteV4.
struct RestoreRoute {
    std::vector<std::uint8_t> message;
    bool operator==(const RestoreRoute&) const = default;
};
struct AddRouteV6 {
    std::string dev;
    RouteV6 route;
    bool operator==(const AddRouteV6&) const = default;
};
struct RemoveRouteV6 {
    std::string dev;
    RouteV6 route;
    bool operator==(const RemoveRouteV6&) const = default;
};
struct AddRuleV6 {
    RuleV6 rule;
    bool operator==(const AddRuleV6&) const = default;
};
struct RemoveRuleV6 {
    RuleV6 rule;
    bool operator==(const RemoveRuleV6&) const = default;
};
struct AddProxyNeighbour {
    std::string dev;
    Ipv6Address address;
    bool operator==(const AddProxyNeighbour&) const = default;
};
struct RemoveProxyNeighbour {
    std::string dev;
    Ipv6Address address;
    /// The device's index when the entry was added (journalled undos): the entry is removed
    /// from that device under whatever name it has now. Unset: by dev (planned removals,
    /// older journals).
    std::optional<std::uint32_t> ifindex;
    bool operator==(const RemoveProxyNeighbour&) const = default;
};
/// Writes a sysctl. path is relative to /proc/sys with slashes ("net/ipv6/conf/all/forwarding").
/// if_current: write only when the sysctl still holds this value (how undo restores a value
/// only if nobody changed it since the agent wrote it).
/// ifindex: for a per-device path (net/ipv6/conf/<dev>/..., net/ipv6/neigh/<dev>/...), the
/// device's index when the value was saved: undo writes the path of whatever name that device
/// has now (it may have been renamed), and nothing once it is gone.
struct SetSysctl {
    std::string path;
    std::string value;
    std::optional<std::string> if_current;
    std::optional<std::uint32_t> ifindex = std::nullopt;
    bool operator==(const SetSysctl&) const = default;
};

/// Where accept rules go: the nftables ruleset (native tables, and the ip6 filter table of
/// iptables-nft), ip6tables' FORWARD chain (tool: cmd-ip6tables, whichever variant it is), or
/// the legacy xtables filter table's FORWARD chain (tool: ip6tables-legacy), which the
/// nftables ruleset does not show and which drops on the same hook.
enum class FirewallBackend { kNftables, kIp6tables, kIp6tablesLegacy };

/// "nftables", "ip6tables", "ip6tables-legacy": the journal's and the status's name.
std::string_view to_string(FirewallBackend backend);

/// One place accept rules go: a backend and the command that edits it.
struct FirewallTarget {
    FirewallBackend backend = FirewallBackend::kNftables;
    std::string tool;
    bool operator==(const FirewallTarget&) const = default;
};

/// Narrowly scoped accept rules for CLAT traffic forwarded between clat_dev and plat_dev:
/// from clat_v6 to plat_prefix and back. tool is the command (cmd-nft or cmd-ip6tables).
struct FirewallRule {
    FirewallBackend backend = FirewallBackend::kNftables;
    std::string tool;
    std::string clat_dev;
    std::string plat_dev;
    Ipv6Address clat_v6;
    Ipv6Prefix plat_prefix;
    /// The instance's own mark: the rules carry the comment "clatd-<mark>", so that removal
    /// takes exactly the rules this journal added, never a user's rule that looks the same
    /// (or says "clatd"). Empty only in journals of older builds (comment "clatd").
    std::string mark;
    bool operator==(const FirewallRule&) const = default;
};
struct AddFirewallAccept {
    FirewallRule rule;
    bool operator==(const AddFirewallAccept&) const = default;
};
struct RemoveFirewallAccept {
    FirewallRule rule;
    bool operator==(const RemoveFirewallAccept&) const = default;
};

/// Removes the tc filter the eBPF data path attached (hook "ingress" or "egress" of dev, at
/// priority/handle), but only if it still runs clatd's program: the undo of an attach.
struct RemoveTcFilter {
    std::string dev;
    std::string hook;
    std::uint32_t priority = 0;
    std::uint32_t handle = 0;
    /// The id of the program clatd attached there: the filter is removed only while it still
    /// runs that program (ids are not reused while a filter holds the program). Unset in older
    /// journals: then by the program's name, which needs CAP_SYS_ADMIN to read.
    std::optional<std::uint32_t> program_id;
    bool operator==(const RemoveTcFilter&) const = default;
};
/// Deletes the clsact qdisc of dev: the undo of creating it (never journalled for a clsact
/// that was there before).
struct RemoveClsact {
    std::string dev;
    bool operator==(const RemoveClsact&) const = default;
};

/// Moves an IPv6 rule to another priority, keeping everything else the kernel holds for it
/// (protocol, flags): clat-v6-addr=shared moves the local-table rule from priority 0 to 1 so
/// that its own rule can come first, as the Perl clatd does. Its own inverse, back. A rule
/// that is not there is kAlreadyInPlace (nothing moved, nothing journalled); a rule already at
/// to_priority is refused (moving onto it would make undo take someone else's rule).
struct MoveRuleV6 {
    RuleV6 rule;
    std::uint32_t to_priority = 0;
    bool operator==(const MoveRuleV6&) const = default;
};

/// clat-v6-addr=shared: the nftables table that tells CLAT flows from the host's own flows
/// (the CLAT uses the host's address). At prerouting priority mangle it sets ct mark and meta
/// mark `ctmark` on packets in from clat_dev, clat_v6 to plat_prefix, and restores the meta
/// mark from the ct mark on packets in from plat_dev, plat_prefix to clat_v6; the policy rule
/// `fwmark ctmark` then sends only those replies to the CLAT. The table is clatd's own: its
/// name carries the instance's mark (table()), and removal deletes exactly that table.
struct SharedMarking {
    std::string tool;  ///< cmd-nft
    std::string mark;  ///< the instance's mark (as op::FirewallRule::mark)
    std::string clat_dev;
    std::string plat_dev;
    Ipv6Address clat_v6;
    Ipv6Prefix plat_prefix;
    std::uint32_t ctmark = 0;
    /// "clatd_shared_<mark>".
    std::string table() const { return "clatd_shared_" + mark; }
    bool operator==(const SharedMarking&) const = default;
};
struct AddSharedMarking {
    SharedMarking marking;
    bool operator==(const AddSharedMarking&) const = default;
};
struct RemoveSharedMarking {
    SharedMarking marking;
    bool operator==(const RemoveSharedMarking&) const = default;
};

}  // namespace clat::op

namespace clat {

using Operation =
    std::variant<op::CreateTun, op::DeleteLink, op::SetLinkUp, op::SetLinkMtu, op::AddAddressV4,
                 op::RemoveAddressV4, op::AddAddressV6, op::RemoveAddressV6, op::AddRouteV4,
                 op::RemoveRouteV4, op::RemoveForeignRouteV4, op::RestoreRoute, op::AddRouteV6,
                 op::RemoveRouteV6, op::AddRuleV6, op::RemoveRuleV6, op::AddProxyNeighbour,
                 op::RemoveProxyNeighbour, op::SetSysctl, op::AddFirewallAccept,
                 op::RemoveFirewallAccept, op::RemoveTcFilter, op::RemoveClsact, op::MoveRuleV6,
                 op::AddSharedMarking, op::RemoveSharedMarking>;

using Plan = std::vector<Operation>;

/// The stable one-line text form: `verb key=value ...`.
std::string to_string(const Operation& op);

/// What applying an operation did (the kernel port's answer).
enum class ApplyOutcome {
    kApplied,         ///< the host changed
    kAlreadyInPlace,  ///< nothing to do: EEXIST on an add, ENOENT/ESRCH on a remove
};

/// The one definition of a sysctl value's identity: trimmed, inner whitespace runs collapsed
/// to one space ("1\n" and "1" are the same value; so are "4096\t87380" and "4096 87380").
std::string normalise_sysctl_value(std::string_view text);
/// The device a per-device sysctl path names ("host0" for net/ipv6/conf/host0/proxy_ndp), or
/// "" for a global one (all, default, net/ipv4/ip_forward).
std::string sysctl_path_device(std::string_view path);
/// path with its device component replaced by dev (path itself when it names none).
std::string sysctl_path_with_device(std::string_view path, std::string_view dev);
/// Parses the text form back; an error names what is wrong.
Result<Operation> parse_operation(std::string_view line);

/// The operation that undoes op, when it can be computed from op alone (adds ↔ removes,
/// CreateTun → DeleteLink). Sysctls, link state, MTU and foreign routes need what the kernel
/// holds before the change, so they return nullopt here and the executor builds their inverse
/// itself.
std::optional<Operation> static_inverse(const Operation& op);

}  // namespace clat
