// The agent's effects: each one a call on a port; whatever it leads to is posted as an event.
// See agent.hpp.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "agent/agent.hpp"
#include "states/planner.hpp"

namespace clat {

namespace {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

/// The firewall rules of a journal's forward operations: adds, minus later removals.
std::vector<op::FirewallRule> journalled_rules(const Plan& applied) {
    std::vector<op::FirewallRule> rules;
    for (const Operation& operation : applied) {
        if (const auto* add = std::get_if<op::AddFirewallAccept>(&operation)) {
            if (std::find(rules.begin(), rules.end(), add->rule) == rules.end())
                rules.push_back(add->rule);
        } else if (const auto* remove = std::get_if<op::RemoveFirewallAccept>(&operation)) {
            std::erase(rules, remove->rule);
        }
    }
    return rules;
}

}  // namespace

void Agent::run(const Effect& effect) {
    std::visit(
        Overloaded{
            [&](const effect::StartTimer& e) { ports_.timers.start(e.timer, e.delay_ms); },
            [&](const effect::CancelTimer& e) { ports_.timers.cancel(e.timer); },
            [&](const effect::StartDiscovery& e) { start_discovery(e); },
            [&](const effect::StopDiscovery&) {
                ports_.discovery.stop();
                ports_.solicitor.cancel();
            },
            [&](const effect::StopSolicitation&) { ports_.solicitor.cancel(); },
            [&](const effect::RefreshFacts&) { refresh_facts(); },
            [&](const effect::ProbeDad& e) { probe_dad(e); },
            [&](const effect::EndDadProbe&) { ports_.dad.cancel(); },
            [&](const effect::ApplyPlan& e) { apply_plan(e.target); },
            [&](const effect::RunScript& e) {
                if (e.kind == ScriptKind::Up)
                    scripted_config_ = config_;
                const Config& config =
                    e.kind == ScriptKind::Down && scripted_config_ ? *scripted_config_ : config_;
                const std::string& command =
                    e.kind == ScriptKind::Up ? config.script_up : config.script_down;
                const auto conf = config.tayga_conffile.value_or("");
                ports_.scripts.run(e.kind, command, script_environment(config, e.target, conf));
                if (e.kind == ScriptKind::Down)
                    scripted_config_.reset();
            },
            [&](const effect::CancelScript&) { ports_.scripts.cancel(); },
            [&](const effect::StartDataPath& e) { ports_.data_path.start(e.mapping); },
            [&](const effect::ReplaceDataPath& e) { ports_.data_path.replace(e.mapping); },
            [&](const effect::StopDataPath&) { ports_.data_path.stop(); },
            [&](const effect::UndoAll&) { undo_all(); },
            [&](const effect::Exit& e) { finish(e.code); },
            [&](const effect::PublishStatus&) { publish_status(); },
        },
        effect);
}

void Agent::start_discovery(const effect::StartDiscovery& e) {
    if (e.dns64)
        ports_.discovery.start();
    if (!e.solicit)
        return;
    // The kernel keeps no RA options: without a solicitation, a PREF64 would come only with
    // the router's next periodic RA (RFC 4861 §6.3.7).
    if (const Link* link = snapshot_.observed.link_by_name(*e.solicit))
        ports_.solicitor.solicit(link->index, link->name);
}

void Agent::refresh_facts() {
    boost::asio::post(io_, [this, alive = alive_] {
        if (!*alive)
            return;
        take_snapshot();
        dispatch(event::FactsChanged{});
    });
}

void Agent::probe_dad(const effect::ProbeDad& e) {
    // RFC 6877 §6.3 wants the CLAT address unique on the link. It is never assigned to the
    // PLAT device (proxy ND answers for it, and its packets must reach the data path), so
    // the DAD prober probes for it on the wire, also while it is in use (RFC 4429).
    std::optional<std::string> error;
    const Link* link = snapshot_.observed.link_by_name(e.dev);
    if (link == nullptr) {
        error = "PLAT device " + e.dev + " does not exist";
    } else if (auto started = ports_.dad.probe(link->index, e.dev, e.address); !started) {
        error = started.error().message;
    }
    if (error)
        spdlog::error("dad probe failed address={} dev={}: {}", e.address.to_string(), e.dev,
                      *error);
    post(event::DadProbeStarted{e.address, error});
}

Result<Plan> Agent::make_current_plan(const ClatTarget& target) {
    return plan_against(snapshot_, target);
}

std::optional<std::uint32_t> Agent::path_mtu(const Snapshot& snapshot,
                                             const std::string& plat_dev) const {
    if (!ports_.data_path.info().follows_uplink_mtu)
        return std::nullopt;
    // The uplink's IPv6 MTU: its link MTU, or less when a Router Advertisement's MTU option
    // lowered the device's IPv6 MTU (net/ipv6/conf/<dev>/mtu); the IPv4 header is 20 bytes
    // shorter than the IPv6 header it becomes.
    const Link* link = snapshot.observed.link_by_name(plat_dev);
    if (link == nullptr || link->mtu == 0)
        return std::nullopt;
    std::uint32_t mtu = link->mtu;
    if (snapshot.sysctls) {
        if (auto it = snapshot.sysctls->find("net/ipv6/conf/" + plat_dev + "/mtu");
            it != snapshot.sysctls->end()) {
            std::uint32_t v6 = 0;
            const auto& text = it->second;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v6);
            if (ec == std::errc() && v6 >= kIpv6MinimumMtu)
                mtu = std::min(mtu, v6);
            (void)end;
        }
    }
    if (mtu < kIpv6MinimumMtu)
        return std::nullopt;
    // And no more than the CLAT device takes: a larger packet would not reach its egress
    // hook whole (the tun stays at the MTU it was made with, 1500).
    std::uint32_t path = mtu - kIpv4HeaderGrowth;
    if (const Link* clat = snapshot.observed.link_by_name(config_.clat_dev);
        clat != nullptr && clat->mtu != 0)
        path = std::min(path, clat->mtu);
    return path;
}

