#include <doctest/doctest.h>

#include <functional>
#include <set>

#include "config/builder.hpp"
#include "config/load.hpp"

using namespace clat;
using namespace clat::config;

namespace clat::test {
namespace {

Config parse_ok(std::string_view text, const CommandLine& cli = {}) {
    auto r = parse_config_text(text, "test.conf", cli);
    if (!r.ok())
        FAIL_CHECK(r.error().message);
    REQUIRE(r.ok());
    return r->config;
}

std::string parse_error(std::string_view text) {
    auto r = parse_config_text(text, "test.conf");
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

Ipv6Prefix prefix(const char* text) {
    return *Ipv6Prefix::parse(text);
}

struct KeyCase {
    const char* setting;
    std::function<bool(const Config&)> holds;
};

}  // namespace

TEST_CASE("the defaults are Perl clatd's") {
    const Config c = parse_ok("");
    CHECK(c == Config{});
    CHECK(c.quiet == 0);
    CHECK(c.debug == 0);
    CHECK(c.clat_dev == "clat");
    CHECK(c.clat_v4_addr.to_string() == "192.0.0.1");
    CHECK(c.tayga_v4_addr.to_string() == "192.0.0.2");
    CHECK(std::holds_alternative<ClatV6Derived>(c.clat_v6_addr));
    CHECK(c.cmd_ip == "ip");
    CHECK(c.cmd_tayga == "tayga");
    CHECK(c.forwarding_enable);
    CHECK_FALSE(c.ip6tables_enable.has_value());
    CHECK(c.proxynd_enable);
    CHECK(c.v4_conncheck_enable);
    CHECK(c.v4_conncheck_delay == 10);
    CHECK(c.v4_defaultroute_enable);
    CHECK_FALSE(c.v4_defaultroute_replace);
    CHECK(c.v4_defaultroute_metric == 2048);
    CHECK_FALSE(c.v4_defaultroute_mtu);
    CHECK(c.effective_mtu() == 1260);
    CHECK(c.effective_advmss() == 1220u);
    // Unset, the MTU is what the data path carries (the eBPF path: uplink - 20).
    CHECK(c.effective_mtu(1480) == 1480);
    CHECK(c.effective_advmss(1480) == 1440u);
    CHECK(c.data_path == DataPathMode::kAuto);
    CHECK(c.route_table == 0xc1a7);
    CHECK(c.ctmark == 0);
    CHECK(c.pref64_enable);
    CHECK(c.dad_enable);
    CHECK_FALSE(c.dbus_admin_group);
    CHECK(c.tayga_extra.empty());
    CHECK(c.tayga_restart_delay_ms == 1000);
    CHECK_FALSE(c.metrics_file);
    CHECK(c.metrics_interval == 15);
    CHECK(c.script_timeout == 30);
}

TEST_CASE("every key sets its field") {
    const std::vector<KeyCase> cases{
        {"quiet=2", [](const Config& c) { return c.quiet == 2; }},
        {"debug=1", [](const Config& c) { return c.debug == 1; }},
        {"script-up=echo up $clat_dev=1",
         [](auto& c) { return c.script_up == "echo up $clat_dev=1"; }},
        {"script-down=logger down", [](const Config& c) { return c.script_down == "logger down"; }},
        {"clat-dev=clat1", [](const Config& c) { return c.clat_dev == "clat1"; }},
        {"clat-v4-addr=192.0.2.1",
         [](auto& c) { return c.clat_v4_addr.to_string() == "192.0.2.1"; }},
        {"clat-v6-addr=2001:db8::c1a7",
         [](const Config& c) {
             return c.clat_v6_addr == ClatV6Mode{*Ipv6Address::parse("2001:db8::c1a7")};
         }},
        {"clat-v6-addr=shared",
         [](const Config& c) { return std::holds_alternative<ClatV6Shared>(c.clat_v6_addr); }},
        {"clat-v6-addr=Derived",
         [](const Config& c) { return std::holds_alternative<ClatV6Derived>(c.clat_v6_addr); }},
        {"dns64-servers=2001:db8::53,192.0.2.53",
         [](const Config& c) {
             return c.dns64_servers == std::vector<std::string>{"2001:db8::53", "192.0.2.53"};
         }},
        {"dns64-servers=FE80::1%eth0, [fe80::2%br-lan]:5353,192.0.2.53:5353",
         [](const Config& c) {
             return c.dns64_servers == std::vector<std::string>{"fe80::1%eth0",
                                                                "[fe80::2%br-lan]:5353",
                                                                "192.0.2.53:5353"};
         }},
        {"cmd-ip=/sbin/ip", [](const Config& c) { return c.cmd_ip == "/sbin/ip"; }},
        {"cmd-ip6tables=/sbin/ip6tables",
         [](auto& c) { return c.cmd_ip6tables == "/sbin/ip6tables"; }},
        {"cmd-nft=/usr/sbin/nft", [](const Config& c) { return c.cmd_nft == "/usr/sbin/nft"; }},
        {"cmd-tayga=/usr/sbin/tayga", [](auto& c) { return c.cmd_tayga == "/usr/sbin/tayga"; }},
        {"forwarding-enable=no", [](const Config& c) { return !c.forwarding_enable; }},
        {"ip6tables-enable=yes", [](const Config& c) { return c.ip6tables_enable == true; }},
        {"ip6tables-enable=off", [](const Config& c) { return c.ip6tables_enable == false; }},
        {"plat-dev=eth0", [](const Config& c) { return c.plat_dev == "eth0"; }},
        {"plat-prefix=64:ff9b::/96",
         [](auto& c) { return c.plat_prefix == prefix("64:ff9b::/96"); }},
        {"plat-fallback-prefix=2001:db8:64::/96",
         [](const Config& c) { return c.plat_fallback_prefix == prefix("2001:db8:64::/96"); }},
        {"proxynd-enable=false", [](const Config& c) { return !c.proxynd_enable; }},
        {"tayga-conffile=/run/tayga.conf",
         [](auto& c) { return c.tayga_conffile == "/run/tayga.conf"; }},
        {"tayga-v4-addr=192.0.0.3",
         [](auto& c) { return c.tayga_v4_addr.to_string() == "192.0.0.3"; }},
        {"v4-conncheck-enable=0", [](const Config& c) { return !c.v4_conncheck_enable; }},
        {"v4-conncheck-delay=0", [](const Config& c) { return c.v4_conncheck_delay == 0; }},
        {"script-timeout=0", [](const Config& c) { return c.script_timeout == 0; }},
        {"script-timeout=86400", [](const Config& c) { return c.script_timeout == 86'400; }},
        {"v4-defaultroute-enable=off", [](const Config& c) { return !c.v4_defaultroute_enable; }},
        {"v4-defaultroute-replace=on", [](const Config& c) { return c.v4_defaultroute_replace; }},
        {"v4-defaultroute-metric=0x10", [](auto& c) { return c.v4_defaultroute_metric == 16; }},
        {"v4-defaultroute-mtu=1400",
         [](const Config& c) {
             // An explicit MTU wins over the data path's.
             return c.v4_defaultroute_mtu == 1400u && c.effective_advmss() == 1360u &&
                    c.effective_mtu(1480) == 1400 && c.effective_advmss(1480) == 1360u;
         }},
        {"v4-defaultroute-mtu=0",
         [](const Config& c) {
             return c.v4_defaultroute_mtu == 0u && !c.effective_advmss() &&
                    c.effective_mtu(1480) == 0;
         }},
        {"data-path=bpf", [](const Config& c) { return c.data_path == DataPathMode::kBpf; }},
        {"data-path=tayga", [](const Config& c) { return c.data_path == DataPathMode::kTayga; }},
        {"v4-defaultroute-advmss=1000", [](auto& c) { return c.v4_defaultroute_advmss == 1000u; }},
        {"v4-defaultroute-advmss=0", [](auto& c) { return !c.v4_defaultroute_advmss.has_value(); }},
        {"route-table=100", [](const Config& c) { return c.route_table == 100; }},
        {"ctmark=0x64", [](const Config& c) { return c.ctmark == 100; }},
        {"pref64-enable=no", [](const Config& c) { return !c.pref64_enable; }},
        {"dad-enable=no", [](const Config& c) { return !c.dad_enable; }},
        {"dbus-admin-group=clatd-admin",
         [](const Config& c) { return c.dbus_admin_group == std::string("clatd-admin"); }},
        {"tayga-restart-delay=0.05",
         [](const Config& c) { return c.tayga_restart_delay_ms == 50; }},
        {"metrics-file=/var/lib/prometheus/node-exporter/clatd.prom",
         [](const Config& c) {
             return c.metrics_file == std::string("/var/lib/prometheus/node-exporter/clatd.prom");
         }},
        {"metrics-interval=60", [](const Config& c) { return c.metrics_interval == 60; }},
        {"tayga-extra=wkpf-strict no",
         [](const Config& c) {
             return c.tayga_extra == std::vector<std::string>{"wkpf-strict no"};
         }},
    };
    std::set<std::string> covered;
    // These two spell out the default; every other case must differ from it.
    const std::set<std::string> same_as_default{"clat-v6-addr=Derived", "v4-defaultroute-advmss=0"};
    for (const auto& kc : cases) {
        const std::string setting = kc.setting;
        CAPTURE(setting);
        const Config c = parse_ok(setting);
        CHECK(kc.holds(c));
        CHECK(kc.holds(Config{}) == same_as_default.contains(setting));
        covered.insert(std::string(kc.setting).substr(0, std::string(kc.setting).find('=')));
    }
    for (auto key : key_names()) {
        CAPTURE(key);
        CHECK(covered.contains(std::string(key)));
    }
}

TEST_CASE("an empty value restores the default") {
    const std::string all_set =
        "clat-dev=x\nplat-prefix=64:ff9b::/96\nv4-defaultroute-metric=1\nscript-up=true\n"
        "ip6tables-enable=yes\ntayga-extra=a\n";
    CHECK(parse_ok(all_set) != Config{});
    CHECK(parse_ok(all_set + "clat-dev=\nplat-prefix=\nv4-defaultroute-metric=\nscript-up=\n"
                             "ip6tables-enable=\ntayga-extra=\n") == Config{});
}

TEST_CASE("bad values name the file, line and key") {
    CHECK(parse_error("# c\nv4-defaultroute-metric=abc") ==
          "test.conf:2: key 'v4-defaultroute-metric': 'abc' is not an integer");
    CHECK(parse_error("plat-prefix=2001:db8::/33") ==
          "test.conf:1: key 'plat-prefix': 2001:db8::/33 is not an RFC 6052 prefix length (32, "
          "40, 48, 56, 64 or 96)");
    CHECK(parse_error("forwarding-enable=maybe") ==
          "test.conf:1: key 'forwarding-enable': 'maybe' is not a boolean (use 1/0, yes/no, "
          "true/false or on/off)");
    CHECK(parse_error("data-path=ebpf") ==
          "test.conf:1: key 'data-path': 'ebpf' is not auto, bpf or tayga");
    CHECK(parse_error("quiet=10") == "test.conf:1: key 'quiet': '10' is out of range (0 to 9)");
    CHECK(parse_error("v4-defaultroute-mtu=67") ==
          "test.conf:1: key 'v4-defaultroute-mtu': 67 is not 0 or an MTU from 68 to 65535");
    CHECK(parse_error("v4-defaultroute-advmss=65536") ==
          "test.conf:1: key 'v4-defaultroute-advmss': '65536' is out of range (0 to 65535)");
    CHECK(parse_error("route-table=0") ==
          "test.conf:1: key 'route-table': 0 is not a routing table (RT_TABLE_UNSPEC)");
    CHECK(parse_error("clat-v6-addr=auto") ==
          "test.conf:1: key 'clat-v6-addr': 'auto' is not an IPv6 address, 'derived' or 'shared'");
    CHECK(parse_error("clat-v4-addr=0.0.0.0") ==
          "test.conf:1: key 'clat-v4-addr': 0.0.0.0 is not a host address");
    CHECK(parse_error("clat-dev=a/b") ==
          "test.conf:1: key 'clat-dev': 'a/b' is not a valid interface name");
    CHECK(parse_error("plat-dev=eth\"0") ==
          "test.conf:1: key 'plat-dev': 'eth\"0' is not a usable interface name (it has a quote, "
          "a backslash, '%' or a control character)");
    CHECK(parse_error("clat-dev=clat%d") ==
          "test.conf:1: key 'clat-dev': 'clat%d' is not a usable interface name (it has a quote, "
          "a backslash, '%' or a control character)");
    CHECK(parse_error("script-up=" + std::string(200'000, ':')) ==
          "test.conf:1: key 'script-up': the script is 200000 bytes long, more than the 131059 "
          "that execve() accepts in one argument (MAX_ARG_STRLEN)");
    CHECK(parse_error("script-down=" + std::string(131'060, ':')) ==
          "test.conf:1: key 'script-down': the script is 131060 bytes long, more than the "
          "131059 that execve() accepts in one argument (MAX_ARG_STRLEN)");
    CHECK(parse_error("dns64-servers=dns.google") ==
          "test.conf:1: key 'dns64-servers': 'dns.google' is not a DNS server: expected an IPv4 "
          "or IPv6 address, optionally with :port ([address]:port for IPv6) and, for a "
          "link-local address, %interface");
    CHECK(parse_error("dns64-servers=2001:db8::53,fe80::1") ==
          "test.conf:1: key 'dns64-servers': 'fe80::1' is a link-local address without an "
          "interface; write it as fe80::1%INTERFACE, e.g. fe80::1%eth0");
    CHECK(parse_error("dns64-servers=fe80::1%eth0,fe80::1%eth1") ==
          "test.conf:1: key 'dns64-servers': 'fe80::1%eth1' repeats the address and port of "
          "'fe80::1%eth0'");
    CHECK(parse_error("ctmark=-1") == "test.conf:1: key 'ctmark': '-1' is not an integer");
    CHECK(parse_error("tayga-restart-delay=0.001") ==
          "test.conf:1: key 'tayga-restart-delay': '0.001' is out of range (0.01 to 60 seconds)");
    CHECK(parse_error("tayga-restart-delay=61") ==
          "test.conf:1: key 'tayga-restart-delay': '61' is out of range (0.01 to 60 seconds)");
    CHECK(parse_error("tayga-restart-delay=1s") ==
          "test.conf:1: key 'tayga-restart-delay': '1s' is not a number of seconds");
    CHECK(parse_error("metrics-file=clatd.prom") ==
          "test.conf:1: key 'metrics-file': 'clatd.prom' is not an absolute path");
    CHECK(parse_error("metrics-file=/var/lib/prometheus/") ==
          "test.conf:1: key 'metrics-file': '/var/lib/prometheus/' does not name a file");
    CHECK(parse_error("metrics-file=/var/lib/..") ==
          "test.conf:1: key 'metrics-file': '/var/lib/..' does not name a file");
    CHECK(parse_error("metrics-interval=0") ==
          "test.conf:1: key 'metrics-interval': '0' is out of range (1 to 86400 seconds)");
    CHECK(parse_error("metrics-interval=86401") ==
          "test.conf:1: key 'metrics-interval': '86401' is out of range (1 to 86400 seconds)");
    CHECK(parse_error("metrics-interval=1.5") ==
          "test.conf:1: key 'metrics-interval': '1.5' is not an integer");
    CHECK(parse_error("script-timeout=86401") ==
          "test.conf:1: key 'script-timeout': '86401' is out of range (0 to 86400 seconds, 0: "
          "no limit)");
    CHECK(parse_error("script-up=x\nscript-timeout=1e3") ==
          "test.conf:2: key 'script-timeout': '1e3' is not an integer");
    CHECK(parse_error("script-timeout=-1") ==
          "test.conf:1: key 'script-timeout': '-1' is not an integer");
    CHECK(parse_error("script-timeout=2.5") ==
          "test.conf:1: key 'script-timeout': '2.5' is not an integer");
    CHECK(parse_error("script-timeout=30s") ==
          "test.conf:1: key 'script-timeout': '30s' is not an integer");
}

TEST_CASE("a bad value is an error even when a later setting overrides it") {
    CHECK(parse_error("v4-defaultroute-metric=abc\nv4-defaultroute-metric=5") ==
          "test.conf:1: key 'v4-defaultroute-metric': 'abc' is not an integer");
}

TEST_CASE("clat-v4-addr and tayga-v4-addr must differ") {
    CHECK(parse_error("tayga-v4-addr=192.0.0.1") ==
          "test.conf:1: key 'tayga-v4-addr': 192.0.0.1 is used by both clat-v4-addr and "
          "tayga-v4-addr");
}

TEST_CASE("shared mode turns proxynd off and sets a ctmark unless they are set") {
    const Config shared = parse_ok("clat-v6-addr=shared");
    CHECK_FALSE(shared.proxynd_enable);
    CHECK(shared.ctmark == 0xc1a7);

    const Config explicit_values = parse_ok("proxynd-enable=yes\nctmark=0\nclat-v6-addr=shared");
    CHECK(explicit_values.proxynd_enable);
    CHECK(explicit_values.ctmark == 0);

    const Config reset_to_default = parse_ok(
        "proxynd-enable=yes\nclat-v6-addr=shared\n"
        "proxynd-enable=");
    CHECK_FALSE(reset_to_default.proxynd_enable);

    const Config derived = parse_ok("clat-v6-addr=derived");
    CHECK(derived.proxynd_enable);
    CHECK(derived.ctmark == 0);
    CHECK(derived.data_path == DataPathMode::kAuto);
}

TEST_CASE("shared mode runs TAYGA alone: auto picks it, bpf is refused by name") {
    CHECK(parse_ok("clat-v6-addr=shared").data_path == DataPathMode::kTayga);
    CHECK(parse_ok("data-path=auto\nclat-v6-addr=shared").data_path == DataPathMode::kTayga);
    CHECK(parse_ok("data-path=tayga\nclat-v6-addr=shared").data_path == DataPathMode::kTayga);
    CHECK(parse_error("clat-v6-addr=shared\ndata-path=bpf") ==
          "test.conf:2: key 'data-path': bpf cannot be used with clat-v6-addr=shared (shared "
          "mode needs data-path=tayga or auto for now)");
}

TEST_CASE("effective settings list every key in order and read back to the same settings") {
    const auto defaults = effective_settings(Config{});
    REQUIRE(defaults.size() == key_names().size());
    for (std::size_t i = 0; i < defaults.size(); ++i)
        CHECK(defaults[i].first == key_names()[i]);
    CHECK(defaults[4] == std::pair<std::string, std::string>{"script-timeout", "30"});
    CHECK(defaults[7] == std::pair<std::string, std::string>{"clat-v6-addr", "derived"});
    CHECK(defaults[14] == std::pair<std::string, std::string>{"ip6tables-enable", ""});
    CHECK(defaults[27] == std::pair<std::string, std::string>{"v4-defaultroute-advmss", "1220"});
    CHECK(defaults[28] == std::pair<std::string, std::string>{"route-table", "0xc1a7"});
    CHECK(defaults[29] == std::pair<std::string, std::string>{"ctmark", "0"});
    CHECK(defaults[33] == std::pair<std::string, std::string>{"tayga-restart-delay", "1"});
    CHECK(defaults[34] == std::pair<std::string, std::string>{"metrics-file", ""});
    CHECK(defaults[35] == std::pair<std::string, std::string>{"metrics-interval", "15"});

    const Config custom = parse_ok(
        "clat-v6-addr=shared\ndns64-servers=2001:db8::53,192.0.2.53\n"
        "plat-prefix=2001:db8:64::/96\ntayga-extra=a b\ntayga-extra=c\n"
        "ip6tables-enable=no\nv4-defaultroute-mtu=0\nscript-up=echo a=b\n"
        "tayga-restart-delay=0.125\nmetrics-file=/run/m/clatd.prom\nmetrics-interval=5\n"
        "script-timeout=0\n");
    const auto settings = effective_settings(custom);
    CHECK(settings.size() == key_names().size() + 1);
    std::string text;
    for (const auto& [k, v] : settings)
        text.append(k).append("=").append(v).append("\n");
    CHECK(effective_settings(parse_ok(text)) == settings);
    CHECK(parse_ok(text) == custom);
}

TEST_CASE("dbus-admin-group takes a group name and nothing else") {
    CHECK(parse_ok("dbus-admin-group=_netadm-1").dbus_admin_group == std::string("_netadm-1"));
    for (const char* bad :
         {"dbus-admin-group=1admin", "dbus-admin-group=ad min", "dbus-admin-group=adm;rm"}) {
        CAPTURE(bad);
        auto r = clat::config::parse_config_text(bad, "t.conf");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("t.conf:1: key 'dbus-admin-group'") != std::string::npos);
    }
}

}  // namespace clat::test
