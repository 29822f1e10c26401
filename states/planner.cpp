#include "states/planner.hpp"

#include <algorithm>
#include <utility>
#include <variant>
#include <vector>

namespace clat {
namespace {

/// Proxy entries and firewall rules the agent owns according to the journal: adds, minus the
/// removals that followed them.
struct AppliedUnobservable {
    std::vector<op::AddProxyNeighbour> proxies;
    std::vector<op::FirewallRule> firewall_rules;
    // clat-v6-addr=shared: rules are not observed either.
    std::vector<RuleV6> rules;
    std::vector<op::MoveRuleV6> moves;
    std::vector<op::SharedMarking> markings;
};

op::MoveRuleV6 moved_back(const op::MoveRuleV6& move) {
    return std::get<op::MoveRuleV6>(*static_inverse(move));
}

template <typename T>
void insert_unique(std::vector<T>& values, const T& value) {
    if (std::find(values.begin(), values.end(), value) == values.end())
        values.push_back(value);
}

AppliedUnobservable unobservable(const Plan& applied) {
    AppliedUnobservable out;
    for (const Operation& operation : applied) {
        if (const auto* add = std::get_if<op::AddProxyNeighbour>(&operation)) {
            insert_unique(out.proxies, *add);
        } else if (const auto* remove = std::get_if<op::RemoveProxyNeighbour>(&operation)) {
            std::erase(out.proxies, op::AddProxyNeighbour{remove->dev, remove->address});
        } else if (const auto* accept = std::get_if<op::AddFirewallAccept>(&operation)) {
            insert_unique(out.firewall_rules, accept->rule);
        } else if (const auto* unaccept = std::get_if<op::RemoveFirewallAccept>(&operation)) {
            std::erase(out.firewall_rules, unaccept->rule);
        } else if (const auto* rule = std::get_if<op::AddRuleV6>(&operation)) {
            insert_unique(out.rules, rule->rule);
        } else if (const auto* unrule = std::get_if<op::RemoveRuleV6>(&operation)) {
            std::erase(out.rules, unrule->rule);
        } else if (const auto* move = std::get_if<op::MoveRuleV6>(&operation)) {
            // A move back cancels the move.
            if (std::find(out.moves.begin(), out.moves.end(), moved_back(*move)) != out.moves.end())
                std::erase(out.moves, moved_back(*move));
            else
                insert_unique(out.moves, *move);
        } else if (const auto* mark = std::get_if<op::AddSharedMarking>(&operation)) {
            insert_unique(out.markings, mark->marking);
        } else if (const auto* unmark = std::get_if<op::RemoveSharedMarking>(&operation)) {
            std::erase(out.markings, unmark->marking);
        }
    }
    return out;
}

template <typename Route>
Route with_oif(Route route, int oif) {
    route.oif = oif;
    return route;
}

/// One diff: walks the observed state once per phase and appends to the plan in order.
class Differ {
  public:
    Differ(const PlanInput& in, const DesiredState& desired)
        : in_(in),
          desired_(desired),
          clat_(in.observed.link_by_name(desired.clat_dev)),
          applied_(unobservable(in.applied)) {}

    Plan run() && {
        remove_unobservable();
        remove_routes();
        remove_addresses();
        set_sysctls();
        add_device();
        add_routes();
        add_unobservable();
        return std::move(plan_);
    }

  private:
    bool ours(const auto& route) const {
        return clat_ != nullptr && route.oif == clat_->index && route.protocol == kRouteProtocol;
    }
    bool wanted(const RouteV6& route) const {
        return clat_ != nullptr && route == with_oif(desired_.clat_route, clat_->index);
    }
    bool wanted(const RouteV4& route) const {
        return clat_ != nullptr && desired_.default_route &&
               route == with_oif(*desired_.default_route, clat_->index);
    }
    bool wanted(const AddressV4& address) const {
        return clat_ != nullptr && address.ifindex == clat_->index &&
               address.address == desired_.clat_v4 && address.prefix_length == 32;
    }
    std::string dev_name(int ifindex) const {
        const Link* link = in_.observed.link_by_index(ifindex);
        return link == nullptr ? std::string() : link->name;
    }

    void remove_unobservable() {
        const auto& wanted_rules = desired_.firewall;
        for (const op::SharedMarking& marking : applied_.markings) {
            if (marking != desired_.marking)
                plan_.push_back(op::RemoveSharedMarking{marking});
        }
        for (const RuleV6& rule : applied_.rules) {
            if (rule != desired_.shared_rule)
                plan_.push_back(op::RemoveRuleV6{rule});
        }
        for (const op::MoveRuleV6& move : applied_.moves) {
            if (move != desired_.local_rule_move)
                plan_.push_back(moved_back(move));
        }
        for (const op::FirewallRule& rule : applied_.firewall_rules) {
            if (std::find(wanted_rules.begin(), wanted_rules.end(), rule) == wanted_rules.end())
                plan_.push_back(op::RemoveFirewallAccept{rule});
        }
        for (const op::AddProxyNeighbour& proxy : applied_.proxies) {
            if (proxy != desired_.proxy)
                plan_.push_back(op::RemoveProxyNeighbour{proxy.dev, proxy.address, std::nullopt});
        }
    }