Result<Plan> Agent::plan_against(Snapshot& snapshot, const ClatTarget& target) {
    if (!snapshot.sysctls) {
        std::map<std::string, std::string> sysctls;
        auto read = [&](const std::string& path) {
            if (auto v = ports_.kernel.read_sysctl(path))
                sysctls[path] = *v;
        };
        read("net/ipv6/conf/all/forwarding");
        read("net/ipv6/conf/" + target.binding.plat_dev + "/proxy_ndp");
        read("net/ipv6/conf/" + target.binding.plat_dev + "/mtu");
        read("net/ipv6/neigh/" + target.binding.plat_dev + "/proxy_delay");
        read("net/ipv6/conf/all/accept_ra");
        read("net/ipv6/conf/default/accept_ra");
        for (const auto& [index, link] : snapshot.observed.links)
            read("net/ipv6/conf/" + link.name + "/accept_ra");
        snapshot.sysctls = std::move(sysctls);
    }
    Plan applied;
    for (const auto& entry : executor_.applied()) {
        // DeleteLink has no static inverse (undoing a deletion cannot bring a device back),
        // but as a pending undo it means exactly "this instance created the tun".
        if (const auto* link = std::get_if<op::DeleteLink>(&entry.undo))
            applied.push_back(op::CreateTun{link->dev});
        else if (auto forward = static_inverse(entry.undo))
            applied.push_back(*forward);
    }
    if (!firewall_) {
        firewall_ = ports_.firewall.inspect(config_, journalled_rules(applied));
        for (const auto& problem : firewall_->problems)
            spdlog::warn("firewall not read: {}", problem);
        for (const auto& rule : firewall_->lost)
            spdlog::info(
                "firewall rules lost backend={} (removed behind clatd's back), adding "
                "them again",
                op::to_string(rule.backend));
    }

    PlanInput input{config_,
                    snapshot.observed,
                    target.plat.prefix,
                    target.binding.clat_v6,
                    target.binding.plat_dev,
                    *snapshot.sysctls,
                    firewall_->targets,
                    applied,
                    firewall_mark_,
                    path_mtu(snapshot, target.binding.plat_dev),
                    firewall_->lost};
    auto plan = make_plan(input);
    // Firewall rules cannot be observed: one the firewall adapter found in place (or had no
    // drop chain for) is not ours and counts as done, instead of a firewall listing on every
    // plan. It is never removed either: it is not in the journal.
    if (plan) {
        std::erase_if(*plan, [&](const Operation& op) {
            return std::find(firewall_in_place_.begin(), firewall_in_place_.end(), op) !=
                   firewall_in_place_.end();
        });
    }
    return plan;
}

