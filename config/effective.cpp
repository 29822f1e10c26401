#include <cstdio>

#include "config/load.hpp"
#include "config/values.hpp"

namespace clat::config {
namespace {

std::string yes_no(bool b) {
    return b ? "yes" : "no";
}

std::string hex(std::uint32_t v) {
    if (v == 0)
        return "0";
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "0x%x", v);
    return buffer;
}

std::string clat_v6_text(const ClatV6Mode& mode) {
    if (std::holds_alternative<ClatV6Shared>(mode))
        return "shared";
    if (const auto* a = std::get_if<Ipv6Address>(&mode))
        return a->to_string();
    return "derived";
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "" : ",") + item;
    return out;
}

template <typename T, typename F>
std::string optional_text(const std::optional<T>& v, F&& format) {
    return v ? format(*v) : std::string();
}

}  // namespace

std::vector<std::pair<std::string, std::string>> effective_settings(const Config& c) {
    auto prefix = [](const Ipv6Prefix& p) { return p.to_string(); };
    auto number = [](std::uint32_t n) { return std::to_string(n); };
    auto text = [](const std::string& s) { return s; };
    std::vector<std::pair<std::string, std::string>> out{
        {"quiet", std::to_string(c.quiet)},
        {"debug", std::to_string(c.debug)},
        {"script-up", c.script_up},
        {"script-down", c.script_down},
        {"script-timeout", std::to_string(c.script_timeout)},
        {"clat-dev", c.clat_dev},
        {"clat-v4-addr", c.clat_v4_addr.to_string()},
        {"clat-v6-addr", clat_v6_text(c.clat_v6_addr)},
        {"dns64-servers", join(c.dns64_servers)},
        {"cmd-ip", c.cmd_ip},
        {"cmd-ip6tables", c.cmd_ip6tables},
        {"cmd-nft", c.cmd_nft},
        {"cmd-tayga", c.cmd_tayga},
        {"forwarding-enable", yes_no(c.forwarding_enable)},
        {"ip6tables-enable", optional_text(c.ip6tables_enable, yes_no)},
        {"plat-dev", optional_text(c.plat_dev, text)},
        {"plat-prefix", optional_text(c.plat_prefix, prefix)},
        {"plat-fallback-prefix", optional_text(c.plat_fallback_prefix, prefix)},
        {"proxynd-enable", yes_no(c.proxynd_enable)},
        {"tayga-conffile", optional_text(c.tayga_conffile, text)},
        {"tayga-v4-addr", c.tayga_v4_addr.to_string()},
        {"v4-conncheck-enable", yes_no(c.v4_conncheck_enable)},
        {"v4-conncheck-delay", std::to_string(c.v4_conncheck_delay)},
        {"v4-defaultroute-enable", yes_no(c.v4_defaultroute_enable)},
        {"v4-defaultroute-replace", yes_no(c.v4_defaultroute_replace)},
        {"v4-defaultroute-metric", std::to_string(c.v4_defaultroute_metric)},
        {"v4-defaultroute-mtu", optional_text(c.v4_defaultroute_mtu, number)},
        {"v4-defaultroute-advmss", optional_text(c.effective_advmss(), number)},
        {"route-table", hex(c.route_table)},
        {"ctmark", hex(c.ctmark)},
        {"pref64-enable", yes_no(c.pref64_enable)},
        {"dad-enable", yes_no(c.dad_enable)},
        {"dbus-admin-group", optional_text(c.dbus_admin_group, text)},
        {"tayga-restart-delay", seconds_text(c.tayga_restart_delay_ms)},
        {"metrics-file", optional_text(c.metrics_file, text)},
        {"metrics-interval", std::to_string(c.metrics_interval)},
        {"data-path", to_string(c.data_path)},
    };
    if (c.tayga_extra.empty())
        out.emplace_back("tayga-extra", "");
    for (const auto& line : c.tayga_extra)
        out.emplace_back("tayga-extra", line);
    return out;
}

}  // namespace clat::config
