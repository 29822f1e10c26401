#pragma once
/// The agent: one CLAT instance on one io_context. It is a thin runner: it turns what the
/// observer sees into one snapshot of facts per relevant burst, dispatches events to the pure
/// state machine (states/machine.hpp) one at a time, and carries out the machine's effects
/// through its ports (ports/). It keeps no lifecycle state: every phase, step and retry is the
/// machine's. Effects never dispatch: what they lead to comes back as a posted event.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "agent/asio.hpp"
#include "agent/executor.hpp"
#include "config/load.hpp"
#include "ports/dad_prober.hpp"
#include "ports/data_path.hpp"
#include "ports/firewall.hpp"
#include "ports/kernel.hpp"
#include "ports/notifier.hpp"
#include "ports/observer.hpp"
#include "ports/plat_discovery.hpp"
#include "ports/router_solicitor.hpp"
#include "ports/script_runner.hpp"
#include "ports/status_sink.hpp"
#include "ports/timers.hpp"
#include "states/machine.hpp"

namespace clat {

/// How often proxy neighbour entries are re-read while proxynd-enable is on: the kernel
/// announces neither their creation nor their removal.
inline constexpr std::chrono::milliseconds kProxyPollInterval{10'000};

/// How often the firewalls' fingerprint is compared (FirewallPort::watch; no process runs
/// unless it changed): accept rules flushed behind clatd's back are back within this time.
inline constexpr std::chrono::milliseconds kFirewallPollInterval{5'000};

/// Everything the agent talks to. All references must outlive the agent.
struct AgentPorts {
    KernelPort& kernel;
    ObserverPort& observer;
    PlatDiscoveryPort& discovery;
    RouterSolicitorPort& solicitor;
    DadProberPort& dad;
    DataPathPort& data_path;
    ScriptRunnerPort& scripts;
    TimerPort& timers;
    NotifierPort& notifier;
    StatusSink& status;
    FirewallPort& firewall;
};

/// One snapshot of the facts: the relevant part of the observed state, and what was read
/// for it. Sysctls are read at most once per snapshot, when a plan first needs them.
struct Snapshot {
    Observed observed;
    std::optional<PlatRoute> plat_route;
    std::optional<std::map<std::string, std::string>> sysctls;
    std::uint64_t entropy = 0;
};

class Agent {
  public:
    /// Loads the configuration again for a reload (config::load_config with the command line).
    using ConfigLoader = std::function<Result<config::LoadedConfig>()>;
    /// Applies a new log level (quiet, debug).
    using LogLevelSetter = std::function<void(int quiet, int debug)>;

    struct Options {
        ConfigLoader load_config;
        LogLevelSetter set_log_level;
        /// Claims a new clat-dev against other instances before a reload moves to it; an
        /// error rejects the reload. Empty: no claim.
        std::function<Status(const std::string&)> claim_device;
    };

    Agent(boost::asio::io_context& io, AgentPorts ports, Config config, UndoJournal journal,
          Options options);
    ~Agent();
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    /// Replays a journal left by a crashed instance, starts observing; the first evaluation
    /// runs on the loop right after, and READY=1 follows it.
    Status start();
    /// The process exit code once the loop has stopped.
    int exit_code() const { return exit_code_; }
    /// SIGTERM, SIGINT: tear down and exit.
    void stop(const std::string& origin);

    /// Reloads the configuration (SIGHUP and D-Bus alike): an invalid file changes nothing and
    /// its error is returned; a valid one is applied as a difference, each consumer acting on
    /// its part. RELOADING=1 … READY=1 around it.
    Status reload();
    /// Re-runs PLAT discovery now (D-Bus Rediscover()).
    void rediscover();
    const AgentView& view() const { return view_; }
    const Config& config() const { return config_; }
    const Machine& machine() const { return machine_; }

  private:
    // agent.cpp: events, snapshots, reload, status.
    void post(Event event);
    void dispatch(const Event& event);
    void on_observed();
    void take_snapshot();
    Observed relevant_observed() const;
    /// The PLAT devices the relevant subset keeps addresses of (configured, bound, looked up).
    std::vector<std::string> plat_devs() const;
    MachineFacts facts() const;
    void publish_status();
    void finish(int code);
    void apply_consumers(const ConfigDiff& diff);

    // agent_effects.cpp: one function per kind of effect.
    void run(const Effect& effect);
    void start_discovery(const effect::StartDiscovery& e);
    void probe_dad(const effect::ProbeDad& e);
    void apply_plan(const ClatTarget& target);
    Result<Plan> make_current_plan(const ClatTarget& target);
    /// The plan for target against `snapshot`, reading into it what it lacks (sysctls), and
    /// inspecting the firewalls when no inspection is at hand.
    Result<Plan> plan_against(Snapshot& snapshot, const ClatTarget& target);
    /// The IPv4 packet size the data path carries whole towards plat_dev (PlanInput::path_mtu).
    std::optional<std::uint32_t> path_mtu(const Snapshot& snapshot,
                                          const std::string& plat_dev) const;
    /// After a plan was applied: reads the kernel's echo of it and, if it explains the new
    /// state completely, takes it into the snapshot so that its notification plans nothing.
    void absorb_echo(const ClatTarget& target, const Plan& plan);
    void undo_all();
    void refresh_facts();
    /// The watch saw a firewall change: the next plan inspects again.
    void on_firewall_changed();
    /// The backends holding this instance's journalled accept rules (the status).
    std::vector<op::FirewallBackend> firewall_held() const;

    boost::asio::io_context& io_;
    AgentPorts ports_;
    Config config_;
    Options options_;
    Executor executor_;
    Machine machine_;
    Snapshot snapshot_;
    std::mt19937_64 random_;
    /// Marks this instance's firewall rules (16 hex digits, random per start): teardown and a
    /// journal replay remove the rules with this mark only.
    std::string firewall_mark_;
    /// The configuration script-up last ran with: script-down runs with it, so that a reload
    /// (a new clat-dev, say) tears down what was made, not what the new file names.
    std::optional<Config> scripted_config_;
    /// Firewall accept rules found in place: not journalled (not ours), not planned again.
    Plan firewall_in_place_;
    /// The last look at the firewalls (FirewallPort::inspect): kept across snapshots, since
    /// it runs tools; dropped when the watch sees a change, on reload and on teardown.
    std::optional<FirewallInspection> firewall_;
    AgentView view_;
    std::string reload_error_;
    int exit_code_ = 0;
    std::uint64_t timed_notification_ = 0;  ///< last notification logged as reconcile done
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// The agent's monotonic clock in milliseconds (steady_clock since its epoch), the clock
/// every expiry in the core is expressed in.
std::int64_t monotonic_ms();

/// The environment of script-up and script-down: every setting (hyphens → underscores, values
/// as configured or the Perl defaults) with the target's prefix, PLAT device and CLAT address.
std::vector<std::string> script_environment(const Config& config, const ClatTarget& target,
                                            const std::string& tayga_conffile);

}  // namespace clat
