#include "agent/agent.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdlib>

#include "agent/logging.hpp"
#include "states/observation.hpp"

namespace clat {

std::int64_t monotonic_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

namespace {

std::string runtime_dir(const std::string& configured) {
    if (!configured.empty())
        return configured;
    // systemd's RuntimeDirectory= sets this; clatd.service uses RuntimeDirectory=clatd.
    if (const char* dir = std::getenv("RUNTIME_DIRECTORY"); dir != nullptr && *dir != '\0') {
        return dir;
    }
    return std::string(kDefaultJournalDirectory);
}

std::int64_t unix_us_now() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

constexpr int kDns64TryTimeoutMs = 1000;
constexpr int kDns64Tries = 2;

MachineSettings machine_settings(const Config& c) {
    MachineSettings s;
    s.v4_conncheck_enable = c.v4_conncheck_enable;
    s.v4_conncheck_delay_ms = static_cast<std::int64_t>(c.v4_conncheck_delay) * 1000;
    s.v4_defaultroute_replace = c.v4_defaultroute_replace;
    s.pref64_enable = c.pref64_enable;
    s.plat_prefix = c.plat_prefix;
    s.plat_fallback_prefix = c.plat_fallback_prefix;
    s.tayga_restart_delay_ms = c.tayga_restart_delay_ms;
    return s;
}

}  // namespace

Agent::Agent(boost::asio::io_context& io, Options options, config::LoadedConfig loaded)
    : io_(io),
      options_(std::move(options)),
      config_(std::move(loaded.config)),
      reaper_(io),
      notifier_(io),
      signals_(io, SIGINT, SIGTERM, SIGHUP),
      dad_timer_(io) {
    options_.runtime_dir = runtime_dir(options_.runtime_dir);
    for (auto t : {Timer::HoldDown, Timer::ProvisionRetry, Timer::TranslatorRestart}) {
        timers_[t] = std::make_unique<boost::asio::steady_timer>(io);
    }
}

Agent::~Agent() {
    *alive_ = false;
}

Status Agent::start() {
    auto kernel = NetlinkKernel::open();
    if (!kernel)
        return kernel.error();
    kernel_ = std::move(*kernel);
    auto journal = UndoJournal::open(options_.runtime_dir, config_.clat_dev);
    if (!journal)
        return journal.error();
    for (const auto& problem : journal->load_problems())
        spdlog::warn("journal {}", problem);
    const bool leftovers = !journal->pending().empty();
    executor_ = std::make_unique<Executor>(*kernel_, std::move(*journal));
    if (leftovers) {
        spdlog::warn("recover journal={} entries={} reason=left by an instance that did not stop",
                     executor_->journal().path(), executor_->applied().size());
        if (auto recovered = executor_->recover(); !recovered) {
            spdlog::error("recover failed: {}", recovered.error().message);
        }
    }
    translator_ = std::make_unique<Translator>(
        io_, reaper_,
        Translator::Options{config_.cmd_tayga, config_.tayga_conffile, options_.runtime_dir},
        [](const std::string& line) { spdlog::info("tayga: {}", line); });
    observer_ = std::make_unique<NetlinkObserver>(io_, monotonic_ms, [this] { evaluate(); });
    if (auto started = observer_->start(); !started)
        return started.error();
    watch_proxies();

    arm_signals();
    view_.machine = machine_.status();
    view_.last_transition_unix_us = unix_us_now();
    boost::asio::post(io_, [this, alive = alive_] {
        if (!*alive)
            return;
        evaluate();
        publish_status();
        notifier_.ready();
    });
    return Ok{};
}

void Agent::arm_signals() {
    signals_.async_wait([this, alive = alive_](const boost::system::error_code& ec, int signo) {
        if (ec || !*alive)
            return;
        if (signo == SIGHUP) {
            spdlog::info("signal SIGHUP: reload");
            (void)reload();
        } else {
            const char* name = signo == SIGINT ? "SIGINT" : "SIGTERM";
            spdlog::info("signal {}: stop", name);
            notifier_.stopping();
            post(event::StopRequested{name});
        }
        arm_signals();
    });
}

void Agent::post(Event event) {
    boost::asio::post(io_, [this, alive = alive_, event = std::move(event)] {
        if (*alive)
            dispatch(event);
    });
}

MachineFacts Agent::facts() const {
    MachineFacts f;
    f.now_ms = monotonic_ms();
    f.uplink_usable = uplink_.has_value();
    f.native_ipv4 = native_ipv4_;
    f.settings = machine_settings(config_);
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
    } else {
        spdlog::debug("event {} state={} cause={}", event_name(event), after, transition.cause);
    }
    for (const auto& effect : transition.effects) {
        spdlog::debug("effect {}", to_string(effect));
        run(effect);
    }
}

