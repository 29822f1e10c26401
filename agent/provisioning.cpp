// The agent's provisioning side: choosing the PLAT device and the CLAT address (with real
// DAD), planning and applying the kernel state, the up/down scripts, the translator, and the
// teardown that undoes everything. See agent.hpp.

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "agent/agent.hpp"
#include "states/observation.hpp"
#include "states/planner.hpp"
#include "states/rfc6052.hpp"

namespace clat {
namespace {

constexpr auto kDadTimeout = std::chrono::seconds(10);
constexpr int kDadAttempts = 5;
constexpr auto kTranslatorGrace = std::chrono::seconds(3);
constexpr auto kScriptGrace = std::chrono::seconds(2);

bool is_executable(const std::string& command) {
    if (command.empty())
        return false;
    if (command.find('/') != std::string::npos)
        return ::access(command.c_str(), X_OK) == 0;
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        auto end = dirs.find(':', start);
        if (end == std::string::npos)
            end = dirs.size();
        const auto dir = dirs.substr(start, end - start);
        if (!dir.empty() && ::access((dir + "/" + command).c_str(), X_OK) == 0)
            return true;
        start = end + 1;
    }
    return false;
}

// Firewall rules are judged by the journal, not observed: they are no sign of drift.
bool is_firewall(const Operation& op) {
    return std::holds_alternative<op::AddFirewallAccept>(op) ||
           std::holds_alternative<op::RemoveFirewallAccept>(op);
}

std::uint64_t random_iid() {
    static std::mt19937_64 engine{std::random_device{}()};
    return engine();
}

}  // namespace

std::optional<op::FirewallBackend> Agent::firewall_backend() const {
    // ip6tables-enable=yes asks for ip6tables explicitly; otherwise nftables when its tool is
    // there (it also sees iptables-nft's chains), and ip6tables when only that is (auto).
    if (config_.ip6tables_enable == true)
        return op::FirewallBackend::kIp6tables;
    if (is_executable(config_.cmd_nft))
        return op::FirewallBackend::kNftables;
    if (!config_.ip6tables_enable && is_executable(config_.cmd_ip6tables)) {
        return op::FirewallBackend::kIp6tables;
    }
    return std::nullopt;
}

Result<std::string> Agent::resolve_plat_dev(const Ipv6Prefix& prefix) {
    if (config_.plat_dev)
        return *config_.plat_dev;
    // Ask the kernel where a translated packet would go: towards 192.0.0.170 under the prefix.
    auto probe = embed_ipv4(prefix, Ipv4Address{{192, 0, 0, 170}});
    auto route = observer_->lookup_route(probe ? *probe : prefix.address);
    if (!route)
        return make_error("no route towards the PLAT prefix: " + route.error().message);
    if (route->ifname == config_.clat_dev) {
        return make_error("the route towards the PLAT prefix points at " + config_.clat_dev);
    }
    return route->ifname;
}

Result<Ipv6Address> Agent::choose_clat_address(const std::string& plat_dev,
                                               const Ipv6Prefix& prefix) {
    if (const auto* literal = std::get_if<Ipv6Address>(&config_.clat_v6_addr))
        return *literal;
    if (std::holds_alternative<ClatV6Shared>(config_.clat_v6_addr)) {
        return make_error("clat-v6-addr=shared is not supported yet");
    }
    const auto& observed = observer_->observed();
    const Link* link = observed.link_by_name(plat_dev);
    if (link == nullptr)
        return make_error("PLAT device " + plat_dev + " does not exist");
    auto candidates = addresses_on(observed, link->index, dad_probe_);
    // Keep the current address while the host address it came from is still there and
    // preferred: only a renumbering moves the CLAT.
    if (clat_choice_) {
        for (const auto& a : candidates) {
            if (a.address == clat_choice_->derived_from && a.usable() && !a.deprecated &&
                std::find(dad_avoid_.begin(), dad_avoid_.end(), clat_choice_->address) ==
                    dad_avoid_.end()) {
                return clat_choice_->address;
            }
        }
    }
    auto choice = derive_clat_address(candidates, prefix, random_iid, dad_avoid_);
    if (!choice)
        return choice.error();
    clat_choice_ = *choice;
    return choice->address;
}

