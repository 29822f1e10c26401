/// clatd: parses the command line and the configuration, then runs the agent.
/// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.

#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "adapters/asio_timers.hpp"
#include "adapters/bpf_data_path.hpp"
#include "adapters/child_process.hpp"
#include "adapters/dad_prober.hpp"
#include "adapters/device_counters.hpp"
#include "adapters/dns64_plat_discovery.hpp"
#include "adapters/firewall_watch.hpp"
#include "adapters/instance_lock.hpp"
#include "adapters/metrics_exporter.hpp"
#include "adapters/netlink_kernel.hpp"
#include "adapters/netlink_observer.hpp"
#include "adapters/router_solicitor.hpp"
#include "adapters/script_runner.hpp"
#include "adapters/systemd_notify.hpp"
#include "adapters/tayga_data_path.hpp"
#include "agent/agent.hpp"
#include "agent/control_plane.hpp"
#include "agent/logging.hpp"
#include "agent/status_fanout.hpp"
#include "clat_version.hpp"
#include "config/load.hpp"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int usage_error(const std::string& message) {
    std::cerr << "clatd: " << message << '\n';
    return kExitUsage;
}

// Perl clatd: quiet=2 silences warnings too.
void print_warnings(const clat::config::LoadedConfig& loaded) {
    if (loaded.config.quiet >= 2)
        return;
    for (const auto& warning : loaded.warnings)
        std::cerr << "clatd: warning: " << warning << '\n';
}

int check_config(const clat::config::LoadedConfig& loaded) {
    for (const auto& [key, value] : clat::config::effective_settings(loaded.config))
        std::cout << key << '=' << value << '\n';
    return std::cout.flush() ? 0 : kExitFailure;
}

std::string runtime_dir() {
    // systemd's RuntimeDirectory= sets this; clatd.service uses RuntimeDirectory=clatd.
    if (const char* dir = std::getenv("RUNTIME_DIRECTORY"); dir != nullptr && *dir != '\0')
        return dir;
    return std::string(clat::kDefaultJournalDirectory);
}

/// SIGINT/SIGTERM stop the agent, SIGHUP reloads it (the unit's ExecReload), on the loop.
void arm_signals(boost::asio::signal_set& signals, clat::Agent& agent) {
    signals.async_wait([&signals, &agent](const boost::system::error_code& ec, int signo) {
        if (ec)
            return;
        if (signo == SIGHUP) {
            spdlog::info("signal SIGHUP: reload");
            (void)agent.reload();
        } else {
            const char* name = signo == SIGINT ? "SIGINT" : "SIGTERM";
            spdlog::info("signal {}: stop", name);
            agent.stop(name);
        }
        arm_signals(signals, agent);
    });
}

/// Wires the real adapters to the agent and runs it on one io_context until SIGINT/SIGTERM
/// has torn the CLAT down.
int run_agent(const clat::config::CommandLine& cli, clat::config::LoadedConfig loaded) {
    using namespace clat;
    setup_logging(loaded.config.quiet, loaded.config.debug);
    spdlog::info("start version={} config={}", CLATD_VERSION,
                 loaded.source.empty() ? std::string("(none)") : loaded.source);
    const Config& config = loaded.config;
    const std::string run_dir = runtime_dir();
    boost::asio::io_context io;
    // Before anything else: a second instance must not replay a live one's journal or take
    // its device (SPEC §7). The kernel drops both claims when this process dies.
    auto lock = RuntimeDirectoryLock::acquire(run_dir);
    if (!lock) {
        spdlog::error("cannot start: {}", lock.error().message);
        return kExitFailure;
    }
    DeviceClaim device_claim(io);
    if (auto claimed = device_claim.claim(config.clat_dev); !claimed) {
        spdlog::error("cannot start: {}", claimed.error().message);
        return kExitFailure;
    }
    auto kernel = NetlinkKernel::open();
    if (!kernel) {
        spdlog::error("cannot start: {}", kernel.error().message);
        return kExitFailure;
    }
    // The directory is this instance's alone, so the journal is not keyed by clat-dev, which
    // a reload may change.
    auto journal = UndoJournal::open(run_dir, kJournalName);
    if (!journal) {
        spdlog::error("cannot start: {}", journal.error().message);
        return kExitFailure;
    }
    ChildReaper reaper(io);
    NetlinkObserver observer(io, monotonic_ms, [] {});
    Dns64PlatDiscovery discovery(io);
    RouterSolicitor solicitor(io);
    DadProber dad(io);
    TaygaDataPath tayga(io, reaper, run_dir);
    BpfDataPath data_path(io, tayga);
    ScriptRunner scripts(io, reaper);
    AsioTimers timers(io);
    SystemdNotifier notifier(io);
    // D-Bus first, so that READY=1 (after the first evaluation) finds the API up; without a
    // bus the service keeps retrying and the CLAT works regardless (SPEC §8).
    ControlPlane control(io, config, read_device_counters,
                         [&data_path] { return data_path.counters(); });
    MetricsExporter metrics(io, config, read_device_counters, monotonic_ms,
                            [&data_path] { return data_path.counters(); });
    StatusFanout status({&control, &metrics});
    Agent::Options options;
    options.load_config = [cli] { return config::load_config(cli); };
    options.set_log_level = [](int quiet, int debug) {
        spdlog::default_logger()->set_level(log_level(quiet, debug));
    };
    options.claim_device = [&device_claim](const std::string& dev) {
        return device_claim.claim(dev);
    };
    FirewallWatch firewall(io);
    AgentPorts ports{**kernel, observer, discovery, solicitor, dad,     data_path,
                     scripts,  timers,   notifier,  status,    firewall};
    Agent agent(io, ports, config, std::move(*journal), std::move(options));
    control.attach([&agent] { return agent.reload(); }, [&agent] { agent.rediscover(); });
    boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
    arm_signals(signals, agent);
    control.start();
    if (auto started = agent.start(); !started) {
        spdlog::error("cannot start: {}", started.error().message);
        control.stop();
        metrics.stop();
        return kExitFailure;
    }
    io.run();
    control.stop();
    metrics.stop();
    return agent.exit_code();
}

int run_main(int argc, char** argv) {
    auto cli = clat::config::parse_command_line(argc, argv);
    if (!cli)
        return usage_error(cli.error().message);
    if (cli->help) {
        std::cout << clat::config::usage_text();
        return 0;
    }
    if (cli->version) {
        std::cout << "clatd " << CLATD_VERSION << '\n';
        return 0;
    }
    auto loaded = clat::config::load_config(*cli);
    if (!loaded)
        return usage_error(loaded.error().message);
    print_warnings(*loaded);
    if (cli->check_config)
        return check_config(*loaded);
    return run_agent(*cli, std::move(*loaded));
}

}  // namespace

int main(int argc, char** argv) {
    // The layers below report errors as values; this only catches what escapes them
    // (std::bad_alloc, an I/O stream failure).
    try {
        return run_main(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "clatd: " << e.what() << '\n';
        return kExitFailure;
    }
}