void Agent::run(const Effect& effect) {
    std::visit(
        [this](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, effect::StartTimer>) {
                start_timer(e.timer, e.delay_ms);
            } else if constexpr (std::is_same_v<T, effect::CancelTimer>) {
                timers_.at(e.timer)->cancel();
            } else if constexpr (std::is_same_v<T, effect::StartDiscovery>) {
                start_discovery();
            } else if constexpr (std::is_same_v<T, effect::StopDiscovery>) {
                stop_discovery();
            } else if constexpr (std::is_same_v<T, effect::Provision>) {
                begin_provision(e.plat, true);
            } else if constexpr (std::is_same_v<T, effect::Reconcile>) {
                begin_provision(e.plat, false);
            } else if constexpr (std::is_same_v<T, effect::StartTranslator>) {
                start_translator();
            } else if constexpr (std::is_same_v<T, effect::Teardown>) {
                begin_teardown();
            } else if constexpr (std::is_same_v<T, effect::Exit>) {
                finish(e.code);
            } else if constexpr (std::is_same_v<T, effect::PublishStatus>) {
                publish_status();
            }
        },
        effect);
}

void Agent::start_timer(Timer timer, std::int64_t delay_ms) {
    auto& t = *timers_.at(timer);
    t.expires_after(std::chrono::milliseconds(delay_ms));
    t.async_wait([this, timer, alive = alive_](const boost::system::error_code& ec) {
        if (!ec && *alive)
            dispatch(event::TimerExpired{timer});
    });
}

