#include "adapters/firewall_detect.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace clat {
namespace {

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

}  // namespace

std::optional<op::FirewallBackend> detect_firewall_backend(const Config& config) {
    if (config.ip6tables_enable == true)
        return op::FirewallBackend::kIp6tables;
    if (is_executable(config.cmd_nft))
        return op::FirewallBackend::kNftables;
    if (!config.ip6tables_enable && is_executable(config.cmd_ip6tables))
        return op::FirewallBackend::kIp6tables;
    return std::nullopt;
}

}  // namespace clat
