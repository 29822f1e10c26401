#pragma once
/// The validated configuration of one CLAT instance: a plain struct, produced by
/// config::load() and consumed by the core. Keys and defaults follow the Perl clatd manual
/// (clatd.conf(5) documents each one).

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "states/ip.hpp"

namespace clat {

/// How the CLAT IPv6 address is chosen (`clat-v6-addr`).
struct ClatV6Derived {
    bool operator==(const ClatV6Derived&) const = default;
};
struct ClatV6Shared {
    bool operator==(const ClatV6Shared&) const = default;
};
using ClatV6Mode = std::variant<ClatV6Derived, ClatV6Shared, Ipv6Address>;

/// What translates the packets (`data-path`): the eBPF programs with TAYGA as their slow path
/// when they load and attach, else TAYGA alone (auto); the eBPF programs or a failed data path
/// (bpf); TAYGA alone (tayga).
enum class DataPathMode { kAuto, kBpf, kTayga };
inline const char* to_string(DataPathMode mode) {
    switch (mode) {
        case DataPathMode::kBpf:
            return "bpf";
        case DataPathMode::kTayga:
            return "tayga";
        case DataPathMode::kAuto:
            break;
    }
    return "auto";
}

struct Config {
    int quiet = 0;
    int debug = 0;
    std::string script_up;
    std::string script_down;
    /// Seconds script-up or script-down may run before its process group is killed; 0: no
    /// limit. The default leaves room for the rest of a stop inside the unit's TimeoutStopSec.
    std::uint32_t script_timeout = 30;
    std::string clat_dev = "clat";
    Ipv4Address clat_v4_addr{{192, 0, 0, 1}};
    ClatV6Mode clat_v6_addr = ClatV6Derived{};
    std::vector<std::string> dns64_servers;  ///< empty: the system resolvers
    std::string cmd_ip = "ip";               ///< accepted for compatibility; never run
    std::string cmd_ip6tables = "ip6tables";
    std::string cmd_nft = "nft";
    std::string cmd_tayga = "tayga";
    bool forwarding_enable = true;
    std::optional<bool> ip6tables_enable;   ///< unset: auto (yes if ip6tables' filter is in use)
    std::optional<std::string> plat_dev;    ///< unset: route lookup towards the prefix
    std::optional<Ipv6Prefix> plat_prefix;  ///< set: discovery disabled
    std::optional<Ipv6Prefix> plat_fallback_prefix;
    bool proxynd_enable = true;  ///< default no when clat-v6-addr=shared
    std::optional<std::string> tayga_conffile;
    Ipv4Address tayga_v4_addr{{192, 0, 0, 2}};
    bool v4_conncheck_enable = true;
    std::uint32_t v4_conncheck_delay = 10;  ///< seconds
    bool v4_defaultroute_enable = true;
    bool v4_defaultroute_replace = false;
    std::uint32_t v4_defaultroute_metric = 2048;
    /// 0: no MTU on the route; unset: 1260 with TAYGA alone, the uplink's IPv6 MTU minus 20
    /// with the eBPF path (kDefaultRouteMtu when that is not known).
    std::optional<std::uint32_t> v4_defaultroute_mtu;
    std::optional<std::uint32_t> v4_defaultroute_advmss;  ///< unset: mtu - 40 (none if mtu 0)
    std::uint32_t route_table = 0xc1a7;
    std::uint32_t ctmark = 0;  ///< default 0xc1a7 when clat-v6-addr=shared
    bool pref64_enable = true;
    bool dad_enable = true;
    std::vector<std::string> tayga_extra;  ///< extra tayga.conf lines, in order
    DataPathMode data_path = DataPathMode::kAuto;
    /// `tayga-restart-delay` (seconds in the file): the first restart delay of a dead
    /// translator, and the time base every other supervision time scales with.
    std::uint32_t tayga_restart_delay_ms = 1000;
    /// Members of this group may call the D-Bus methods besides root; unset: root only.
    std::optional<std::string> dbus_admin_group;
    /// Where the Prometheus metrics are written (node_exporter's textfile collector); unset:
    /// no metrics file.
    std::optional<std::string> metrics_file;
    std::uint32_t metrics_interval = 15;  ///< seconds between rewrites while Running

    /// TAYGA's IPv4 MTU: its IPv6 packets stay within the IPv6 minimum MTU (1280 - 20).
    static constexpr std::uint32_t kDefaultRouteMtu = 1260;

    /// The IPv4 default route's MTU in force: the explicit value, else the one the data path
    /// carries (`path_mtu`: the uplink's IPv6 MTU - 20 for the eBPF path), else 1260.
    std::uint32_t effective_mtu(std::optional<std::uint32_t> path_mtu = std::nullopt) const {
        if (v4_defaultroute_mtu)
            return *v4_defaultroute_mtu;
        return path_mtu.value_or(kDefaultRouteMtu);
    }
    /// The advmss in force: the explicit value, else mtu - 40, else none.
    std::optional<std::uint32_t> effective_advmss(
        std::optional<std::uint32_t> path_mtu = std::nullopt) const {
        if (v4_defaultroute_advmss)
            return v4_defaultroute_advmss;
        if (const std::uint32_t mtu = effective_mtu(path_mtu); mtu > 40)
            return mtu - 40;
        return std::nullopt;
    }
    bool operator==(const Config&) const = default;
};

}  // namespace clat
