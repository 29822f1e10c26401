#pragma once
/// Fake ports for the agent's unit tests (no root): a little kernel whose changes show up in
/// the fake observer's state (as the real kernel's echo does), discovery, data path, scripts
/// and timers the test drives by hand, a manual clock, and recorders for sd_notify and the
/// status sink. AgentBed wires them to a real Agent on a real io_context, which the tests step
/// until nothing is left to run, under a fail-safe bound.

#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "agent/agent.hpp"
#include "tests/values.hpp"

namespace clat::test {

/// The observer: holds the observed state; the test (or the fake kernel) calls changed().
class FakeObserver final : public ObserverPort {
  public:
    explicit FakeObserver(boost::asio::io_context& io) : io_(io) {}
    Status start(std::function<void()> on_change) override {
        on_change_ = std::move(on_change);
        return Ok{};
    }
    void stop() override { on_change_ = nullptr; }
    const Observed& observed() const override { return state; }
    Result<bool> refresh_proxies() override {
        ++proxy_refreshes;
        return false;
    }
    void set_proxy_poll(std::chrono::milliseconds interval) override { proxy_poll = interval; }
    void sync() override { ++syncs; }
    void set_interest(const ObservationInterest& wanted) override { interest = wanted; }
    Result<RouteLookup> lookup_route(const Ipv6Address&) override {
        ++lookups;
        if (route_error)
            return make_error(*route_error);
        return RouteLookup{2, "eth0", std::nullopt};
    }
    /// A burst of changes: the callback is posted, as the real observer does.
    void changed() {
        boost::asio::post(io_, [this] {
            if (on_change_)
                on_change_();
        });
    }

    Observed state;
    int proxy_refreshes = 0;
    int lookups = 0;
    int syncs = 0;
    std::optional<ObservationInterest> interest;
    std::optional<std::string> route_error;
    std::chrono::milliseconds proxy_poll{-1};

  private:
    boost::asio::io_context& io_;
    std::function<void()> on_change_;
};

/// A kernel whose objects live in the fake observer's state: links, addresses, routes and
/// proxies change there, sysctls in a map. Every apply is logged as text; one can be made to
/// fail. Each apply notifies the observer, like the kernel's netlink echo.
class FakeKernel final : public KernelPort {
  public:
    explicit FakeKernel(FakeObserver& observer) : observer_(observer) {}
    Result<ApplyOutcome> apply(const Operation& op) override;
    Result<std::string> read_sysctl(const std::string& path) override {
        ++sysctl_reads;
        auto it = sysctls.find(path);
        if (it == sysctls.end())
            return make_error("no sysctl " + path);
        return it->second;
    }
    /// A foreign route's "message" is the text of its removal, which RestoreRoute parses back.
    Result<std::vector<std::uint8_t>> save_route(const op::RemoveForeignRouteV4& o) override;
    int count(const std::string& prefix) const {
        return static_cast<int>(std::count_if(
            log.begin(), log.end(), [&](const auto& line) { return line.rfind(prefix, 0) == 0; }));
    }

    std::map<std::string, std::string> sysctls = {
        {"net/ipv6/conf/all/forwarding", "0"},    {"net/ipv6/conf/all/accept_ra", "1"},
        {"net/ipv6/conf/default/accept_ra", "1"}, {"net/ipv6/conf/eth0/accept_ra", "1"},
        {"net/ipv6/conf/eth0/proxy_ndp", "0"},    {"net/ipv6/neigh/eth0/proxy_delay", "80"}};
    std::vector<std::string> log;  ///< every apply, in order, as text
    std::string fail_prefix;       ///< fail applies whose text starts with this; "": none
    int failures_left = 0;         ///< how many more times fail_prefix fails
    int sysctl_reads = 0;
    bool dad_instant = false;                      ///< addresses with DAD come up usable at once
    std::vector<op::FirewallRule> firewall_rules;  ///< accept rules in place, any backend