void Agent::begin_provision(const PlatChoice& plat, bool initial) {
    const auto gen = ++generation_;
    if (dad_probe_ && dad_savepoint_)
        (void)executor_->rollback_to(*dad_savepoint_);
    dad_probe_.reset();
    dad_timer_.cancel();
    plat_ = plat;
    provisioning_initial_ = initial;
    dad_attempts_ = 0;
    spdlog::info("{} plat={}", initial ? "provision" : "reconcile", plat.to_string());
    continue_provision(gen);
}

void Agent::continue_provision(std::uint64_t gen) {
    auto fail = [this, gen](const std::string& message) {
        if (gen != generation_)
            return;
        view_.last_error = message;
        if (provisioning_initial_) {
            spdlog::error("provision failed: {}", message);
            post(event::ProvisionFailed{message});
        } else {
            spdlog::error("reconcile failed: {}", message);
            publish_status();
        }
    };
    auto dev = resolve_plat_dev(plat_->prefix);
    if (!dev)
        return fail(dev.error().message);
    plat_dev_ = *dev;
    auto address = choose_clat_address(plat_dev_, plat_->prefix);
    if (!address)
        return fail(address.error().message);
    const bool verified =
        std::find(dad_verified_.begin(), dad_verified_.end(), *address) != dad_verified_.end();
    if (config_.dad_enable && !verified) {
        // RFC 6877 §6.3 wants the CLAT address unique on the link: let the kernel run real
        // DAD on it (added to the PLAT device for the duration), then take it away again so
        // that proxy ND answers for it and packets for it reach the translator.
        dad_savepoint_ = executor_->savepoint();
        auto added = executor_->apply(Plan{op::AddAddressV6{plat_dev_, *address, 128, true}});
        if (!added)
            return fail("DAD probe: " + added.error().message);
        dad_probe_ = *address;
        spdlog::info("dad start address={} dev={}", address->to_string(), plat_dev_);
        dad_timer_.expires_after(kDadTimeout);
        dad_timer_.async_wait(
            [this, gen, fail, alive = alive_](const boost::system::error_code& ec) {
                if (ec || !*alive || gen != generation_ || !dad_probe_)
                    return;
                (void)executor_->rollback_to(*dad_savepoint_);
                dad_probe_.reset();
                fail("DAD did not finish on " + plat_dev_ + " within 10 s");
            });
        boost::asio::post(io_, [this, gen, alive = alive_] {
            if (*alive)
                check_dad(gen);
        });
        return;
    }
    clat_v6_ = *address;
    apply_plan(gen);
}

void Agent::check_dad(std::uint64_t gen) {
    if (gen != generation_ || !dad_probe_)
        return;
    const auto address = *dad_probe_;
    const auto state = dad_state(observer_->observed(), plat_dev_, address);
    if (state == DadState::kTentative || state == DadState::kAbsent)
        return;
    dad_timer_.cancel();
    (void)executor_->rollback_to(*dad_savepoint_);
    dad_probe_.reset();
    if (state == DadState::kUsable) {
        spdlog::info("dad passed address={}", address.to_string());
        dad_verified_.push_back(address);
        clat_v6_ = address;
        apply_plan(gen);
        return;
    }
    spdlog::warn("dad conflict address={} dev={}: another node holds it", address.to_string(),
                 plat_dev_);
    dad_avoid_.push_back(address);
    if (++dad_attempts_ >= kDadAttempts) {
        view_.last_error = "DAD failed for " + std::to_string(dad_attempts_) + " addresses";
        if (provisioning_initial_)
            post(event::ProvisionFailed{view_.last_error});
        return;
    }
    if (!std::holds_alternative<ClatV6Derived>(config_.clat_v6_addr)) {
        view_.last_error =
            "the configured clat-v6-addr " + address.to_string() + " is in use by another node";
        if (provisioning_initial_)
            post(event::ProvisionFailed{view_.last_error});
        return;
    }
    continue_provision(gen);
}

