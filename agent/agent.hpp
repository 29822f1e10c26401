#pragma once
/// The agent: one CLAT instance on one io_context. It turns what the adapters observe into
/// events for the pure state machine (states/machine.hpp), dispatches them one at a time, and
/// carries out the machine's effects through the adapters: the planner and executor for the
/// kernel, TAYGA for translation, the up/down scripts, DNS64 discovery, sd_notify and D-Bus.
/// Effects never dispatch: whatever they lead to comes back as a posted event.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/child_process.hpp"
#include "adapters/dns64_resolver.hpp"
#include "adapters/netlink_kernel.hpp"
#include "adapters/netlink_observer.hpp"
#include "adapters/router_solicitor.hpp"
#include "adapters/systemd_notify.hpp"
#include "adapters/translator.hpp"
#include "agent/asio.hpp"
#include "agent/executor.hpp"
#include "config/load.hpp"
#include "states/clat_address.hpp"
#include "states/machine.hpp"

namespace clat {

/// A snapshot of what the agent is doing, for D-Bus and STATUS=.
struct AgentView {
    MachineStatus machine;
    std::string plat_dev;
    std::optional<Ipv6Address> clat_v6;
    std::int64_t last_transition_unix_us = 0;
    std::string last_error;
};

/// How often proxy neighbour entries are re-read while proxynd-enable is on: the kernel
/// announces neither their creation nor their removal.
inline constexpr std::chrono::milliseconds kProxyPollInterval{10'000};

class Agent {
  public:
    struct Options {
        config::CommandLine command_line;  ///< kept for reloads (its overrides stay in force)
        std::string runtime_dir;  ///< journal and tayga.conf; "" = $RUNTIME_DIRECTORY or /run/clatd
    };
    /// Called whenever the published view changes.
    using ViewListener = std::function<void(const AgentView&)>;

    Agent(boost::asio::io_context& io, Options options, config::LoadedConfig loaded);
    ~Agent();
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    /// Replays a journal left by a crashed instance, opens netlink and starts observing. The
    /// first evaluation runs on the loop right after; READY=1 follows it.
    Status start();
    /// The process exit code once the loop has stopped.
    int exit_code() const { return exit_code_; }

    /// Reloads the configuration file (SIGHUP, D-Bus). An invalid file changes nothing and
    /// its error is returned; a valid one is applied as a difference.
    Status reload();
    /// Re-runs PLAT discovery now (D-Bus Rediscover()).
    void rediscover();
    const AgentView& view() const { return view_; }
    void on_view_change(ViewListener listener) { view_listener_ = std::move(listener); }
    const Config& config() const { return config_; }

  private:
    // agent.cpp: events, effects, timers, signals, discovery, status.
    void post(Event event);
    void dispatch(const Event& event);
    void run(const Effect& effect);
    MachineFacts facts() const;
    void evaluate();
    void start_timer(Timer timer, std::int64_t delay_ms);
    void start_discovery();
    void stop_discovery();
    void publish_status();
    void finish(int code);
    void arm_signals();
    void watch_proxies();

    // provisioning.cpp: provision, reconcile, DAD, scripts, translator, teardown.
    void begin_provision(const PlatChoice& plat, bool initial);
    void continue_provision(std::uint64_t generation);
    void apply_plan(std::uint64_t generation);
    void run_script_up(std::uint64_t generation);
    void check_dad(std::uint64_t generation);
    void start_translator();
    void restart_translator_if_changed();
    void begin_teardown();
    void teardown_after_translator();
    void teardown_after_script();
    void check_drift();
    Result<std::string> resolve_plat_dev(const Ipv6Prefix& prefix);
    Result<Ipv6Address> choose_clat_address(const std::string& plat_dev, const Ipv6Prefix& prefix);
    std::optional<op::FirewallBackend> firewall_backend() const;
    Result<Plan> make_current_plan();
    std::vector<std::string> script_environment() const;
    TaygaSettings tayga_settings() const;

    boost::asio::io_context& io_;
    Options options_;
    Config config_;
    Machine machine_;
    ChildReaper reaper_;
    std::unique_ptr<NetlinkKernel> kernel_;
    std::unique_ptr<Executor> executor_;
    std::unique_ptr<NetlinkObserver> observer_;
    std::unique_ptr<Dns64Discovery> dns64_;
    std::unique_ptr<RouterSolicitor> solicitor_;  ///< RS for a prompt PREF64 (RFC 8781)
    std::unique_ptr<Translator> translator_;
    std::unique_ptr<ChildProcess> script_;
    SystemdNotifier notifier_;
    boost::asio::signal_set signals_;
    std::map<Timer, std::unique_ptr<boost::asio::steady_timer>> timers_;
    boost::asio::steady_timer dad_timer_;

    // What the agent concluded from the observed state (evaluate()).
    std::optional<std::string> uplink_;
    std::string native_ipv4_;
    std::optional<PlatChoice> pref64_;

    // The CLAT being provisioned or running.
    std::optional<PlatChoice> plat_;
    std::string plat_dev_;
    std::optional<ClatAddressChoice> clat_choice_;  ///< derived address and its origin
    std::optional<Ipv6Address> clat_v6_;
    std::vector<Ipv6Address> dad_avoid_;     ///< addresses that failed DAD
    std::vector<Ipv6Address> dad_verified_;  ///< addresses that passed DAD
    std::optional<Ipv6Address> dad_probe_;   ///< address under DAD right now
    std::optional<UndoJournal::Savepoint> dad_savepoint_;
    int dad_attempts_ = 0;
    bool provisioning_initial_ = false;
    bool provisioned_ = false;  ///< the kernel state is applied (script-up ran)
    bool script_up_ran_ = false;
    std::uint64_t generation_ = 0;  ///< bumped to abandon an in-flight provisioning
    std::optional<TaygaSettings> translator_settings_;
    bool translator_expected_exit_ = false;
    bool tearing_down_ = false;
    std::optional<std::string> teardown_error_;

    AgentView view_;
    ViewListener view_listener_;
    int exit_code_ = 0;
    std::uint64_t timed_notification_ = 0;  ///< last notification logged as reconcile done
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// The agent's monotonic clock in milliseconds (steady_clock since its epoch), the clock
/// every expiry in the core is expressed in.
std::int64_t monotonic_ms();

}  // namespace clat