void Agent::apply_plan(const ClatTarget& target) {
    auto plan = make_current_plan(target);
    if (!plan) {
        spdlog::error("plan failed {}: {}", target.to_string(), plan.error().message);
        post(event::PlanFailed{plan.error().message});
        return;
    }
    spdlog::debug("plan operations={} {}", plan->size(), target.to_string());
    if (plan->empty()) {
        post(event::PlanApplied{0});
        return;
    }
    if (Status applied = executor_.apply(*plan); !applied) {
        spdlog::error("apply failed: {}", applied.error().message);
        // The retry (after its back-off) looks at the firewalls again: a tool that failed, or
        // a firewall that changed under the apply, is not taken from this inspection.
        firewall_.reset();
        post(event::PlanFailed{applied.error().message});
        return;
    }
    if (firewall_) {
        // What was just added (or removed) is complete (or gone) now.
        for (const auto& op : *plan) {
            if (const auto* add = std::get_if<op::AddFirewallAccept>(&op))
                std::erase(firewall_->lost, add->rule);
            else if (const auto* remove = std::get_if<op::RemoveFirewallAccept>(&op))
                std::erase(firewall_->lost, remove->rule);
        }
    }
    const Plan& in_place = executor_.in_place();
    int changed = 0;
    for (const auto& op : *plan) {
        if (std::find(in_place.begin(), in_place.end(), op) != in_place.end()) {
            // Rules are not observed either (shared mode): one in place is not replanned.
            if (std::holds_alternative<op::AddFirewallAccept>(op) ||
                std::holds_alternative<op::AddRuleV6>(op) ||
                std::holds_alternative<op::MoveRuleV6>(op))
                firewall_in_place_.push_back(op);
            continue;
        }
        spdlog::info("applied {}", to_string(op));
        ++changed;
    }
    if (changed > 0)
        absorb_echo(target, *plan);
    // What was read for this snapshot may have changed with the plan.
    snapshot_.sysctls.reset();
    if (firewall_held() != view_.firewall)
        publish_status();
    post(event::PlanApplied{changed});
}

void Agent::absorb_echo(const ClatTarget& target, const Plan& plan) {
    // The kernel queued its announcements of what was just applied before it answered: read
    // them now. When the plan for the result is empty (pure: the sysctls taken as written, the
    // firewall as applied, nothing read again), the announcements are only the echo of this
    // plan, and their notification finds nothing new: no second plan. Anything else (someone
    // else's change at the same moment) stays unabsorbed and is planned when it is notified.
    ports_.observer.sync();
    if (config_.proxynd_enable)  // proxy entries are not announced: read them as a snapshot does
        (void)ports_.observer.refresh_proxies();
    Snapshot after = snapshot_;
    after.observed = relevant_observed();
    if (after.observed == snapshot_.observed || !after.sysctls)
        return;
    for (const auto& op : plan) {
        if (const auto* set = std::get_if<op::SetSysctl>(&op))
            (*after.sysctls)[set->path] = set->value;
    }
    if (auto check = plan_against(after, target); check && check->empty())
        snapshot_.observed = std::move(after.observed);
    else if (check)
        spdlog::debug("echo not absorbed: {} operations still planned, first {}", check->size(),
                      to_string(check->front()));
}

void Agent::on_firewall_changed() {
    spdlog::debug("firewall changed, inspecting it at the next plan");
    firewall_.reset();
    firewall_in_place_.clear();
    refresh_facts();
}

std::vector<op::FirewallBackend> Agent::firewall_held() const {
    std::vector<op::FirewallBackend> held;
    Plan applied;
    for (const auto& entry : executor_.applied()) {
        if (auto forward = static_inverse(entry.undo))
            applied.push_back(*forward);
    }
    for (const auto& rule : journalled_rules(applied)) {
        if (std::find(held.begin(), held.end(), rule.backend) == held.end())
            held.push_back(rule.backend);
    }
    std::sort(held.begin(), held.end());
    return held;
}

void Agent::undo_all() {
    ports_.dad.cancel();
    firewall_in_place_.clear();
    firewall_.reset();
    auto undone = executor_.undo_all();
    std::optional<std::string> error;
    if (!undone)
        error = undone.error().message;
    spdlog::info("undo done{}", error ? " error=" + *error : "");
    snapshot_.sysctls.reset();
    if (firewall_held() != view_.firewall)
        publish_status();
    post(event::Undone{error});
}

std::vector<std::string> script_environment(const Config& config, const ClatTarget& target,
                                            const std::string& tayga_conffile) {
    std::vector<std::string> env;
    for (auto [key, value] : config::effective_settings(config)) {
        if (key == "clat-v6-addr")
            value = target.binding.clat_v6.to_string();
        if (key == "plat-prefix")
            value = target.plat.prefix.to_string();
        if (key == "plat-dev")
            value = target.binding.plat_dev;
        if (key == "tayga-conffile" && !tayga_conffile.empty())
            value = tayga_conffile;
        std::replace(key.begin(), key.end(), '-', '_');
        env.push_back(key + "=" + value);
    }
    return env;
}

}  // namespace clat