    void remove_routes() {
        for (const RouteV6& route : in_.observed.routes_v6) {
            if (ours(route) && !wanted(route))
                plan_.push_back(op::RemoveRouteV6{desired_.clat_dev, with_oif(route, 0)});
        }
        for (const RouteV4& route : in_.observed.routes_v4) {
            if (ours(route) && !wanted(route))
                plan_.push_back(op::RemoveRouteV4{desired_.clat_dev, with_oif(route, 0)});
        }
        if (!desired_.remove_foreign_default_routes)
            return;
        // v4-defaultroute-replace: the one case where foreign objects are removed. The
        // executor saves each whole from the kernel and journals it, so teardown restores it
        // exactly (all nexthops, onlink, src, metrics, a nexthop object).
        for (const RouteV4& route : in_.observed.routes_v4) {
            if (route.is_default() && route.table == kMainTable &&
                route.protocol != kRouteProtocol) {
                plan_.push_back(
                    op::RemoveForeignRouteV4{dev_name(route.oif), with_oif(route, 0), {}});
            }
        }
    }

    void remove_addresses() {
        if (clat_ == nullptr)
            return;
        for (const AddressV4& address : in_.observed.addresses_v4) {
            if (address.ifindex == clat_->index && !wanted(address)) {
                plan_.push_back(
                    op::RemoveAddressV4{desired_.clat_dev, address.address, address.prefix_length});
            }
        }
    }

    void set_sysctls() {
        for (const op::SetSysctl& sysctl : desired_.sysctls) {
            if (!sysctl_holds(in_.sysctls, sysctl.path, sysctl.value))
                plan_.push_back(sysctl);
        }
    }

    void add_device() {
        const std::string& dev = desired_.clat_dev;
        if (clat_ == nullptr) {
            plan_.push_back(op::CreateTun{dev});
            plan_.push_back(op::SetLinkUp{dev, true});
        } else if (!clat_->admin_up) {
            plan_.push_back(op::SetLinkUp{dev, true});
        }
        const auto& addresses = in_.observed.addresses_v4;
        if (std::none_of(addresses.begin(), addresses.end(),
                         [this](const AddressV4& a) { return wanted(a); })) {
            plan_.push_back(op::AddAddressV4{dev, desired_.clat_v4, 32});
        }
    }

    void add_routes() {
        const auto& routes_v6 = in_.observed.routes_v6;
        if (std::none_of(routes_v6.begin(), routes_v6.end(),
                         [this](const RouteV6& r) { return wanted(r); })) {
            plan_.push_back(op::AddRouteV6{desired_.clat_dev, desired_.clat_route});
        }
        const auto& routes_v4 = in_.observed.routes_v4;
        if (desired_.default_route &&
            std::none_of(routes_v4.begin(), routes_v4.end(),
                         [this](const RouteV4& r) { return wanted(r); })) {
            plan_.push_back(op::AddRouteV4{desired_.clat_dev, *desired_.default_route});
        }
    }

    bool observed(const op::AddProxyNeighbour& proxy) const {
        const Link* link = in_.observed.link_by_name(proxy.dev);
        const auto& proxies = in_.observed.proxies_v6;
        return link != nullptr &&
               std::find(proxies.begin(), proxies.end(),
                         ProxyNeighbourV6{link->index, proxy.address}) != proxies.end();
    }

    void add_unobservable() {
        // A proxy entry is judged by what is observed, so that one removed behind the agent's
        // back (or flushed with its device set down) is put back.
        if (desired_.proxy && !observed(*desired_.proxy))
            plan_.push_back(*desired_.proxy);
        // A firewall rule is judged by the journal, and by the agent's last look at the
        // firewall for rules flushed behind its back.
        const auto& rules = applied_.firewall_rules;
        const auto& lost = in_.firewall_lost;
        for (const op::FirewallRule& rule : desired_.firewall) {
            if (std::find(rules.begin(), rules.end(), rule) == rules.end() ||
                std::find(lost.begin(), lost.end(), rule) != lost.end())
                plan_.push_back(op::AddFirewallAccept{rule});
        }
        // Shared mode: the local rule moves first, so that the rule added after it comes
        // before it; the marking last, once its replies have somewhere to go.
        const auto& moves = applied_.moves;
        if (desired_.local_rule_move &&
            std::find(moves.begin(), moves.end(), *desired_.local_rule_move) == moves.end())
            plan_.push_back(*desired_.local_rule_move);
        const auto& policy = applied_.rules;
        if (desired_.shared_rule &&
            std::find(policy.begin(), policy.end(), *desired_.shared_rule) == policy.end())
            plan_.push_back(op::AddRuleV6{*desired_.shared_rule});
        const auto& markings = applied_.markings;
        if (desired_.marking &&
            std::find(markings.begin(), markings.end(), *desired_.marking) == markings.end())
            plan_.push_back(op::AddSharedMarking{*desired_.marking});
    }

    const PlanInput& in_;
    const DesiredState& desired_;
    const Link* clat_;
    AppliedUnobservable applied_;
    Plan plan_;
};

}  // namespace

Plan make_plan(const PlanInput& in, const DesiredState& desired) {
    return Differ(in, desired).run();
}

Result<Plan> make_plan(const PlanInput& in) {
    auto desired = desired_state(in);
    if (!desired)
        return desired.error();
    return make_plan(in, *desired);
}

}  // namespace clat
