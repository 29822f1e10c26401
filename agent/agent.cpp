#include "agent/agent.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <variant>

#include "states/observation.hpp"
#include "states/rfc6052.hpp"

namespace clat {

std::int64_t monotonic_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

namespace {

std::int64_t unix_us_now() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

MachineSettings machine_settings(const Config& c) {
    MachineSettings s;
    s.v4_conncheck_enable = c.v4_conncheck_enable;
    s.v4_conncheck_delay_ms = static_cast<std::int64_t>(c.v4_conncheck_delay) * 1000;
    s.v4_defaultroute_replace = c.v4_defaultroute_replace;
    s.pref64_enable = c.pref64_enable;
    s.plat_prefix = c.plat_prefix;
    s.plat_fallback_prefix = c.plat_fallback_prefix;
    s.tayga_restart_delay_ms = c.tayga_restart_delay_ms;
    s.script_timeout_ms = static_cast<std::int64_t>(c.script_timeout) * 1000;
    s.binding = BindingSettings{c.clat_dev, c.plat_dev, c.clat_v6_addr, c.dad_enable};
    return s;
}

/// Where the route lookup towards a prefix points: 192.0.0.170 embedded in it (RFC 7050).
std::optional<Ipv6Address> probe_address(const std::optional<Ipv6Prefix>& prefix) {
    if (!prefix)
        return std::nullopt;
    auto probe = embed_ipv4(*prefix, Ipv4Address{{192, 0, 0, 170}});
    return probe ? *probe : prefix->address;
}

}  // namespace

Agent::Agent(boost::asio::io_context& io, AgentPorts ports, Config config, UndoJournal journal,
             Options options)
    : io_(io),
      ports_(ports),
      config_(std::move(config)),
      options_(std::move(options)),
      executor_(ports.kernel, std::move(journal)),
      random_(std::random_device{}()),
      firewall_mark_(fmt::format("{:016x}", random_())) {
    auto sink = [this, alive = alive_](Event event) {
        if (*alive)
            post(std::move(event));
    };
    ports_.discovery.subscribe(sink);
    ports_.data_path.subscribe(sink);
    ports_.data_path.use_journal(executor_);
    ports_.scripts.subscribe(sink);
    ports_.timers.subscribe(sink);
    ports_.dad.subscribe(sink);
    ports_.discovery.configure(DiscoverySettings{config_.dns64_servers});
    ports_.data_path.configure(config_);
}

Agent::~Agent() {
    *alive_ = false;
}

Status Agent::start() {
    for (const auto& problem : executor_.journal().load_problems())
        spdlog::warn("journal {}", problem);
    if (!executor_.applied().empty()) {
        spdlog::warn("recover journal={} entries={} reason=left by an instance that did not stop",
                     executor_.journal().path(), executor_.applied().size());
        if (auto recovered = executor_.recover(); !recovered)
            spdlog::error("recover failed: {}", recovered.error().message);
    }
    if (auto started = ports_.observer.start([this, alive = alive_] {
            if (*alive)
                on_observed();
        });
        !started)
        return started.error();
    ports_.observer.set_proxy_poll(config_.proxynd_enable ? kProxyPollInterval
                                                          : std::chrono::milliseconds(0));
    ports_.firewall.watch(kFirewallPollInterval, [this, alive = alive_] {
        if (*alive)
            on_firewall_changed();
    });
    view_.machine = machine_.status();
    view_.last_transition_unix_us = unix_us_now();
    boost::asio::post(io_, [this, alive = alive_] {
        if (!*alive)
            return;
        take_snapshot();
        dispatch(event::FactsChanged{});
        publish_status();
        ports_.notifier.ready();
    });
    return Ok{};
}

void Agent::stop(const std::string& origin) {
    ports_.notifier.stopping();
    post(event::StopRequested{origin});
}

void Agent::post(Event event) {
    boost::asio::post(io_, [this, alive = alive_, event = std::move(event)] {
        if (*alive)
            dispatch(event);
    });
}

std::vector<std::string> Agent::plat_devs() const {
    std::vector<std::string> devs;
    if (config_.plat_dev)
        devs.push_back(*config_.plat_dev);
    if (auto binding = machine_.status().binding)
        devs.push_back(binding->plat_dev);
    if (snapshot_.plat_route && !snapshot_.plat_route->dev.empty())
        devs.push_back(snapshot_.plat_route->dev);
    return devs;
}

Observed Agent::relevant_observed() const {
    return relevant_subset(ports_.observer.observed(), config_.clat_dev, plat_devs(),
                           probe_address(held_prefix(machine_.state())));
}

void Agent::take_snapshot() {
    // The kernel does not announce proxy entries: read them now, so that the plan sees one
    // that was removed (or flushed with a device set down) since the last poll.
    if (config_.proxynd_enable) {
        if (auto refreshed = ports_.observer.refresh_proxies(); !refreshed)
            spdlog::warn("proxy entries not read: {}", refreshed.error().message);
    }
    const auto held = held_prefix(machine_.state());
    const auto probe = probe_address(held);
    Snapshot next;
    next.observed = relevant_observed();
    // clat-v6-addr=shared takes the CLAT address from the lookup's source, plat-dev or not.
    if (held && (!config_.plat_dev || std::holds_alternative<ClatV6Shared>(config_.clat_v6_addr))) {
        PlatRoute route{*held, {}, {}, {}};
        if (auto found = ports_.observer.lookup_route(*probe)) {
            route.dev = found->ifname;
            route.source = found->source;
        } else {
            route.error = found.error().message;
        }
        next.plat_route = route;
    }
    next.entropy = random_();
    snapshot_ = std::move(next);
    // From now on only changes that can touch this snapshot's subset wake the agent.
    ports_.observer.set_interest(
        interest_of(ports_.observer.observed(), config_.clat_dev, plat_devs(), probe));
}

void Agent::on_observed() {
    // A burst elsewhere (an unrelated interface, another routing table) changes nothing the
    // CLAT depends on: it costs this comparison, no plan.
    const bool relevant = relevant_observed() != snapshot_.observed;
    if (relevant) {
        take_snapshot();
        dispatch(event::FactsChanged{});
    }
    // scripts/bench matches this line with the netlink change that caused it (steady µs).
    if (relevant && spdlog::should_log(spdlog::level::debug)) {
        const NotificationBatch batch = ports_.observer.last_notification();
        if (batch.first_rx_us != 0 && batch.notification != timed_notification_) {
            timed_notification_ = batch.notification;
            const auto done_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count();
            spdlog::debug("reconcile done rx-us={} done-us={} messages={}", batch.first_rx_us,
                          done_us, batch.messages);
        }
    }
}

MachineFacts Agent::facts() const {
    MachineFacts f;
    f.now_ms = ports_.timers.now_ms();
    f.settings = machine_settings(config_);
    const Observed& observed = snapshot_.observed;
    auto uplink = usable_uplink(observed, config_.clat_dev, config_.plat_dev);
    f.uplink_usable = uplink.has_value();
    f.uplink_dev = uplink.value_or("");
    f.native_ipv4 = native_ipv4(observed, config_.clat_dev);
    if (config_.pref64_enable) {
        const Link* link = uplink ? observed.link_by_name(*uplink) : nullptr;
        f.pref64 = pref64_choice(observed, link ? link->index : 0, f.now_ms);
    }
    f.observed = &snapshot_.observed;
    f.plat_route = snapshot_.plat_route;
    f.entropy = snapshot_.entropy;
    return f;
}

void Agent::dispatch(const Event& event) {
    const std::string before(state_name(machine_.state()));
    auto transition = machine_.dispatch(event, facts());
    if (transition.ignored()) {
        spdlog::debug("event {} ignored state={}", event_name(event), before);
        return;
    }
    const std::string after(state_name(machine_.state()));
    if (before != after) {
        spdlog::info("state {}->{} reason={}", before, after, transition.cause);
        view_.last_transition_unix_us = unix_us_now();
    } else if (transition.notable) {
        spdlog::info("{} state={}", transition.cause, after);
    } else {
        spdlog::debug("event {} state={} cause={}", event_name(event), after, transition.cause);
    }
    for (const auto& effect : transition.effects) {
        spdlog::debug("effect {}", to_string(effect));
        run(effect);
    }
}

void Agent::apply_consumers(const ConfigDiff& diff) {
    if (diff.logging && options_.set_log_level)
        options_.set_log_level(config_.quiet, config_.debug);
    if (diff.discovery)
        ports_.discovery.configure(DiscoverySettings{config_.dns64_servers});
    if (diff.data_path)
        ports_.data_path.configure(config_);
    // The sinks show configured values too (CLAT addresses, the admin group, the metrics
    // file): every change reaches them.
    if (diff.any())
        ports_.status.reconfigure(config_);
    if (diff.proxy_poll)
        ports_.observer.set_proxy_poll(config_.proxynd_enable ? kProxyPollInterval
                                                              : std::chrono::milliseconds(0));
}

Status Agent::reload() {
    const auto started_us =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now().time_since_epoch())
                                       .count());
    ports_.notifier.reloading(started_us);
    auto loaded = options_.load_config ? options_.load_config()
                                       : Result<config::LoadedConfig>(make_error("no loader"));
    if (!loaded) {
        spdlog::error("reload rejected: {}", loaded.error().message);
        reload_error_ = "reload rejected: " + loaded.error().message;
        publish_status();
        ports_.notifier.ready();
        return loaded.error();
    }
    if (loaded->config.clat_dev != config_.clat_dev && options_.claim_device) {
        if (auto claimed = options_.claim_device(loaded->config.clat_dev); !claimed) {
            spdlog::error("reload rejected: {}", claimed.error().message);
            reload_error_ = "reload rejected: " + claimed.error().message;
            publish_status();
            ports_.notifier.ready();
            return claimed.error();
        }
    }
    for (const auto& w : loaded->warnings)
        spdlog::warn("{}", w);
    const ConfigDiff diff = diff_config(config_, loaded->config);
    config_ = loaded->config;
    reload_error_.clear();
    // Another backend or tool may hold them now (ip6tables-enable, cmd-nft, cmd-ip6tables).
    firewall_in_place_.clear();
    firewall_.reset();
    spdlog::info("reload accepted source={} changed={}", loaded->source, diff.to_string());
    apply_consumers(diff);
    dispatch(event::ConfigReloaded{diff});
    take_snapshot();
    dispatch(event::FactsChanged{});
    publish_status();
    ports_.notifier.ready();
    return Ok{};
}

void Agent::rediscover() {
    post(event::RediscoverRequested{});
}

void Agent::publish_status() {
    view_.machine = machine_.status();
    view_.data_path = ports_.data_path.info();
    view_.last_error = !reload_error_.empty() ? reload_error_ : view_.machine.last_error;
    view_.firewall = firewall_held();
    std::string text = view_.machine.state;
    if (!view_.machine.reason.empty())
        text += ": " + view_.machine.reason;
    if (view_.machine.plat)
        text += " (PLAT " + view_.machine.plat->to_string() + ")";
    ports_.notifier.status(text);
    ports_.status.publish(view_);
}

void Agent::finish(int code) {
    exit_code_ = code;
    ports_.notifier.stopping();
    ports_.observer.stop();
    ports_.discovery.stop();
    ports_.solicitor.cancel();
    ports_.dad.cancel();
    ports_.timers.cancel_all();
    ports_.firewall.watch(std::chrono::milliseconds(0), {});
    spdlog::info("exit code={}", code);
    io_.stop();
}

}  // namespace clat