Result<Plan> Agent::make_current_plan() {
    // The kernel does not announce proxy entries: read them now, so that the plan sees one
    // that was removed (or flushed with a device set down) since the last poll.
    if (config_.proxynd_enable) {
        if (auto refreshed = observer_->refresh_proxies(); !refreshed)
            return refreshed.error();
    }
    const auto& observed = observer_->observed();
    std::map<std::string, std::string> sysctls;
    auto read = [&](const std::string& path) {
        if (auto v = kernel_->read_sysctl(path))
            sysctls[path] = *v;
    };
    read("net/ipv6/conf/all/forwarding");
    read("net/ipv6/conf/" + plat_dev_ + "/proxy_ndp");
    read("net/ipv6/conf/all/accept_ra");
    read("net/ipv6/conf/default/accept_ra");
    for (const auto& [index, link] : observed.links)
        read("net/ipv6/conf/" + link.name + "/accept_ra");
    Plan applied;
    for (const auto& entry : executor_->applied()) {
        if (auto forward = static_inverse(entry.undo))
            applied.push_back(*forward);
    }
    PlanInput input{config_,   observed, plat_->prefix,      *clat_v6_,
                    plat_dev_, sysctls,  firewall_backend(), applied};
    return make_plan(input);
}

void Agent::apply_plan(std::uint64_t gen) {
    auto plan = make_current_plan();
    Status applied = plan ? executor_->apply(*plan) : Status(plan.error());
    if (!applied) {
        view_.last_error = applied.error().message;
        if (provisioning_initial_) {
            spdlog::error("provision failed: {}", applied.error().message);
            post(event::ProvisionFailed{applied.error().message});
        } else {
            spdlog::error("reconcile failed: {}", applied.error().message);
        }
        return;
    }
    for (const auto& op : *plan)
        spdlog::info("applied {}", to_string(op));
    if (provisioning_initial_) {
        run_script_up(gen);
    } else {
        restart_translator_if_changed();
        publish_status();
    }
}

std::vector<std::string> Agent::script_environment() const {
    std::vector<std::string> env;
    for (auto [key, value] : config::effective_settings(config_)) {
        if (key == "clat-v6-addr" && clat_v6_)
            value = clat_v6_->to_string();
        if (key == "plat-prefix" && plat_)
            value = plat_->prefix.to_string();
        if (key == "plat-dev")
            value = plat_dev_;
        std::replace(key.begin(), key.end(), '-', '_');
        env.push_back(key + "=" + value);
    }
    return env;
}

void Agent::run_script_up(std::uint64_t gen) {
    if (config_.script_up.empty()) {
        provisioned_ = true;
        post(event::ProvisionSucceeded{});
        return;
    }
    script_ = std::make_unique<ChildProcess>(io_, reaper_);
    auto started = script_->start(
        {{"/bin/sh", "-c", config_.script_up}, script_environment(), true},
        [](const std::string& line) { spdlog::info("script-up: {}", line); },
        [this, gen, alive = alive_](ChildExit exit) {
            if (!*alive || gen != generation_)
                return;
            if (exit.success()) {
                spdlog::info("script-up done");
                provisioned_ = true;
                script_up_ran_ = true;
                post(event::ProvisionSucceeded{});
                return;
            }
            const std::string message = "script-up " + exit.to_string();
            spdlog::error("{}; undoing provisioning", message);
            view_.last_error = message;
            (void)executor_->undo_all();
            post(event::ProvisionFailed{message});
        });
    if (!started) {
        (void)executor_->undo_all();
        post(event::ProvisionFailed{"script-up: " + started.error().message});
    }
}

TaygaSettings Agent::tayga_settings() const {
    return TaygaSettings{config_.clat_dev, config_.tayga_v4_addr,
                         plat_->prefix,    config_.clat_v4_addr,
                         *clat_v6_,        config_.tayga_extra};
}

