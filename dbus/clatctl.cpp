/// clatctl: the command-line client of clatd's D-Bus API (SPEC §8). It talks to net.clatd on
/// the system bus ($DBUS_SYSTEM_BUS_ADDRESS overrides the address). Exit codes: see
/// ExitCode and clatctl(8).

#include <systemd/sd-bus.h>

#include <iostream>
#include <string>
#include <string_view>

#include "clat_version.hpp"
#include "dbus/ctl_bus.hpp"
#include "dbus/ctl_format.hpp"
#include "dbus/ctl_monitor.hpp"
#include "dbus/names.hpp"

namespace {

using namespace clat::dbus;

constexpr const char* kUsage = R"(Usage: clatctl [OPTIONS] COMMAND

Query and control clatd, the CLAT agent, over D-Bus.

Commands:
  status [--json]    Show the agent's state, PLAT prefix, addresses and counters
  reload             Make the agent re-read its configuration
  rediscover         Make the agent re-run PLAT prefix discovery now
  monitor [--json]   Print every change of the agent's state as it happens

Options:
  --json             One JSON object (status) or one object per line (monitor)
  -h, --help         Show this help and exit
  --version          Show the version and exit

Exit status: 0 ok, 1 failure, 2 usage error, 3 agent not running or bus unreachable,
4 access denied, 5 reload rejected. See clatctl(8).
)";

int usage_error(const std::string& message) {
    std::cerr << "clatctl: " << message << "\nTry 'clatctl --help'.\n";
    return kExitUsage;
}

int run_status(bool json) {
    Bus bus;
    PropertyMap values;
    int code = bus.open();
    if (code == kExitOk)
        code = get_all(bus.get(), values);
    if (code != kExitOk)
        return code;
    if (json)
        std::cout << json_object(values) << '\n';
    else
        std::cout << human_status(values, now_seconds());
    return std::cout.flush() ? kExitOk : kExitFailure;
}

int run_method(const char* method) {
    Bus bus;
    if (const int code = bus.open(); code != kExitOk)
        return code;
    sd_bus_error error{};  // SD_BUS_ERROR_NULL, without the C compound literal
    const int r = sd_bus_call_method(bus.get(), kBusName, kObjectPath, kInterface, method, &error,
                                     nullptr, "");
    const int code = r < 0 ? call_failed(error, r, std::string(method) + "()") : kExitOk;
    sd_bus_error_free(&error);
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    bool json = false;
    std::string command;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::cout << kUsage;
            return kExitOk;
        }
        if (arg == "--version") {
            std::cout << "clatctl " << CLATD_VERSION << '\n';
            return kExitOk;
        }
        if (arg == "--json")
            json = true;
        else if (arg.starts_with('-'))
            return usage_error("unknown option '" + std::string(arg) + "'");
        else if (command.empty())
            command = arg;
        else
            return usage_error("unexpected argument '" + std::string(arg) + "'");
    }
    if (command.empty())
        return usage_error("missing command");
    if (json && command != "status" && command != "monitor")
        return usage_error("--json applies to status and monitor only");
    if (command == "status")
        return run_status(json);
    if (command == "reload")
        return run_method("Reload");
    if (command == "rediscover")
        return run_method("Rediscover");
    if (command == "monitor")
        return run_monitor(json);
    return usage_error("unknown command '" + command + "'");
}
