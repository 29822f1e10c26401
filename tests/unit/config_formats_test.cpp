#include <doctest/doctest.h>

#include "config/file_format.hpp"
#include "config/load.hpp"

using namespace clat;
using namespace clat::config;

namespace clat::test {
namespace {

Result<LoadedConfig> parse(std::string_view text, const CommandLine& cli = {}) {
    return parse_config_text(text, "clatd.conf", cli);
}

// The same settings in both formats; every key is set to a non-default value.
constexpr std::string_view kPerl = R"(# clatd.conf in Perl clatd's format
; semicolon comment
// slash comment
   # indented comment

quiet=1
debug = 2
script-up=echo `date -Ins`: clatd started on $clat_dev | tee -a /tmp/clatd.log
script-down  =  logger -t clatd down
script-timeout=0x0a
clat-dev=clat0
clat-v4-addr=192.0.0.5
clat-v6-addr=2001:db8:1::c1a7
dns64-servers=2001:db8::53,192.0.2.53
cmd-ip=/sbin/ip
cmd-ip6tables=/sbin/ip6tables
cmd-nft=/usr/sbin/nft
cmd-tayga=/usr/local/sbin/tayga
forwarding-enable=no
ip6tables-enable=off
plat-dev=eth0
plat-prefix=2001:db8:64::/96
plat-fallback-prefix=64:ff9b::/96
proxynd-enable=false
tayga-conffile=/run/clatd/tayga.conf
tayga-v4-addr=192.0.0.6
v4-conncheck-enable=0
v4-conncheck-delay=0x1e
v4-defaultroute-enable=no
v4-defaultroute-replace=yes
v4-defaultroute-metric=100
v4-defaultroute-mtu=1400
v4-defaultroute-advmss=1300
route-table=0x100
ctmark=0x2a
pref64-enable=no
dad-enable=no
dbus-admin-group=netadmin
tayga-restart-delay=0.25
metrics-file=/var/lib/prometheus/node-exporter/clatd.prom
metrics-interval=30
tayga-extra=wkpf-strict no
tayga-extra=offlink-mtu 1400
data-path=tayga
)";

constexpr std::string_view kYaml = R"(# clatd.conf in YAML
quiet: 1
debug: 2
script-up: "echo `date -Ins`: clatd started on $clat_dev | tee -a /tmp/clatd.log"
script-down: logger -t clatd down
script-timeout: 0x0a
clat-dev: clat0
clat-v4-addr: 192.0.0.5
clat-v6-addr: 2001:db8:1::c1a7
dns64-servers: [2001:db8::53, 192.0.2.53]
cmd-ip: /sbin/ip
cmd-ip6tables: /sbin/ip6tables
cmd-nft: /usr/sbin/nft
cmd-tayga: /usr/local/sbin/tayga
forwarding-enable: false
ip6tables-enable: off
plat-dev: eth0
plat-prefix: 2001:db8:64::/96
plat-fallback-prefix: 64:ff9b::/96
proxynd-enable: no
tayga-conffile: /run/clatd/tayga.conf
tayga-v4-addr: 192.0.0.6
v4-conncheck-enable: 0
v4-conncheck-delay: 0x1e
v4-defaultroute-enable: no
v4-defaultroute-replace: true
v4-defaultroute-metric: 100
v4-defaultroute-mtu: 1400
v4-defaultroute-advmss: 1300
route-table: 0x100
ctmark: 42
pref64-enable: no
dad-enable: no
dbus-admin-group: netadmin
tayga-restart-delay: 0.25
metrics-file: /var/lib/prometheus/node-exporter/clatd.prom
metrics-interval: 30
tayga-extra:
  - wkpf-strict no
  - offlink-mtu 1400
data-path: tayga
)";

}  // namespace