void Agent::start_translator() {
    if (!plat_ || !clat_v6_)
        return;
    auto settings = tayga_settings();
    auto pid_box = std::make_shared<pid_t>(0);
    auto started = translator_->start(settings, [this, pid_box, alive = alive_](ChildExit exit) {
        if (!*alive)
            return;
        if (translator_expected_exit_) {
            translator_expected_exit_ = false;
            spdlog::info("tayga stopped pid={} {}", *pid_box, exit.to_string());
            if (tearing_down_) {
                teardown_after_translator();
            } else {
                start_translator();  // a new configuration: same tun, new mapping
            }
            return;
        }
        spdlog::warn("tayga exited pid={} {}", *pid_box, exit.to_string());
        post(event::TranslatorExited{*pid_box, exit.to_string()});
    });
    if (!started) {
        spdlog::error("tayga failed to start: {}", started.error().message);
        post(event::TranslatorExited{0, "failed to start: " + started.error().message});
        return;
    }
    *pid_box = *started;
    translator_settings_ = settings;
    spdlog::info("tayga started pid={} conf={}", *started, translator_->conf_path());
    post(event::TranslatorStarted{*started});
}

void Agent::restart_translator_if_changed() {
    if (!translator_->running() || !translator_settings_)
        return;
    if (*translator_settings_ == tayga_settings())
        return;
    spdlog::info("tayga restart reason=new mapping or prefix");
    translator_expected_exit_ = true;
    translator_->stop(kTranslatorGrace);
}

void Agent::check_drift() {
    if (!provisioned_ || tearing_down_ || dad_probe_ || !plat_ || !clat_v6_)
        return;
    auto dev = resolve_plat_dev(plat_->prefix);
    if (dev && *dev != plat_dev_) {
        post(event::ReconcileNeeded{"PLAT device is now " + *dev});
        return;
    }
    auto address = choose_clat_address(plat_dev_, plat_->prefix);
    if (address && *address != *clat_v6_) {
        spdlog::info("renumbered clat-v6 {} -> {}", clat_v6_->to_string(), address->to_string());
        post(event::ClatAddressChanged{*address});
        return;
    }
    auto plan = make_current_plan();
    if (!plan)
        return;
    const auto drift = std::count_if(plan->begin(), plan->end(),
                                     [](const Operation& op) { return !is_firewall(op); });
    if (drift > 0) {
        spdlog::info("drift operations={} first={}", drift, to_string(plan->front()));
        post(event::ReconcileNeeded{"kernel state drifted"});
    }
}

void Agent::begin_teardown() {
    if (tearing_down_)
        return;
    tearing_down_ = true;
    teardown_error_.reset();
    ++generation_;
    dad_timer_.cancel();
    if (dad_probe_ && dad_savepoint_)
        (void)executor_->rollback_to(*dad_savepoint_);
    dad_probe_.reset();
    if (script_ && script_->running())
        script_->stop(kScriptGrace);
    if (translator_->running()) {
        translator_expected_exit_ = true;
        translator_->stop(kTranslatorGrace);
        return;  // continues when TAYGA has exited
    }
    teardown_after_translator();
}

void Agent::teardown_after_translator() {
    if (!script_up_ran_ && !provisioned_)
        return teardown_after_script();
    if (config_.script_down.empty())
        return teardown_after_script();
    script_ = std::make_unique<ChildProcess>(io_, reaper_);
    auto started = script_->start(
        {{"/bin/sh", "-c", config_.script_down}, script_environment(), true},
        [](const std::string& line) { spdlog::info("script-down: {}", line); },
        [this, alive = alive_](ChildExit exit) {
            if (!*alive)
                return;
            if (!exit.success())
                teardown_error_ = "script-down " + exit.to_string();
            teardown_after_script();
        });
    if (!started) {
        teardown_error_ = "script-down: " + started.error().message;
        teardown_after_script();
    }
}

void Agent::teardown_after_script() {
    auto undone = executor_->undo_all();
    if (!undone && !teardown_error_)
        teardown_error_ = undone.error().message;
    spdlog::info("teardown done{}", teardown_error_ ? " error=" + *teardown_error_ : "");
    provisioned_ = false;
    script_up_ran_ = false;
    translator_settings_.reset();
    plat_.reset();
    plat_dev_.clear();
    clat_v6_.reset();
    tearing_down_ = false;
    post(event::TeardownDone{teardown_error_});
}

}  // namespace clat
