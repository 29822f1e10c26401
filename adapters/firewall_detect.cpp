#include "adapters/firewall_detect.hpp"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#include "adapters/firewall_internal.hpp"

namespace clat::firewall {
namespace {

/// The executable command names, as a shell would find it; empty when there is none.
std::string resolve(const std::string& command) {
    if (command.empty())
        return {};
    if (command.find('/') != std::string::npos)
        return ::access(command.c_str(), X_OK) == 0 ? command : std::string();
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        auto end = dirs.find(':', start);
        if (end == std::string::npos)
            end = dirs.size();
        const auto dir = dirs.substr(start, end - start);
        const auto candidate = dir + "/" + command;
        if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0)
            return candidate;
        start = end + 1;
    }
    return {};
}

/// The file a command finally is (Debian's ip6tables is a chain of links to
/// xtables-nft-multi or xtables-legacy-multi).
std::string real_file(const std::string& command) {
    const auto found = resolve(command);
    if (found.empty())
        return {};
    char buffer[PATH_MAX];
    return ::realpath(found.c_str(), buffer) ? std::string(buffer) : found;
}

std::vector<op::FirewallRule> of_backend(const std::vector<op::FirewallRule>& ours,
                                         op::FirewallBackend backend, const std::string& tool) {
    std::vector<op::FirewallRule> out;
    for (const auto& rule : ours) {
        if (rule.backend == backend && rule.tool == tool)
            out.push_back(rule);
    }
    return out;
}

/// Adds target when state says it drops (or always, for an explicit one), with its lost
/// rules; a tool that failed is a target too, and a problem.
void consider(FirewallInspection& out, const op::FirewallTarget& target,
              const Result<BackendState>& state, bool always) {
    if (!state) {
        out.problems.push_back(state.error().message);
        out.targets.push_back(target);
        return;
    }
    if (!always && !state->drops)
        return;
    out.targets.push_back(target);
    out.lost.insert(out.lost.end(), state->lost.begin(), state->lost.end());
}

}  // namespace

// The file lists the tables instantiated in this namespace; ip6tables-legacy creates one on
// first use.
bool legacy_filter_in_use() {
    // thread-self: the calling thread's namespace (a test may setns() one thread).
    std::ifstream names("/proc/thread-self/net/ip6_tables_names");
    std::string line;
    while (std::getline(names, line)) {
        if (line == "filter")
            return true;
    }
    return false;
}

std::string legacy_tool(const Config& config) {
    constexpr const char* kLegacy = "ip6tables-legacy";
    const auto slash = config.cmd_ip6tables.rfind('/');
    if (slash != std::string::npos) {
        const auto beside = config.cmd_ip6tables.substr(0, slash + 1) + kLegacy;
        if (::access(beside.c_str(), X_OK) == 0)
            return beside;
    }
    return resolve(kLegacy).empty() ? std::string() : std::string(kLegacy);
}

FirewallInspection inspect(const Config& config, const std::vector<op::FirewallRule>& ours) {
    using op::FirewallBackend;
    FirewallInspection out;
    if (config.ip6tables_enable == true) {
        const op::FirewallTarget target{FirewallBackend::kIp6tables, config.cmd_ip6tables};
        consider(out, target,
                 ip6tables_state(target.tool, of_backend(ours, target.backend, target.tool)), true);
        return out;
    }
    const std::string legacy = config.ip6tables_enable ? std::string() : legacy_tool(config);
    if (!resolve(config.cmd_nft).empty()) {
        const op::FirewallTarget target{FirewallBackend::kNftables, config.cmd_nft};
        consider(out, target, nft_state(target.tool, of_backend(ours, target.backend, target.tool)),
                 false);
    } else if (!config.ip6tables_enable && !resolve(config.cmd_ip6tables).empty() &&
               (legacy.empty() || real_file(config.cmd_ip6tables) != real_file(legacy))) {
        const op::FirewallTarget target{FirewallBackend::kIp6tables, config.cmd_ip6tables};
        consider(out, target,
                 ip6tables_state(target.tool, of_backend(ours, target.backend, target.tool)),
                 false);
    }
    if (!legacy.empty() && legacy_filter_in_use()) {
        const op::FirewallTarget target{FirewallBackend::kIp6tablesLegacy, legacy};
        consider(out, target,
                 ip6tables_state(target.tool, of_backend(ours, target.backend, target.tool)),
                 false);
    }
    return out;
}

}  // namespace clat::firewall