TEST_CASE("the format is detected from the first significant line") {
    CHECK(detect_format("") == FileFormat::kKeyValue);
    CHECK(detect_format("# only a comment\n") == FileFormat::kKeyValue);
    CHECK(detect_format("clat-dev=clat\n") == FileFormat::kKeyValue);
    CHECK(detect_format("plat-prefix=64:ff9b::/96\n") == FileFormat::kKeyValue);
    CHECK(detect_format("script-up=echo a: b\n") == FileFormat::kKeyValue);
    CHECK(detect_format("; x: y\n// a: b\n\nclat-dev=a\nb: c\n") == FileFormat::kKeyValue);
    CHECK(detect_format("# comment\n\nclat-dev: clat\n") == FileFormat::kYaml);
    CHECK(detect_format("plat-prefix: 64:ff9b::/96\n") == FileFormat::kYaml);
    CHECK(detect_format("clat-dev:\n") == FileFormat::kYaml);
    CHECK(detect_format("clat-dev :\tx\n") == FileFormat::kYaml);
    CHECK(detect_format("---\nclat-dev: x\n") == FileFormat::kYaml);
    CHECK(detect_format("%YAML 1.2\n---\n") == FileFormat::kYaml);
    CHECK(detect_format("{clat-dev: x}\n") == FileFormat::kYaml);
    CHECK(detect_format("- a\n") == FileFormat::kYaml);
    CHECK(detect_format("\"clat-dev\": x\n") == FileFormat::kYaml);
    CHECK(detect_format("\xEF\xBB\xBF"
                        "clat-dev: x\n") == FileFormat::kYaml);
}

TEST_CASE("key=value and YAML files give identical configurations") {
    auto perl = parse(kPerl);
    auto yaml = parse(kYaml);
    REQUIRE_MESSAGE(perl.ok(), perl.error().message);
    REQUIRE_MESSAGE(yaml.ok(), yaml.error().message);
    CHECK(perl->warnings.empty());
    CHECK(yaml->warnings.empty());
    CHECK(perl->config == yaml->config);
    CHECK(perl->config.script_up ==
          "echo `date -Ins`: clatd started on $clat_dev | tee -a /tmp/clatd.log");
    CHECK(perl->config.script_down == "logger -t clatd down");
    CHECK(perl->config.tayga_extra ==
          std::vector<std::string>{"wkpf-strict no", "offlink-mtu 1400"});
    // Every key differs from its default, so equality covers all of them.
    const auto defaults = effective_settings(Config{});
    const auto settings = effective_settings(perl->config);
    REQUIRE(settings.size() == defaults.size() + 1);
    for (std::size_t i = 0; i + 1 < defaults.size(); ++i) {  // all but tayga-extra
        const std::string key = defaults[i].first;
        CAPTURE(key);
        CHECK(settings[i].first == key);
        CHECK(settings[i].second != defaults[i].second);
    }
}

TEST_CASE("key=value: comments, blanks, '=' in values, CRLF") {
    auto r = parse(
        "  # a\n\t; b\n // c\ncmd-tayga = x # not a comment\r\n"
        "script-up=a=b ; c\r\n");
    REQUIRE(r.ok());
    CHECK(r->config.cmd_tayga == "x # not a comment");
    CHECK(r->config.script_up == "a=b ; c");
}

TEST_CASE("key=value: later settings win and tayga-extra accumulates") {
    auto r = parse("clat-dev=a\nclat-dev=b\ntayga-extra=one\ntayga-extra=two\n");
    REQUIRE(r.ok());
    CHECK(r->config.clat_dev == "b");
    CHECK(r->config.tayga_extra == std::vector<std::string>{"one", "two"});
    auto cleared = parse("tayga-extra=one\ntayga-extra=\ntayga-extra=three\n");
    REQUIRE(cleared.ok());
    CHECK(cleared->config.tayga_extra == std::vector<std::string>{"three"});
}

TEST_CASE("key=value: malformed lines are errors naming file and line") {
    CHECK(parse("clat-dev=a\n\njust words\n").error().message ==
          "clatd.conf:3: expected key=value, got 'just words'");
    CHECK(parse("clat dev=a\n").error().message == "clatd.conf:1: 'clat dev' is not a valid key");
    CHECK(parse("=a\n").error().message == "clatd.conf:1: '' is not a valid key");
}

TEST_CASE("unknown keys in a file are warnings naming file and line") {
    auto kv = parse("clat-dev=a\nclat_dev=b\n");
    REQUIRE(kv.ok());
    CHECK(kv->warnings == std::vector<std::string>{"clatd.conf:2: unknown key 'clat_dev' ignored"});
    CHECK(kv->config.clat_dev == "a");
    auto yaml = parse("clat-dev: a\nfoo:\n  bar: 1\n");
    REQUIRE(yaml.ok());
    CHECK(yaml->warnings == std::vector<std::string>{"clatd.conf:2: unknown key 'foo' ignored"});
}

