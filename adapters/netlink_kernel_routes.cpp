// Routes and IPv6 policy rules over rtnetlink.
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "adapters/netlink_kernel_ops.hpp"

namespace clat::kernel_ops {
namespace {

using rtnl::Reply;

/// The kernel stores an IPv6 route added with metric 0 as IP6_RT_PRIO_USER, and treats
/// metric 0 in a delete as "any": naming the stored value keeps removal exact.
constexpr std::uint32_t kIpv6DefaultMetric = 1024;

/// One route in the kernel's terms, whatever the family.
struct RouteSpec {
    int family = AF_INET;
    int size = 4;  ///< address length in bytes
    const std::uint8_t* destination = nullptr;
    int destination_length = 0;
    const std::uint8_t* gateway = nullptr;
    int oif = 0;
    std::uint32_t metric = 0;
    std::uint32_t table = 0;
    std::uint8_t protocol = 0;
    std::uint8_t scope = RT_SCOPE_UNIVERSE;
    std::uint8_t type = RTN_UNICAST;
    std::uint32_t mtu = 0;
    std::uint32_t advmss = 0;
};

RouteSpec spec_of(const RouteV4& r, int oif) {
    return RouteSpec{AF_INET,
                     4,
                     r.destination.address.bytes.data(),
                     r.destination.length,
                     r.gateway ? r.gateway->bytes.data() : nullptr,
                     oif,
                     r.metric,
                     r.table,
                     r.protocol,
                     r.scope,
                     r.type,
                     r.mtu,
                     r.advmss};
}

RouteSpec spec_of(const RouteV6& r, int oif) {
    return RouteSpec{AF_INET6,
                     16,
                     r.destination.address.bytes.data(),
                     r.destination.length,
                     r.gateway ? r.gateway->bytes.data() : nullptr,
                     oif,
                     r.metric == 0 ? kIpv6DefaultMetric : r.metric,
                     r.table,
                     r.protocol,
                     RT_SCOPE_UNIVERSE,
                     r.type,
                     r.mtu,
                     0};
}

rtnl::Message route_message(int type, int flags, const RouteSpec& r) {
    const bool remove = type == RTM_DELROUTE;
    rtmsg rtm{};
    rtm.rtm_family = static_cast<std::uint8_t>(r.family);
    rtm.rtm_dst_len = static_cast<std::uint8_t>(r.destination_length);
    // Tables above 255 exist only as RTA_TABLE; rtm_table then says RT_TABLE_UNSPEC.
    rtm.rtm_table =
        r.table < 256 ? static_cast<std::uint8_t>(r.table) : std::uint8_t{RT_TABLE_UNSPEC};
    rtm.rtm_protocol = r.protocol;
    // RT_SCOPE_NOWHERE in a delete means "any scope" (fib_table_delete).
    rtm.rtm_scope = remove ? std::uint8_t{RT_SCOPE_NOWHERE} : r.scope;
    rtm.rtm_type = r.type;
    auto msg = rtnl::make_message(type, flags, &rtm, sizeof rtm);
    if (!msg)
        return msg;
    nl_msg* m = msg.get();
    nla_put_u32(m, RTA_TABLE, r.table);
    if (r.destination_length > 0)
        nla_put(m, RTA_DST, r.size, r.destination);
    if (r.oif != 0)
        nla_put_u32(m, RTA_OIF, static_cast<std::uint32_t>(r.oif));
    if (r.gateway != nullptr)
        nla_put(m, RTA_GATEWAY, r.size, r.gateway);
    nla_put_u32(m, RTA_PRIORITY, r.metric);
    if (!remove && (r.mtu != 0 || r.advmss != 0)) {
        nlattr* metrics = nla_nest_start(m, RTA_METRICS);
        if (r.mtu != 0)
            nla_put_u32(m, RTAX_MTU, r.mtu);
        if (r.advmss != 0)
            nla_put_u32(m, RTAX_ADVMSS, r.advmss);
        nla_nest_end(m, metrics);
    }
    return msg;
}

bool same_address(const nlattr* attr, const RouteSpec& want, const std::uint8_t* bytes) {
    if (bytes == nullptr)
        return attr == nullptr;
    return attr != nullptr && nla_len(attr) == want.size &&
           std::memcmp(nla_data(attr), bytes, static_cast<std::size_t>(want.size)) == 0;
}

/// Whether a dumped route is exactly want: destination, table, metric, protocol, type,
/// gateway, and the output device when want names one.
bool matches(const nlmsghdr& hdr, const RouteSpec& want) {
    if (hdr.nlmsg_type != RTM_NEWROUTE)
        return false;
    auto* h = const_cast<nlmsghdr*>(&hdr);
    const auto* rtm = static_cast<const rtmsg*>(nlmsg_data(h));
    if (rtm->rtm_family != want.family || rtm->rtm_dst_len != want.destination_length ||
        rtm->rtm_protocol != want.protocol || rtm->rtm_type != want.type)
        return false;
    nlattr* tb[RTA_MAX + 1] = {};
    if (nlmsg_parse(h, sizeof(rtmsg), tb, RTA_MAX, nullptr) < 0)
        return false;
    const std::uint32_t table =
        tb[RTA_TABLE] != nullptr ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
    const std::uint32_t metric = tb[RTA_PRIORITY] != nullptr ? nla_get_u32(tb[RTA_PRIORITY]) : 0;
    if (table != want.table || metric != want.metric)
        return false;
    if (want.oif != 0 && (tb[RTA_OIF] == nullptr ||
                          nla_get_u32(tb[RTA_OIF]) != static_cast<std::uint32_t>(want.oif)))
        return false;
    return (want.destination_length == 0 || same_address(tb[RTA_DST], want, want.destination)) &&
           same_address(tb[RTA_GATEWAY], want, want.gateway);
}

/// Dumps the family's routes (all tables) looking for want.
Result<bool> route_exists(rtnl::Socket& socket, const RouteSpec& want) {
    rtmsg rtm{};
    rtm.rtm_family = static_cast<std::uint8_t>(want.family);
    auto msg = rtnl::make_message(RTM_GETROUTE, NLM_F_DUMP, &rtm, sizeof rtm);
    bool found = false;
    const Reply reply = socket.transact(
        msg.get(), [&](const nlmsghdr& hdr) { found = found || matches(hdr, want); });
    if (reply.error != 0)
        return make_error("cannot list routes: " + rtnl::describe(reply));
    return found;
}

template <typename Op>
Result<ApplyOutcome> add_route(rtnl::Socket& socket, const Op& o) {
    int oif = 0;
    if (!o.dev.empty() && (oif = ifindex_of(o.dev)) == 0)
        return make_error("no such device " + o.dev);
    auto msg = route_message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, spec_of(o.route, oif));
    return rtnl::outcome(socket.transact(msg.get()), {EEXIST});
}

/// The kernel's delete treats unset fields (metric 0, protocol 0, no device) as wildcards and
/// removes the first route that fits, which may be a foreign one. Only a route that matches
/// exactly is removed.
template <typename Op>
Result<ApplyOutcome> remove_route(rtnl::Socket& socket, const Op& o) {
    int oif = 0;
    if (!o.dev.empty() && (oif = ifindex_of(o.dev)) == 0)
        return ApplyOutcome::kAlreadyInPlace;  // the route went with its link
    const RouteSpec spec = spec_of(o.route, oif);
    auto exists = route_exists(socket, spec);
    if (!exists)
        return exists.error();
    if (!*exists)
        return ApplyOutcome::kAlreadyInPlace;
    auto msg = route_message(RTM_DELROUTE, 0, spec);
    return rtnl::outcome(socket.transact(msg.get()), {ESRCH, ENOENT});
}

rtnl::Message rule_message(int type, int flags, const RuleV6& rule) {
    fib_rule_hdr frh{};
    frh.family = AF_INET6;
    frh.dst_len = static_cast<std::uint8_t>(rule.destination ? rule.destination->length : 0);
    frh.src_len = static_cast<std::uint8_t>(rule.source ? rule.source->length : 0);
    frh.table =
        rule.table < 256 ? static_cast<std::uint8_t>(rule.table) : std::uint8_t{RT_TABLE_UNSPEC};
    frh.action = FR_ACT_TO_TBL;
    auto msg = rtnl::make_message(type, flags, &frh, sizeof frh);
    if (!msg)
        return msg;
    nl_msg* m = msg.get();
    nla_put_u32(m, FRA_PRIORITY, rule.priority);
    nla_put_u32(m, FRA_TABLE, rule.table);
    if (rule.destination)
        nla_put(m, FRA_DST, 16, rule.destination->address.bytes.data());
    if (rule.source)
        nla_put(m, FRA_SRC, 16, rule.source->address.bytes.data());
    if (rule.fwmark) {
        // An explicit full mask, so that "fwmark 0" means mark 0 rather than "any".
        nla_put_u32(m, FRA_FWMARK, *rule.fwmark);
        nla_put_u32(m, FRA_FWMASK, 0xffffffffU);
    }
    if (!rule.iif.empty())
        nla_put_string(m, FRA_IIFNAME, rule.iif.c_str());
    return msg;
}

bool same_prefix(const nlattr* attr, int dumped_length, const std::optional<Ipv6Prefix>& want) {
    if (!want)
        return dumped_length == 0;
    return dumped_length == want->length &&
           (want->length == 0 ||
            (attr != nullptr && nla_len(attr) == 16 &&
             std::memcmp(nla_data(attr), want->address.bytes.data(), 16) == 0));
}

/// Whether a dumped rule is exactly want: every selector of want and no other.
bool matches(const nlmsghdr& hdr, const RuleV6& want) {
    if (hdr.nlmsg_type != RTM_NEWRULE)
        return false;
    auto* h = const_cast<nlmsghdr*>(&hdr);
    const auto* frh = static_cast<const fib_rule_hdr*>(nlmsg_data(h));
    nlattr* tb[FRA_MAX + 1] = {};
    if (frh->family != AF_INET6 || frh->action != FR_ACT_TO_TBL ||
        nlmsg_parse(h, sizeof(fib_rule_hdr), tb, FRA_MAX, nullptr) < 0)
        return false;
    const auto u32 = [&](int type, std::uint32_t otherwise) {
        return tb[type] != nullptr ? nla_get_u32(tb[type]) : otherwise;
    };
    const std::string iif = tb[FRA_IIFNAME] != nullptr ? nla_get_string(tb[FRA_IIFNAME]) : "";
    const bool has_mark = tb[FRA_FWMARK] != nullptr && u32(FRA_FWMASK, 0xffffffffU) != 0;
    return u32(FRA_PRIORITY, 0) == want.priority && u32(FRA_TABLE, frh->table) == want.table &&
           same_prefix(tb[FRA_DST], frh->dst_len, want.destination) &&
           same_prefix(tb[FRA_SRC], frh->src_len, want.source) && iif == want.iif &&
           has_mark == want.fwmark.has_value() && (!has_mark || u32(FRA_FWMARK, 0) == *want.fwmark);
}

/// Dumps the IPv6 rules looking for want.
Result<bool> rule_exists(rtnl::Socket& socket, const RuleV6& want) {
    fib_rule_hdr frh{};
    frh.family = AF_INET6;
    auto msg = rtnl::make_message(RTM_GETRULE, NLM_F_DUMP, &frh, sizeof frh);
    bool found = false;
    const Reply reply = socket.transact(
        msg.get(), [&](const nlmsghdr& hdr) { found = found || matches(hdr, want); });
    if (reply.error != 0)
        return make_error("cannot list rules: " + rtnl::describe(reply));
    return found;
}

/// The kernel's own message for the rule exactly like want (empty if there is none), and
/// whether one exactly like also_look_for exists.
struct RuleDump {
    std::vector<std::uint8_t> found;
    bool other = false;
};

Result<RuleDump> dump_rules(rtnl::Socket& socket, const RuleV6& want, const RuleV6& also) {
    fib_rule_hdr frh{};
    frh.family = AF_INET6;
    auto msg = rtnl::make_message(RTM_GETRULE, NLM_F_DUMP, &frh, sizeof frh);
    RuleDump out;
    const Reply reply = socket.transact(msg.get(), [&](const nlmsghdr& hdr) {
        if (out.found.empty() && matches(hdr, want)) {
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(&hdr);
            out.found.assign(bytes, bytes + hdr.nlmsg_len);
        }
        out.other = out.other || matches(hdr, also);
    });
    if (reply.error != 0)
        return make_error("cannot list rules: " + rtnl::describe(reply));
    return out;
}

/// A new rule from a dumped one: the same header and attributes (protocol, flags, table...)
/// but FRA_PRIORITY set to priority.
rtnl::Message moved_rule_message(const std::vector<std::uint8_t>& dumped, std::uint32_t priority) {
    auto* hdr = reinterpret_cast<nlmsghdr*>(const_cast<std::uint8_t*>(dumped.data()));
    const auto* frh = static_cast<const fib_rule_hdr*>(nlmsg_data(hdr));
    auto msg = rtnl::make_message(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, frh, sizeof *frh);
    if (!msg)
        return msg;
    nlattr* attr = nullptr;
    int remaining = 0;
    nlmsg_for_each_attr(attr, hdr, sizeof(fib_rule_hdr), remaining) {
        if (nla_type(attr) != FRA_PRIORITY)
            nla_put(msg.get(), nla_type(attr), nla_len(attr), nla_data(attr));
    }
    nla_put_u32(msg.get(), FRA_PRIORITY, priority);
    return msg;
}

}  // namespace

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::AddRouteV4& o) {
    return add_route(socket, o);
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveRouteV4& o) {
    return remove_route(socket, o);
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::AddRouteV6& o) {
    return add_route(socket, o);
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveRouteV6& o) {
    return remove_route(socket, o);
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::AddRuleV6& o) {
    // NLM_F_EXCL makes the kernel report an identical rule as EEXIST instead of adding a twin.
    auto msg = rule_message(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, o.rule);
    return rtnl::outcome(socket.transact(msg.get()), {EEXIST});
}