  private:
    FakeObserver& observer_;
    int next_index_ = 10;
    Result<ApplyOutcome> change(const Operation& op);
    int index_of(const std::string& dev) const {
        const Link* link = observer_.state.link_by_name(dev);
        return link != nullptr ? link->index : 0;
    }
};

/// Discovery: records what the agent asked for; the test reports prefixes through report().
class FakeDiscovery final : public PlatDiscoveryPort {
  public:
    void subscribe(EventSink sink) override { sink_ = std::move(sink); }
    void configure(const DiscoverySettings& s) override { settings.push_back(s); }
    void start() override { ++starts; }
    void stop() override { ++stops; }
    void report(Event event) { sink_(std::move(event)); }
    std::vector<DiscoverySettings> settings;
    int starts = 0;
    int stops = 0;

  private:
    EventSink sink_;
};

class FakeSolicitor final : public RouterSolicitorPort {
  public:
    void solicit(int, std::string ifname) override { solicited.push_back(std::move(ifname)); }
    void cancel() override { ++cancels; }
    std::vector<std::string> solicited;
    int cancels = 0;
};

/// DAD: records each probe; the test decides its outcome (AgentBed::dad_outcome).
class FakeDad final : public DadProberPort {
  public:
    void subscribe(EventSink sink) override { sink_ = std::move(sink); }
    Status probe(int, const std::string& dev, const Ipv6Address& address) override {
        if (fail_with)
            return make_error(*fail_with);
        probes.emplace_back(dev, address);
        running = address;
        return Ok{};
    }
    void cancel() override {
        ++cancels;
        running.reset();
    }
    /// Reports the outcome of the running probe of address.
    void finish(const Ipv6Address& address, bool duplicate) {
        REQUIRE_MESSAGE(running == address, "no DAD probe runs for " << address.to_string());
        running.reset();
        sink_(event::DadProbeFinished{address, duplicate,
                                      duplicate ? "neighbour advertisement from fe80::99" : "ok"});
    }
    std::vector<std::pair<std::string, Ipv6Address>> probes;
    std::optional<Ipv6Address> running;
    std::optional<std::string> fail_with;
    int cancels = 0;

  private:
    EventSink sink_;
};

/// The data path: answers start/replace with DataPathStarted (or DataPathExited when told to
/// fail) and stop with DataPathStopped; exit() reports the running run's end.
class FakeDataPath final : public DataPathPort {
  public:
    void subscribe(EventSink sink) override { sink_ = std::move(sink); }
    void configure(const Config&) override { ++configures; }
    void start(const DataPathMapping& m) override { begin("start", m); }
    void replace(const DataPathMapping& m) override { begin("replace", m); }
    void stop() override {
        calls.push_back("stop");
        running_ = false;
        sink_(event::DataPathStopped{});
    }
    DataPathInfo info() const override {
        DataPathInfo info;
        info.backend = "fake";
        info.running = running_;
        if (running_)
            info.process_id = 4000 + static_cast<int>(run_);
        info.follows_uplink_mtu = follows_uplink_mtu;
        return info;
    }
    void exit(const std::string& status) {
        running_ = false;
        sink_(event::DataPathExited{run_, status});
    }
    int count(const std::string& prefix) const {
        return static_cast<int>(std::count_if(
            calls.begin(), calls.end(), [&](const auto& c) { return c.rfind(prefix, 0) == 0; }));
    }
    std::vector<std::string> calls;  ///< "start plat=… clat-v6=…", "replace …", "stop"
    int fail_starts = 0;             ///< the next N starts/replacements fail
    int configures = 0;
    bool follows_uplink_mtu = false;  ///< as the eBPF data path: the route MTU follows the uplink
    bool running() const { return running_; }
    std::optional<DataPathMapping> mapping;