void Agent::evaluate() {
    const auto& observed = observer_->observed();
    auto uplink = usable_uplink(observed, config_.clat_dev, config_.plat_dev);
    if (uplink != uplink_) {
        spdlog::info("uplink {} {}", uplink ? "usable" : "unusable",
                     uplink ? "dev=" + *uplink : std::string());
        uplink_ = uplink;
        post(event::UplinkChanged{uplink.has_value()});
    }
    auto native = native_ipv4(observed, config_.clat_dev);
    if (native != native_ipv4_) {
        spdlog::info("native-ipv4 {}", native.empty() ? "gone" : native);
        native_ipv4_ = native;
        post(event::NativeIpv4Changed{!native.empty(), native});
    }
    if (config_.pref64_enable) {
        const Link* link = uplink ? observed.link_by_name(*uplink) : nullptr;
        auto pref64 = pref64_choice(observed, link ? link->index : 0, monotonic_ms());
        if (pref64 != pref64_) {
            pref64_ = pref64;
            if (pref64) {
                if (solicitor_)
                    solicitor_->cancel();
                spdlog::info("pref64 prefix={} lifetime={}s", pref64->prefix.to_string(),
                             (*pref64->expires_at_ms - monotonic_ms()) / 1000);
                post(event::PlatDiscovered{PlatSource::Pref64, pref64->prefix,
                                           pref64->expires_at_ms});
            } else {
                spdlog::info("pref64 withdrawn");
                post(event::PlatLost{PlatSource::Pref64, "PREF64 withdrawn or expired"});
            }
        }
    }
    if (dad_probe_)
        check_dad(generation_);
    check_drift();
    // scripts/bench matches this line with the netlink change that caused it (steady µs).
    if (spdlog::should_log(spdlog::level::debug)) {
        const NotificationBatch& batch = observer_->last_notification();
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

void Agent::start_discovery() {
    // A PREF64 heard while idle was ignored by the machine: say it again.
    if (pref64_) {
        post(event::PlatDiscovered{PlatSource::Pref64, pref64_->prefix, pref64_->expires_at_ms});
    }
    // The kernel keeps no RA options: without a solicitation, a PREF64 would come only with
    // the router's next periodic RA (RFC 4861 §6.3.7).
    const Link* uplink = uplink_ ? observer_->observed().link_by_name(*uplink_) : nullptr;
    if (config_.pref64_enable && !pref64_ && !config_.plat_prefix && uplink) {
        if (!solicitor_)
            solicitor_ = std::make_unique<RouterSolicitor>(io_);
        solicitor_->solicit(uplink->index, *uplink_);
    }
    if (config_.plat_prefix)
        return;
    if (!dns64_) {
        Dns64ResolverOptions options;
        options.servers = config_.dns64_servers;
        // c-ares' defaults (5 s, 4 tries, doubling) would hide a silent DNS64 for 75 s, holding
        // back the fallback prefix and the reason; 1 s then 2 s says "timeout" after 3 s, and
        // Dns64Discovery retries with its own back-off after that.
        options.timeout_ms = kDns64TryTimeoutMs;
        options.tries = kDns64Tries;
        auto resolver = Dns64Resolver::create(io_, options);
        if (!resolver) {
            spdlog::error("dns64 cannot start: {}", resolver.error().message);
            post(event::PlatLost{PlatSource::Dns64, resolver.error().message});
            return;
        }
        dns64_ = std::make_unique<Dns64Discovery>(
            io_, std::move(*resolver), [this](const Dns64Plat& plat) {
                if (plat.result) {
                    if (plat.result->ambiguous) {
                        spdlog::warn("dns64 answers hold {} different prefixes; using {}",
                                     plat.result->all.size(), plat.result->prefix.to_string());
                    }
                    spdlog::info("dns64 prefix={} expires-in={}s", plat.result->prefix.to_string(),
                                 (plat.expires_at_ms - monotonic_ms()) / 1000);
                    post(event::PlatDiscovered{PlatSource::Dns64, plat.result->prefix,
                                               plat.expires_at_ms});
                } else {
                    spdlog::info("dns64 none detail={}", plat.detail);
                    post(event::PlatLost{PlatSource::Dns64, plat.detail});
                }
            });
    }
    dns64_->rediscover_now();
}

void Agent::stop_discovery() {
    if (dns64_)
        dns64_->stop();
    if (solicitor_)
        solicitor_->cancel();
}

Status Agent::reload() {
    notifier_.reloading();
    auto loaded = config::load_config(options_.command_line);
    if (!loaded) {
        spdlog::error("reload rejected: {}", loaded.error().message);
        view_.last_error = "reload rejected: " + loaded.error().message;
        publish_status();
        return loaded.error();
    }
    for (const auto& w : loaded->warnings)
        spdlog::warn("{}", w);
    Config old = config_;
    config_ = loaded->config;
    spdlog::default_logger()->set_level(log_level(config_.quiet, config_.debug));
    watch_proxies();
    // Logging, the scripts and the restart back-off take effect as they are used; everything
    // else shapes the CLAT.
    Config a = old;
    Config b = config_;
    for (Config* c : {&a, &b}) {
        c->quiet = c->debug = 0;
        c->script_up.clear();
        c->script_down.clear();
        c->tayga_restart_delay_ms = 0;
    }
    const bool affects = a != b;
    if (old.dns64_servers != config_.dns64_servers)
        dns64_.reset();
    spdlog::info("reload accepted source={} affects-clat={}", loaded->source,
                 affects ? "yes" : "no");
    post(event::ConfigReloaded{affects});
    boost::asio::post(io_, [this, alive = alive_] {
        if (*alive)
            evaluate();
    });
    publish_status();
    return Ok{};
}

void Agent::watch_proxies() {
    // Proxy entries raise no netlink event: with proxynd-enable, poll for one removed behind
    // our back (make_current_plan also re-reads them before every plan).
    observer_->set_proxy_poll(config_.proxynd_enable ? kProxyPollInterval
                                                     : std::chrono::milliseconds(0));
}

void Agent::rediscover() {
    post(event::RediscoverRequested{});
}

void Agent::publish_status() {
    view_.machine = machine_.status();
    view_.plat_dev = plat_dev_;
    view_.clat_v6 = clat_v6_;
    std::string text = view_.machine.state;
    if (!view_.machine.reason.empty())
        text += ": " + view_.machine.reason;
    if (view_.machine.plat)
        text += " (PLAT " + view_.machine.plat->to_string() + ")";
    notifier_.status(text);
    if (view_listener_)
        view_listener_(view_);
}

void Agent::finish(int code) {
    exit_code_ = code;
    notifier_.stopping();
    if (observer_)
        observer_->stop();
    if (dns64_)
        dns64_->stop();
    signals_.cancel();
    dad_timer_.cancel();
    for (auto& [timer, t] : timers_)
        t->cancel();
    spdlog::info("exit code={}", code);
    io_.stop();
}

}  // namespace clat