/// As with routes, the kernel's delete takes selectors left out as wildcards: once our rule
/// is gone it would remove a foreign rule at the same priority, so check first.
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveRuleV6& o) {
    auto exists = rule_exists(socket, o.rule);
    if (!exists)
        return exists.error();
    if (!*exists)
        return ApplyOutcome::kAlreadyInPlace;
    auto msg = rule_message(RTM_DELRULE, 0, o.rule);
    return rtnl::outcome(socket.transact(msg.get()), {ENOENT});
}

/// Adds the moved copy first and deletes the original after, so that there is no moment
/// without the rule (for the local table: no moment without local delivery).
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::MoveRuleV6& o) {
    RuleV6 target = o.rule;
    target.priority = o.to_priority;
    auto dump = dump_rules(socket, o.rule, target);
    if (!dump)
        return dump.error();
    if (dump->found.empty())
        return ApplyOutcome::kAlreadyInPlace;
    if (dump->other)
        return make_error("a rule like it is at priority " + std::to_string(o.to_priority) +
                          " already: not moving it there");
    auto add = moved_rule_message(dump->found, o.to_priority);
    if (const Reply r = socket.transact(add.get()); r.error != 0)
        return make_error("cannot add the moved rule: " + rtnl::describe(r));
    auto del = rule_message(RTM_DELRULE, 0, o.rule);
    if (const Reply r = socket.transact(del.get()); r.error != 0 && r.error != ENOENT) {
        // Nothing journalled for a failed operation: take the copy back out.
        auto undo = rule_message(RTM_DELRULE, 0, target);
        (void)socket.transact(undo.get());
        return make_error("cannot delete the rule at its old priority: " + rtnl::describe(r));
    }
    return ApplyOutcome::kApplied;
}

}  // namespace clat::kernel_ops