  private:
    void begin(const char* verb, const DataPathMapping& m) {
        calls.push_back(std::string(verb) + " " + m.to_string());
        ++run_;
        if (fail_starts > 0) {
            --fail_starts;
            running_ = false;
            sink_(event::DataPathExited{run_, "failed to start: injected"});
            return;
        }
        running_ = true;
        mapping = m;
        sink_(event::DataPathStarted{run_});
    }
    EventSink sink_;
    std::uint64_t run_ = 0;
    bool running_ = false;
};

/// Scripts: each run is recorded; it succeeds at once unless `hold` is set, then finish()
/// ends it.
class FakeScripts final : public ScriptRunnerPort {
  public:
    void subscribe(EventSink sink) override { sink_ = std::move(sink); }
    void run(ScriptKind kind, const std::string& command,
             const std::vector<std::string>& environment) override {
        runs.push_back(std::string(to_string(kind)) + (command.empty() ? "" : " " + command));
        last_environment = environment;
        environments.push_back(environment);
        running_ = kind;
        if (!hold)
            finish(true, "exited with status 0");
    }
    void cancel() override { ++cancels; }
    void finish(bool success, const std::string& detail) {
        if (running_)
            sink_(event::ScriptFinished{*running_, success, detail});
        running_.reset();
    }
    std::vector<std::string> runs;
    std::vector<std::string> last_environment;
    std::vector<std::vector<std::string>> environments;
    bool hold = false;
    int cancels = 0;

  private:
    EventSink sink_;
    std::optional<ScriptKind> running_;
};

/// Timers on a manual clock: advance() fires what falls due, in order.
class FakeTimers final : public TimerPort {
  public:
    void subscribe(EventSink sink) override { sink_ = std::move(sink); }
    void start(Timer timer, std::int64_t delay_ms) override { due[timer] = now + delay_ms; }
    void cancel(Timer timer) override { due.erase(timer); }
    void cancel_all() override { due.clear(); }
    std::int64_t now_ms() const override { return now; }
    /// Moves the clock forward; every timer due by then fires (earliest first).
    void advance(std::int64_t ms) {
        const std::int64_t until = now + ms;
        for (;;) {
            auto next = std::min_element(due.begin(), due.end(), [](const auto& a, const auto& b) {
                return a.second < b.second;
            });
            if (next == due.end() || next->second > until)
                break;
            now = next->second;
            const Timer timer = next->first;
            due.erase(next);
            sink_(event::TimerExpired{timer});
        }
        now = until;
    }
    bool armed(Timer timer) const { return due.count(timer) != 0; }
    std::int64_t now = 1'000'000;
    std::map<Timer, std::int64_t> due;

  private:
    EventSink sink_;
};

class FakeNotifier final : public NotifierPort {
  public:
    void ready() override { messages.push_back("READY=1"); }
    void status(const std::string& text) override { statuses.push_back(text); }
    void reloading(std::uint64_t usec) override {
        messages.push_back("RELOADING=1 MONOTONIC_USEC=" + std::to_string(usec));
    }
    void stopping() override { messages.push_back("STOPPING=1"); }
    std::vector<std::string> messages;  ///< READY, RELOADING, STOPPING in order
    std::vector<std::string> statuses;
};

/// The firewalls: `targets` is where a drop is in force; a rule is lost when the fake kernel
/// does not hold it. change() is what the watch reports after a flush or a reload.
class FakeFirewall final : public FirewallPort {
  public:
    explicit FakeFirewall(FakeKernel& kernel) : kernel_(kernel) {}
    FirewallInspection inspect(const Config&, const std::vector<op::FirewallRule>& ours) override {
        ++inspections;
        FirewallInspection out;
        out.targets = targets;
        for (const auto& rule : ours) {
            const auto& held = kernel_.firewall_rules;
            const bool targeted =
                std::find(targets.begin(), targets.end(),
                          op::FirewallTarget{rule.backend, rule.tool}) != targets.end();
            if (targeted && std::find(held.begin(), held.end(), rule) == held.end())
                out.lost.push_back(rule);
        }
        return out;
    }
    void watch(std::chrono::milliseconds interval, std::function<void()> on_change) override {
        interval_ms = interval.count();
        on_change_ = std::move(on_change);
    }
    void change() {
        if (on_change_)
            on_change_();
    }
    std::vector<op::FirewallTarget> targets;
    int inspections = 0;
    std::int64_t interval_ms = 0;

