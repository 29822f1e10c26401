/// clatd: parses the command line and the configuration, then runs the agent.
/// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.

#include <exception>
#include <iostream>
#include <string>

#include "agent/agent.hpp"
#include "agent/control_plane.hpp"
#include "agent/logging.hpp"
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

/// Runs the agent on one io_context until SIGINT/SIGTERM has torn the CLAT down.
int run_agent(const clat::config::CommandLine& cli, clat::config::LoadedConfig loaded) {
    clat::setup_logging(loaded.config.quiet, loaded.config.debug);
    spdlog::info("start version={} config={}", CLATD_VERSION,
                 loaded.source.empty() ? std::string("(none)") : loaded.source);
    boost::asio::io_context io;
    clat::Agent agent(io, clat::Agent::Options{cli, ""}, std::move(loaded));
    // D-Bus first, so that READY=1 (after the first evaluation) finds the API up; without a
    // bus the service keeps retrying and the CLAT works regardless (SPEC §8).
    clat::ControlPlane control(io, agent);
    control.start();
    if (auto started = agent.start(); !started) {
        spdlog::error("cannot start: {}", started.error().message);
        control.stop();
        return kExitFailure;
    }
    io.run();
    control.stop();
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
