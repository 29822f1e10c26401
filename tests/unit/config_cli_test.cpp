#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "config/load.hpp"

using namespace clat;
using namespace clat::config;

namespace clat::test {
namespace {

Result<CommandLine> parse_args(const std::vector<std::string>& args) {
    std::vector<const char*> argv{"clatd"};
    for (const auto& a : args)
        argv.push_back(a.c_str());
    return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

std::string args_error(const std::vector<std::string>& args) {
    auto r = parse_args(args);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

// A private directory under /tmp, removed with its files at the end of the test.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/clatd-config-test.XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(path + "/" + name) << text;
        return path + "/" + name;
    }
};

}  // namespace

TEST_CASE("command line: options, repeated and bundled") {
    auto r = parse_args({"-q", "-q", "-d", "-c", "/etc/x.conf", "--check-config"});
    REQUIRE(r.ok());
    CHECK(r->quiet == 2);
    CHECK(r->debug == 1);
    CHECK(r->config_file == "/etc/x.conf");
    CHECK(r->check_config);
    CHECK_FALSE(r->help);
    CHECK_FALSE(r->version);

    auto bundled = parse_args({"-qqd", "-dd", "-c/x.conf"});
    REQUIRE(bundled.ok());
    CHECK(bundled->quiet == 2);
    CHECK(bundled->debug == 3);
    CHECK(bundled->config_file == "/x.conf");

    CHECK(parse_args({"-h"})->help);
    CHECK(parse_args({"--help"})->help);
    CHECK(parse_args({"--version"})->version);
    CHECK(*parse_args({}) == CommandLine{});
}

TEST_CASE("command line: key=value overrides are kept in order") {
    auto r = parse_args(
        {"plat-prefix=64:ff9b::/96", "-d", "script-up=a=b c", "tayga-extra=", "--", "clat-dev=x"});
    REQUIRE(r.ok());
    CHECK(r->overrides ==
          std::vector<std::pair<std::string, std::string>>{{"plat-prefix", "64:ff9b::/96"},
                                                           {"script-up", "a=b c"},
                                                           {"tayga-extra", ""},
                                                           {"clat-dev", "x"}});
    CHECK(r->debug == 1);
}

TEST_CASE("command line: blanks around keys and values are ignored, as in the files") {
    auto r =
        parse_args({"plat-prefix= 2001:db8:64::/96 ", " clat-dev =clat1", "script-up=  a b\t"});
    REQUIRE(r.ok());
    CHECK(r->overrides ==
          std::vector<std::pair<std::string, std::string>>{
              {"plat-prefix", "2001:db8:64::/96"}, {"clat-dev", "clat1"}, {"script-up", "a b"}});
}

TEST_CASE("command line: unknown options and keys are errors") {
    CHECK(args_error({"foo=1"}) == "command line: unknown key 'foo'");
    CHECK(args_error({"clat_dev=1"}) == "command line: unknown key 'clat_dev'");
    CHECK(args_error({"-x"}) == "command line: unknown option '-x'");
    CHECK(args_error({"-qx"}) == "command line: unknown option '-x'");
    CHECK(args_error({"--quiet"}) == "command line: unknown option '--quiet'");
    CHECK(args_error({"-c"}) == "command line: option '-c' needs a file name");
    CHECK(args_error({"clat-dev"}) ==
          "command line: unexpected argument 'clat-dev' (settings are written key=value)");
    CHECK(args_error({"--", "-q"}) ==
          "command line: unexpected argument '-q' (settings are written key=value)");
}

TEST_CASE("load_config: the default file is optional, -c must be readable") {
    TempDir dir;
    CommandLine cli;
    auto none = load_config(cli, dir.path + "/missing.conf");
    REQUIRE(none.ok());
    CHECK(none->config == Config{});
    CHECK(none->source.empty());

    const std::string file = dir.write("clatd.conf", "clat-dev=fromfile\nbogus=1\n");
    auto from_default = load_config(cli, file);
    REQUIRE(from_default.ok());
    CHECK(from_default->config.clat_dev == "fromfile");
    CHECK(from_default->source == file);
    CHECK(from_default->warnings ==
          std::vector<std::string>{file + ":2: unknown key 'bogus' ignored"});

    cli.config_file = dir.path + "/missing.conf";
    CHECK(load_config(cli).error().message ==
          dir.path + "/missing.conf: cannot read: No such file or directory");
    cli.config_file = dir.path;
    CHECK(load_config(cli).error().message == dir.path + ": cannot read: Is a directory");

    cli.config_file = dir.write("bad.yaml", "clat-dev: a\nquiet: many\n");
    CHECK(load_config(cli).error().message ==
          cli.config_file + ":2: key 'quiet': 'many' is not an integer");
}

TEST_CASE("load_config: a default path that is a directory is an error, not ignored") {
    TempDir dir;
    CHECK(load_config(CommandLine{}, dir.path).error().message ==
          dir.path + ": cannot read: Is a directory");
}

TEST_CASE("load_config: -c and command-line settings combine") {
    TempDir dir;
    CommandLine cli;
    cli.config_file = dir.write("c.yaml", "clat-dev: a\nquiet: 1\n");
    cli.overrides = {{"clat-dev", "b"}};
    cli.quiet = 1;
    auto r = load_config(cli, "/nonexistent");
    REQUIRE(r.ok());
    CHECK(r->config.clat_dev == "b");
    CHECK(r->config.quiet == 2);
}

TEST_CASE("usage names every option") {
    const std::string u = usage_text();
    for (const char* opt : {"-q", "-d", "-c FILE", "-h", "--help", "--version", "--check-config",
                            "key=value", "/etc/clatd.conf"}) {
        CAPTURE(opt);
        CHECK(u.find(opt) != std::string::npos);
    }
}

}  // namespace clat::test