  private:
    FakeKernel& kernel_;
    std::function<void()> on_change_;
};

class FakeStatus final : public StatusSink {
  public:
    void publish(const AgentView& view) override { views.push_back(view); }
    void reconfigure(const Config& config) override {
        admin_groups.push_back(config.dbus_admin_group);
        configs.push_back(config);
    }
    std::vector<AgentView> views;
    std::vector<std::optional<std::string>> admin_groups;
    std::vector<Config> configs;  ///< every configuration handed to reconfigure()
};

/// Captures the log lines (debug and up) while it lives; restores the logger's level after.
class LogCapture {
  public:
    LogCapture()
        : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096)),
          level_(spdlog::default_logger()->level()) {
        spdlog::default_logger()->sinks().push_back(sink_);
        spdlog::default_logger()->set_level(spdlog::level::debug);
    }
    ~LogCapture() {
        auto& sinks = spdlog::default_logger()->sinks();
        sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
        spdlog::default_logger()->set_level(level_);
    }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;
    /// Lines containing `text`.
    int count(const std::string& text) const {
        int n = 0;
        for (const auto& line : sink_->last_formatted())
            n += line.find(text) != std::string::npos ? 1 : 0;
        return n;
    }

  private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    spdlog::level::level_enum level_;
};

/// A temporary runtime directory for the undo journal.
class RuntimeDir {
  public:
    RuntimeDir() {
        std::string templ = (std::filesystem::temp_directory_path() / "clat-agent-XXXXXX").string();
        REQUIRE(::mkdtemp(templ.data()) != nullptr);
        path = templ;
    }
    ~RuntimeDir() { std::filesystem::remove_all(path); }
    std::string path;
};

/// The fakes, an Agent over them, and the loop.
struct AgentBed {
    boost::asio::io_context io;
    FakeObserver observer{io};
    FakeKernel kernel{observer};
    FakeDiscovery discovery;
    FakeSolicitor solicitor;
    FakeDad dad;
    FakeDataPath data_path;
    FakeScripts scripts;
    FakeTimers timers;
    FakeNotifier notifier;
    FakeStatus status;
    FakeFirewall firewall{kernel};
    RuntimeDir dir;
    Config config;
    /// What the next reload loads; nullopt: an invalid file.
    std::optional<Config> next_config;
    std::vector<std::pair<int, int>> log_levels;
    /// clat-dev names another instance holds: claiming one fails. claims: every claim asked.
    std::vector<std::string> held_elsewhere;
    std::vector<std::string> claims;
    std::unique_ptr<Agent> agent;

    /// A host with eth0 (SLAAC address, IPv6 default route) and the given configuration
    /// changes applied to the defaults (v4-conncheck off by default, so that a cold start
    /// goes straight to discovery).
    explicit AgentBed(const std::function<void(Config&)>& tweak = {});
    void start();
    /// Runs the loop until nothing is ready; fails the test after 100 000 handlers.
    void settle();
    std::string state() const { return std::string(state_name(agent->machine().state())); }
    /// Reports the DNS64 prefix 2001:db8:64::/96 (TTL 300 s) and settles.
    void discover(const char* prefix = "2001:db8:64::/96");
    /// Sets the DAD outcome of an address on eth0 and settles.
    void dad_outcome(const Ipv6Address& address, bool usable);
    /// The address of the last DAD probe (from the kernel log).
    std::optional<Ipv6Address> last_probe() const;
    /// Reaches Running via DNS64 and a passed DAD.
    void run_to_running();
    AddressV6* address_on_eth0(const Ipv6Address& address);
};

}  // namespace clat::test