TEST_CASE("YAML: the document must be a mapping") {
    CHECK(parse("- clat-dev\n- x\n").error().message == "clatd.conf: not a YAML mapping");
    CHECK(parse("---\njust a string\n").error().message == "clatd.conf: not a YAML mapping");
    CHECK(parse("---\nclat-dev: a\n---\nclat-dev: b\n").error().message ==
          "clatd.conf: more than one YAML document");
    auto empty = parse("---\n");
    REQUIRE(empty.ok());
    CHECK(empty->config == Config{});
}

TEST_CASE("YAML: syntax errors name the line") {
    CHECK(parse("clat-dev: a\nplat-dev: [eth0\nquiet: 1\n")
              .error()
              .message.starts_with("clatd.conf:"));
    const auto message = parse("clat-dev: a\nplat-dev: eth0: x\n").error().message;
    CHECK(message == "clatd.conf:2: YAML syntax error: illegal map value");
    CHECK(message.find('\n') == std::string::npos);
    CHECK(parse("clat-dev: a\n  quiet: 1\n")
              .error()
              .message.starts_with("clatd.conf:2: YAML syntax error: "));
}

TEST_CASE("YAML: values must be scalars; null means the default") {
    CHECK(parse("clat-dev: a\nplat-dev: {a: 1}\n").error().message ==
          "clatd.conf:2: key 'plat-dev': expected a value, not a mapping");
    CHECK(parse("tayga-extra: [[a]]\n").error().message ==
          "clatd.conf:1: key 'tayga-extra': expected a list of strings");
    CHECK(parse("quiet: 1\nv4-defaultroute-metric: abc\n").error().message ==
          "clatd.conf:2: key 'v4-defaultroute-metric': 'abc' is not an integer");
    CHECK(parse("script-up: |\n  a\n  b\n").error().message ==
          "clatd.conf:1: key 'script-up': the value must be a single line");
    auto nulls = parse("plat-prefix:\nclat-dev: ~\n");
    REQUIRE(nulls.ok());
    CHECK(nulls->config == Config{});
    auto single = parse("tayga-extra: wkpf-strict no\n");
    REQUIRE(single.ok());
    CHECK(single->config.tayga_extra == std::vector<std::string>{"wkpf-strict no"});
}

TEST_CASE("YAML: found by fuzzing (tests/fuzz/corpus/config_fuzz/regression_*)") {
    // yaml-cpp 0.7's LoadAll() never returns on a stray token after a flow collection.
    auto stray = parse("{a}, c\n");
    REQUIRE_FALSE(stray.ok());
    CHECK(stray.error().message.starts_with("clatd.conf:"));
    // Blanks around a value are dropped, as in key=value files, so that the effective
    // settings read back the same.
    auto blanks = parse("script-up: \" echo up \"\n");
    REQUIRE(blanks.ok());
    CHECK(blanks->config.script_up == "echo up");
}

TEST_CASE("command-line overrides win over both formats") {
    CommandLine cli;
    cli.overrides = {{"clat-dev", "cli0"}, {"plat-prefix", ""}, {"tayga-extra", "x"}};
    cli.quiet = 1;
    cli.debug = 2;
    auto perl = parse(kPerl, cli);
    auto yaml = parse(kYaml, cli);
    REQUIRE(perl.ok());
    REQUIRE(yaml.ok());
    CHECK(perl->config == yaml->config);
    CHECK(perl->config.clat_dev == "cli0");
    CHECK_FALSE(perl->config.plat_prefix.has_value());
    CHECK(perl->config.tayga_extra == std::vector<std::string>{"x"});
    CHECK(perl->config.quiet == 2);
    CHECK(perl->config.debug == 4);
    CHECK(perl->config.plat_dev == "eth0");
}

TEST_CASE("command-line values are validated and name the command line") {
    CommandLine cli;
    cli.overrides = {{"plat-prefix", "2001:db8::/33"}};
    CHECK(parse("", cli).error().message ==
          "command line: key 'plat-prefix': 2001:db8::/33 is not an RFC 6052 prefix length (32, "
          "40, 48, 56, 64 or 96)");
    cli.overrides = {{"tayga-extra", "a"}, {"tayga-extra", "b"}};
    auto r = parse("tayga-extra=file\n", cli);
    REQUIRE(r.ok());
    CHECK(r->config.tayga_extra == std::vector<std::string>{"a", "b"});
    cli.overrides = {{"proxynd-enable", "yes"}};
    auto shared = parse("clat-v6-addr: shared\n", cli);
    REQUIRE(shared.ok());
    CHECK(shared->config.proxynd_enable);
    CHECK(shared->config.ctmark == 0xc1a7);
}

}  // namespace clat::test
