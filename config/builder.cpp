#include "config/builder.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <type_traits>

#include "config/values.hpp"

namespace clat::config {
namespace {

constexpr int kMaxVerbosity = 9;
constexpr std::uint32_t kSharedModeMark = 0xc1a7;

using Setter = Status (*)(Config&, std::string_view);
using Resetter = void (*)(Config&);

struct KeyDef {
    std::string_view name;
    Setter set;
    Resetter reset;
};

template <auto M>
void reset(Config& c) {
    c.*M = Config{}.*M;
}

template <auto M>
using FieldType = std::remove_reference_t<decltype(std::declval<Config&>().*M)>;

template <auto M>
Status set_bool(Config& c, std::string_view v) {
    auto r = parse_bool(v);
    if (!r)
        return r.error();
    c.*M = *r;
    return Ok{};
}

template <auto M, std::uint32_t Max = UINT32_MAX>
Status set_uint(Config& c, std::string_view v) {
    auto r = parse_uint(v, Max);
    if (!r)
        return r.error();
    c.*M = static_cast<FieldType<M>>(*r);
    return Ok{};
}

template <auto M>
Status set_string(Config& c, std::string_view v) {
    c.*M = std::string(v);
    return Ok{};
}

template <auto M>
Status set_ifname(Config& c, std::string_view v) {
    auto r = parse_ifname(v);
    if (!r)
        return r.error();
    c.*M = *r;
    return Ok{};
}

template <auto M>
Status set_script(Config& c, std::string_view v) {
    auto r = parse_script(v);
    if (!r)
        return r.error();
    c.*M = *r;
    return Ok{};
}

template <auto M>
Status set_host_ipv4(Config& c, std::string_view v) {
    auto r = parse_ipv4(v);
    if (!r)
        return r.error();
    if (r->is_unspecified())
        return make_error(std::string(v) + " is not a host address");
    c.*M = *r;
    return Ok{};
}

template <auto M>
Status set_prefix(Config& c, std::string_view v) {
    auto r = parse_rfc6052_prefix(v);
    if (!r)
        return r.error();
    c.*M = *r;
    return Ok{};
}

Status set_clat_v6_addr(Config& c, std::string_view v) {
    std::string word(v);
    std::transform(word.begin(), word.end(), word.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (word == "derived") {
        c.clat_v6_addr = ClatV6Derived{};
    } else if (word == "shared") {
        c.clat_v6_addr = ClatV6Shared{};
    } else if (Ipv6Address::parse(v)) {
        auto a = parse_ipv6_unicast(v);
        if (!a)
            return a.error();
        c.clat_v6_addr = *a;
    } else {
        return make_error("'" + std::string(v) + "' is not an IPv6 address, 'derived' or 'shared'");
    }
    return Ok{};
}

Status set_dns64_servers(Config& c, std::string_view v) {
    auto r = parse_address_list(v);
    if (!r)
        return r.error();
    c.dns64_servers = *r;
    return Ok{};
}

Status set_mtu(Config& c, std::string_view v) {
    auto r = parse_uint(v);
    if (!r)
        return r.error();
    // 68 is the smallest MTU an IPv4 link may have (RFC 791); 0 means "no MTU on the route".
    if (*r != 0 && (*r < 68 || *r > 65535))
        return make_error(std::string(v) + " is not 0 or an MTU from 68 to 65535");
    c.v4_defaultroute_mtu = *r;
    return Ok{};
}

Status set_advmss(Config& c, std::string_view v) {
    auto r = parse_uint(v, 65535);
    if (!r)
        return r.error();
    // As in Perl clatd, 0 means "derive from the MTU".
    c.v4_defaultroute_advmss = *r == 0 ? std::nullopt : std::optional<std::uint32_t>(*r);
    return Ok{};
}

Status set_route_table(Config& c, std::string_view v) {
    auto r = parse_uint(v);
    if (!r)
        return r.error();
    if (*r == 0)
        return make_error("0 is not a routing table (RT_TABLE_UNSPEC)");
    c.route_table = *r;
    return Ok{};
}

// A POSIX portable group name, as useradd(8) accepts it: the D-Bus check compares names.
Status set_group_name(Config& c, std::string_view v) {
    auto ok_char = [](char ch, bool first) {
        return (ch >= 'a' && ch <= 'z') || ch == '_' ||
               (!first && ((ch >= '0' && ch <= '9') || ch == '-' || (ch >= 'A' && ch <= 'Z')));
    };
    if (v.size() > 32)
        return make_error("'" + std::string(v) + "' is not a group name (too long)");
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (!ok_char(v[i], i == 0))
            return make_error("'" + std::string(v) + "' is not a group name");
    }
    c.dbus_admin_group = std::string(v);
    return Ok{};
}

// Below 10 ms the back-off would spin; above 60 s the cap (60x) would exceed an hour.
constexpr std::uint32_t kMinRestartDelayMs = 10;
constexpr std::uint32_t kMaxRestartDelayMs = 60'000;

Status set_restart_delay(Config& c, std::string_view v) {
    auto r = parse_seconds_ms(v, kMinRestartDelayMs, kMaxRestartDelayMs);
    if (!r)
        return r.error();
    c.tayga_restart_delay_ms = *r;
    return Ok{};
}

// An absolute path naming a file: the metrics are renamed into place, so the directory is the
// file's parent and must be known; a relative path would depend on the agent's working
// directory.
Status set_metrics_file(Config& c, std::string_view v) {
    if (v.front() != '/')
        return make_error("'" + std::string(v) + "' is not an absolute path");
    const std::string_view name = v.substr(v.rfind('/') + 1);
    if (name.empty() || name == "." || name == "..")
        return make_error("'" + std::string(v) + "' does not name a file");
    c.metrics_file = std::string(v);
    return Ok{};
}

// At most a day: the file carries the state of a live agent, and the collector reads it at
// every scrape.
constexpr std::uint32_t kMaxMetricsInterval = 86'400;

Status set_metrics_interval(Config& c, std::string_view v) {
    auto r = parse_uint(v);
    if (!r)
        return r.error();
    if (*r == 0 || *r > kMaxMetricsInterval)
        return make_error("'" + std::string(v) + "' is out of range (1 to " +
                          std::to_string(kMaxMetricsInterval) + " seconds)");
    c.metrics_interval = *r;
    return Ok{};
}

// At most a day, as metrics-interval: a longer script is a hung one.
constexpr std::uint32_t kMaxScriptTimeout = 86'400;

Status set_script_timeout(Config& c, std::string_view v) {
    auto r = parse_uint(v);
    if (!r)
        return r.error();
    if (*r > kMaxScriptTimeout)
        return make_error("'" + std::string(v) + "' is out of range (0 to " +
                          std::to_string(kMaxScriptTimeout) + " seconds, 0: no limit)");
    c.script_timeout = *r;
    return Ok{};
}

Status set_data_path(Config& c, std::string_view v) {
    if (v == "auto")
        c.data_path = DataPathMode::kAuto;
    else if (v == "bpf")
        c.data_path = DataPathMode::kBpf;
    else if (v == "tayga")
        c.data_path = DataPathMode::kTayga;
    else
        return make_error("'" + std::string(v) + "' is not auto, bpf or tayga");
    return Ok{};
}

Status add_tayga_extra(Config& c, std::string_view v) {
    c.tayga_extra.emplace_back(v);
    return Ok{};
}

// Perl clatd's manual order, with the keys of Perl clatd 2.x and the new keys in place.
constexpr std::array kKeys{
    KeyDef{"quiet", set_uint<&Config::quiet, kMaxVerbosity>, reset<&Config::quiet>},
    KeyDef{"debug", set_uint<&Config::debug, kMaxVerbosity>, reset<&Config::debug>},
    KeyDef{"script-up", set_script<&Config::script_up>, reset<&Config::script_up>},
    KeyDef{"script-down", set_script<&Config::script_down>, reset<&Config::script_down>},
    KeyDef{"script-timeout", set_script_timeout, reset<&Config::script_timeout>},
    KeyDef{"clat-dev", set_ifname<&Config::clat_dev>, reset<&Config::clat_dev>},
    KeyDef{"clat-v4-addr", set_host_ipv4<&Config::clat_v4_addr>, reset<&Config::clat_v4_addr>},
    KeyDef{"clat-v6-addr", set_clat_v6_addr, reset<&Config::clat_v6_addr>},
    KeyDef{"dns64-servers", set_dns64_servers, reset<&Config::dns64_servers>},
    KeyDef{"cmd-ip", set_string<&Config::cmd_ip>, reset<&Config::cmd_ip>},
    KeyDef{"cmd-ip6tables", set_string<&Config::cmd_ip6tables>, reset<&Config::cmd_ip6tables>},
    KeyDef{"cmd-nft", set_string<&Config::cmd_nft>, reset<&Config::cmd_nft>},
    KeyDef{"cmd-tayga", set_string<&Config::cmd_tayga>, reset<&Config::cmd_tayga>},
    KeyDef{"forwarding-enable", set_bool<&Config::forwarding_enable>,
           reset<&Config::forwarding_enable>},
    KeyDef{"ip6tables-enable", set_bool<&Config::ip6tables_enable>,
           reset<&Config::ip6tables_enable>},
    KeyDef{"plat-dev", set_ifname<&Config::plat_dev>, reset<&Config::plat_dev>},
    KeyDef{"plat-prefix", set_prefix<&Config::plat_prefix>, reset<&Config::plat_prefix>},
    KeyDef{"plat-fallback-prefix", set_prefix<&Config::plat_fallback_prefix>,
           reset<&Config::plat_fallback_prefix>},
    KeyDef{"proxynd-enable", set_bool<&Config::proxynd_enable>, reset<&Config::proxynd_enable>},
    KeyDef{"tayga-conffile", set_string<&Config::tayga_conffile>, reset<&Config::tayga_conffile>},
    KeyDef{"tayga-v4-addr", set_host_ipv4<&Config::tayga_v4_addr>, reset<&Config::tayga_v4_addr>},
    KeyDef{"v4-conncheck-enable", set_bool<&Config::v4_conncheck_enable>,
           reset<&Config::v4_conncheck_enable>},
    KeyDef{"v4-conncheck-delay", set_uint<&Config::v4_conncheck_delay>,
           reset<&Config::v4_conncheck_delay>},
    KeyDef{"v4-defaultroute-enable", set_bool<&Config::v4_defaultroute_enable>,
           reset<&Config::v4_defaultroute_enable>},
    KeyDef{"v4-defaultroute-replace", set_bool<&Config::v4_defaultroute_replace>,
           reset<&Config::v4_defaultroute_replace>},
    KeyDef{"v4-defaultroute-metric", set_uint<&Config::v4_defaultroute_metric>,
           reset<&Config::v4_defaultroute_metric>},
    KeyDef{"v4-defaultroute-mtu", set_mtu, reset<&Config::v4_defaultroute_mtu>},
    KeyDef{"v4-defaultroute-advmss", set_advmss, reset<&Config::v4_defaultroute_advmss>},
    KeyDef{"route-table", set_route_table, reset<&Config::route_table>},
    KeyDef{"ctmark", set_uint<&Config::ctmark>, reset<&Config::ctmark>},
    KeyDef{"pref64-enable", set_bool<&Config::pref64_enable>, reset<&Config::pref64_enable>},
    KeyDef{"dad-enable", set_bool<&Config::dad_enable>, reset<&Config::dad_enable>},
    KeyDef{"dbus-admin-group", set_group_name, reset<&Config::dbus_admin_group>},
    KeyDef{"tayga-restart-delay", set_restart_delay, reset<&Config::tayga_restart_delay_ms>},
    KeyDef{"metrics-file", set_metrics_file, reset<&Config::metrics_file>},
    KeyDef{"metrics-interval", set_metrics_interval, reset<&Config::metrics_interval>},
    KeyDef{"data-path", set_data_path, reset<&Config::data_path>},
    KeyDef{"tayga-extra", add_tayga_extra, reset<&Config::tayga_extra>},
};

constexpr auto kKeyNames = [] {
    std::array<std::string_view, kKeys.size()> names{};
    for (std::size_t i = 0; i < kKeys.size(); ++i)
        names[i] = kKeys[i].name;
    return names;
}();

const KeyDef* find_key(std::string_view key) {
    for (const auto& def : kKeys)
        if (def.name == key)
            return &def;
    return nullptr;
}

}  // namespace

std::span<const std::string_view> key_names() {
    return kKeyNames;
}

bool is_known_key(std::string_view key) {
    return find_key(key) != nullptr;
}

Status ConfigBuilder::set(std::string_view key, std::string_view value, std::string_view place) {
    const KeyDef* def = find_key(key);
    if (def == nullptr)
        return make_error(std::string(place) + ": unknown key '" + std::string(key) + "'");
    if (value.empty()) {
        def->reset(config_);
        place_.erase(std::string(key));
        return Ok{};
    }
    // Values are single lines in both formats, as key=value output and the script environment
    // need them to be; YAML could otherwise carry a line break.
    Status s = value.find_first_of("\r\n") == std::string_view::npos
                   ? def->set(config_, value)
                   : Status(make_error("the value must be a single line"));
    if (!s)
        return make_error(std::string(place) + ": key '" + std::string(key) +
                          "': " + s.error().message);
    place_[std::string(key)] = std::string(place);
    return Ok{};
}

void ConfigBuilder::clear_tayga_extra() {
    config_.tayga_extra.clear();
}

void ConfigBuilder::add_verbosity(int quiet, int debug) {
    config_.quiet = std::min(config_.quiet + quiet, kMaxVerbosity);
    config_.debug = std::min(config_.debug + debug, kMaxVerbosity);
}

Result<Config> ConfigBuilder::finish() const {
    Config c = config_;
    // Perl clatd 2.x: a CLAT sharing the host's address needs no Proxy-ND entry, and its
    // traffic is told apart from the host's by a conntrack mark.
    if (std::holds_alternative<ClatV6Shared>(c.clat_v6_addr)) {
        if (!place_.contains("proxynd-enable"))
            c.proxynd_enable = false;
        if (!place_.contains("ctmark"))
            c.ctmark = kSharedModeMark;
        // The eBPF path cannot tell the CLAT's flows from the host's yet (no conntrack
        // marks): shared mode runs TAYGA alone.
        if (c.data_path == DataPathMode::kBpf) {
            const auto it = place_.find("data-path");
            const std::string where = it != place_.end() ? it->second : "configuration";
            return make_error(where +
                              ": key 'data-path': bpf cannot be used with clat-v6-addr=shared "
                              "(shared mode needs data-path=tayga or auto for now)");
        }
        c.data_path = DataPathMode::kTayga;
    }
    if (c.clat_v4_addr == c.tayga_v4_addr) {
        auto it = place_.find("tayga-v4-addr");
        const std::string key = it != place_.end() ? "tayga-v4-addr" : "clat-v4-addr";
        if (it == place_.end())
            it = place_.find("clat-v4-addr");
        const std::string where = it != place_.end() ? it->second : "configuration";
        return make_error(where + ": key '" + key + "': " + c.clat_v4_addr.to_string() +
                          " is used by both clat-v4-addr and tayga-v4-addr");
    }
    return c;
}

}  // namespace clat::config
