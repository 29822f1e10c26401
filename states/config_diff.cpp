#include "states/config_diff.hpp"

#include <tuple>

namespace clat {
namespace {

/// Resets every field a named group covers, so that what is left over compares as `other`.
Config without_known(Config c) {
    const Config defaults;
    c.quiet = c.debug = 0;
    c.dns64_servers = defaults.dns64_servers;
    c.plat_prefix = defaults.plat_prefix;
    c.plat_fallback_prefix = defaults.plat_fallback_prefix;
    c.pref64_enable = defaults.pref64_enable;
    c.clat_dev = defaults.clat_dev;
    c.clat_v4_addr = defaults.clat_v4_addr;
    c.clat_v6_addr = defaults.clat_v6_addr;
    c.plat_dev = defaults.plat_dev;
    c.forwarding_enable = defaults.forwarding_enable;
    c.ip6tables_enable = defaults.ip6tables_enable;
    c.cmd_ip6tables = defaults.cmd_ip6tables;
    c.cmd_nft = defaults.cmd_nft;
    c.proxynd_enable = defaults.proxynd_enable;
    c.v4_defaultroute_enable = defaults.v4_defaultroute_enable;
    c.v4_defaultroute_replace = defaults.v4_defaultroute_replace;
    c.v4_defaultroute_metric = defaults.v4_defaultroute_metric;
    c.v4_defaultroute_mtu = defaults.v4_defaultroute_mtu;
    c.v4_defaultroute_advmss = defaults.v4_defaultroute_advmss;
    c.route_table = defaults.route_table;
    c.ctmark = defaults.ctmark;
    c.dad_enable = defaults.dad_enable;
    c.cmd_tayga = defaults.cmd_tayga;
    c.tayga_conffile = defaults.tayga_conffile;
    c.tayga_v4_addr = defaults.tayga_v4_addr;
    c.tayga_extra = defaults.tayga_extra;
    c.data_path = defaults.data_path;
    c.v4_conncheck_enable = defaults.v4_conncheck_enable;
    c.v4_conncheck_delay = defaults.v4_conncheck_delay;
    c.script_up = defaults.script_up;
    c.script_down = defaults.script_down;
    c.script_timeout = defaults.script_timeout;
    c.tayga_restart_delay_ms = defaults.tayga_restart_delay_ms;
    c.dbus_admin_group = defaults.dbus_admin_group;
    c.metrics_file = defaults.metrics_file;
    c.metrics_interval = defaults.metrics_interval;
    c.cmd_ip = defaults.cmd_ip;  // accepted for compatibility, never run
    return c;
}

auto clat_keys(const Config& c) {
    return std::tie(c.clat_dev, c.clat_v4_addr, c.clat_v6_addr, c.plat_dev, c.forwarding_enable,
                    c.ip6tables_enable, c.cmd_ip6tables, c.cmd_nft, c.proxynd_enable,
                    c.v4_defaultroute_enable, c.v4_defaultroute_replace, c.v4_defaultroute_metric,
                    c.v4_defaultroute_mtu, c.v4_defaultroute_advmss, c.route_table, c.ctmark,
                    c.dad_enable);
}

}  // namespace

std::string ConfigDiff::to_string() const {
    std::string out;
    auto add = [&](bool set, const char* name) {
        if (set)
            out += (out.empty() ? "" : ",") + std::string(name);
    };
    add(logging, "logging");
    add(discovery, "discovery");
    add(clat, "clat");
    add(device, "device");
    add(data_path, "data-path");
    add(probe_v4, "probe-v4");
    add(scripts, "scripts");
    add(supervision, "supervision");
    add(bus, "bus");
    add(proxy_poll, "proxy-poll");
    add(metrics, "metrics");
    add(other, "other");
    return out.empty() ? "none" : out;
}

ConfigDiff diff_config(const Config& a, const Config& b) {
    ConfigDiff d;
    d.logging = a.quiet != b.quiet || a.debug != b.debug;
    d.discovery = a.dns64_servers != b.dns64_servers || a.plat_prefix != b.plat_prefix ||
                  a.plat_fallback_prefix != b.plat_fallback_prefix ||
                  a.pref64_enable != b.pref64_enable;
    d.clat = clat_keys(a) != clat_keys(b);
    d.device = a.clat_dev != b.clat_dev;
    d.data_path = a.cmd_tayga != b.cmd_tayga || a.tayga_conffile != b.tayga_conffile ||
                  a.tayga_v4_addr != b.tayga_v4_addr || a.tayga_extra != b.tayga_extra ||
                  a.clat_v4_addr != b.clat_v4_addr || a.clat_dev != b.clat_dev ||
                  a.data_path != b.data_path;
    d.probe_v4 = a.v4_conncheck_enable != b.v4_conncheck_enable ||
                 a.v4_conncheck_delay != b.v4_conncheck_delay ||
                 a.v4_defaultroute_replace != b.v4_defaultroute_replace;
    d.scripts = a.script_up != b.script_up || a.script_down != b.script_down ||
                a.script_timeout != b.script_timeout;
    d.supervision = a.tayga_restart_delay_ms != b.tayga_restart_delay_ms;
    d.bus = a.dbus_admin_group != b.dbus_admin_group;
    d.proxy_poll = a.proxynd_enable != b.proxynd_enable;
    d.metrics = a.metrics_file != b.metrics_file || a.metrics_interval != b.metrics_interval;
    d.other = without_known(a) != without_known(b);
    return d;
}

}  // namespace clat
