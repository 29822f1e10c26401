#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include "adapters/translator.hpp"
#include "tests/integration/harness.hpp"
#include "tests/integration/loop.hpp"

using namespace std::chrono_literals;
using clat::ChildExit;
using clat::test::run_until;

namespace {

bool contains(const std::vector<std::string>& lines, const std::string& needle) {
    for (const auto& l : lines) {
        if (l.find(needle) != std::string::npos)
            return true;
    }
    return false;
}

std::string temp_dir() {
    char tmpl[] = "/tmp/clatd-translator-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    return tmpl;
}

}  // namespace

TEST_CASE("a child's output arrives line by line and its exit status is reported") {
    boost::asio::io_context io;
    clat::ChildReaper reaper(io);
    clat::ChildProcess child(io, reaper);
    std::vector<std::string> lines;
    std::optional<ChildExit> ended;
    auto pid = child.start(
        {{"/bin/sh", "-c", "echo hello; echo $CLAT_TEST >&2; exit 3"},
         {"CLAT_TEST=from-env"},
         true,
         {}},
        [&](const std::string& l) { lines.push_back(l); }, [&](ChildExit e) { ended = e; });
    REQUIRE(pid.ok());
    CHECK(child.running());
    REQUIRE(run_until(io, [&] { return ended && lines.size() >= 2; }));
    CHECK(ended->code == 3);
    CHECK_FALSE(ended->success());
    CHECK(lines == std::vector<std::string>{"hello", "from-env"});
    CHECK_FALSE(child.running());
}

/// The number in a "(N lines suppressed)" line; 0 for any other line.
std::uint64_t suppressed_in(const std::string& line) {
    const std::string tail = " suppressed)";
    if (line.size() < tail.size() + 2 || line.front() != '(' ||
        line.compare(line.size() - tail.size(), tail.size(), tail) != 0)
        return 0;
    return std::stoull(line.substr(1));
}

TEST_CASE("a child's output burst is cut to the limit and the rest counted, not lost silently") {
    boost::asio::io_context io;
    clat::ChildReaper reaper(io);
    clat::ChildProcess child(io, reaper);
    std::vector<std::string> lines;
    std::optional<ChildExit> ended;
    bool eof = false;
    clat::SpawnOptions spawn{{"/bin/sh", "-c",
                              "i=0; while [ $i -lt 300 ]; do echo line$i; "
                              "i=$((i+1)); done; exit 0"},
                             {},
                             true,
                             {}};
    spawn.output_limit.burst = 20;
    spawn.output_limit.per_second = 1;
    REQUIRE(child.start(
        spawn,
        [&](const std::string& l) {
            lines.push_back(l);
            eof = eof || suppressed_in(l) > 0;
        },
        [&](ChildExit e) { ended = e; }));
    REQUIRE(run_until(io, [&] { return ended && eof; }));
    CHECK(ended->success());
    std::uint64_t passed = 0;
    std::uint64_t suppressed = 0;
    for (const auto& l : lines) {
        if (const auto n = suppressed_in(l))
            suppressed += n;
        else
            ++passed;
    }
    // The burst passes (plus a token refilled while the shell runs, if it is slow), every
    // other line is counted in a "(N lines suppressed)" report.
    CHECK(passed >= 20);
    CHECK(passed <= 25);
    CHECK(passed + suppressed == 300);
    CHECK(lines.front() == "line0");
}

TEST_CASE("a child writing output in a loop is killed and its exit says so") {
    boost::asio::io_context io;
    clat::ChildReaper reaper(io);
    clat::ChildProcess child(io, reaper);
    std::vector<std::string> lines;
    std::optional<ChildExit> ended;
    clat::SpawnOptions spawn{
        {"/bin/sh", "-c", "while :; do echo 'File descriptor in bad state'; done"}, {}, true, {}};
    spawn.output_limit.flood_lines = 500;
    auto pid = child.start(
        spawn, [&](const std::string& l) { lines.push_back(l); }, [&](ChildExit e) { ended = e; });
    REQUIRE(pid);
    REQUIRE(run_until(io, [&] { return ended.has_value(); }));
    CHECK(ended->flooded);
    CHECK(ended->signal == SIGKILL);
    CHECK_FALSE(ended->success());
    CHECK(ended->to_string() == "killed after writing output in a loop");
    CHECK(contains(
        lines, "(more than 500 lines within 1000 ms: killing pid " + std::to_string(*pid) + ")"));
    CHECK(lines.size() < 60);  // the burst of 50, the reports
}

TEST_CASE("a command that cannot be executed is an error and nothing runs") {
    boost::asio::io_context io;
    clat::ChildReaper reaper(io);
    clat::ChildProcess child(io, reaper);
    auto pid = child.start({{"/nonexistent/tayga"}, {}, true, {}}, nullptr, nullptr);
    REQUIRE_FALSE(pid.ok());
    CHECK(pid.error().message == "cannot execute /nonexistent/tayga: No such file or directory");
    CHECK_FALSE(child.running());
}

TEST_CASE("stop escalates to SIGKILL when SIGTERM is ignored") {
    boost::asio::io_context io;
    clat::ChildReaper reaper(io);
    clat::ChildProcess child(io, reaper);
    std::vector<std::string> lines;
    std::optional<ChildExit> ended;
    REQUIRE(child
                .start(
                    {{"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"},
                     {},
                     true,
                     {}},
                    [&](const std::string& l) { lines.push_back(l); },
                    [&](ChildExit e) { ended = e; })
                .ok());
    REQUIRE(run_until(io, [&] { return contains(lines, "ready"); }));
    const auto t0 = std::chrono::steady_clock::now();
    child.stop(300ms);
    REQUIRE(run_until(io, [&] { return ended.has_value(); }));
    CHECK(ended->signal == SIGKILL);
    CHECK(std::chrono::steady_clock::now() - t0 >= 300ms);
}

TEST_CASE("TAYGA runs as the translator, reports its exit, and restarts on the same tun") {
    boost::asio::io_context io;
    clat::ChildReaper reaper(io);
    const auto dir = temp_dir();
    std::vector<std::string> lines;
    clat::Translator tayga(io, reaper, {"tayga", std::nullopt, dir},
                           [&](const std::string& l) { lines.push_back(l); });
    clat::TaygaSettings settings{"clat-t0",
                                 *clat::Ipv4Address::parse("192.0.0.2"),
                                 *clat::Ipv6Prefix::parse("2001:db8:64::/64"),
                                 *clat::Ipv4Address::parse("192.0.0.1"),
                                 *clat::Ipv6Address::parse("2001:db8:1::c1a7"),
                                 {}};
    std::optional<ChildExit> ended;
    auto pid = tayga.start(settings, [&](ChildExit e) { ended = e; });
    REQUIRE(pid.ok());
    CHECK(tayga.conf_path() == dir + "/tayga-clat-t0.conf");
    REQUIRE(run_until(io, [&] { return contains(lines, "NAT64 prefix: 2001:db8:64::/64"); }));
    CHECK(contains(lines, "TAYGA's IPv4 address: 192.0.0.2"));
    CHECK(clat::test::sh_status("ip link show clat-t0") == 0);

    // Killed from outside: the exit is reported with the signal.
    ::kill(*pid, SIGKILL);
    REQUIRE(run_until(io, [&] { return ended.has_value(); }));
    CHECK(ended->signal == SIGKILL);
    CHECK_FALSE(tayga.running());

    // Started again, then stopped: SIGTERM is enough for TAYGA, the temporary conf goes.
    ended.reset();
    lines.clear();
    REQUIRE(tayga.start(settings, [&](ChildExit e) { ended = e; }).ok());
    REQUIRE(run_until(io, [&] { return contains(lines, "NAT64 prefix"); }));
    const auto conf = tayga.conf_path();
    struct stat st {};
    CHECK(::stat(conf.c_str(), &st) == 0);
    tayga.stop(2s);
    REQUIRE(run_until(io, [&] { return ended.has_value(); }));
    CHECK(ended->signal != SIGKILL);
    CHECK(::stat(conf.c_str(), &st) != 0);
    ::rmdir(dir.c_str());
}

TEST_CASE("a child started from the previous child's exit handler keeps its output") {
    // The old pty's last read completes after the new child has started: it must not close
    // the new child's pty (TAYGA would die of SIGHUP).
    boost::asio::io_context io;
    clat::ChildReaper reaper(io);
    clat::ChildProcess child(io, reaper);
    std::vector<std::string> lines;
    std::optional<ChildExit> second;
    bool first_done = false;
    auto on_line = [&](const std::string& l) { lines.push_back(l); };
    REQUIRE(
        child
            .start({{"/bin/sh", "-c", "echo first"}, {}, true, {}}, on_line,
                   [&](ChildExit) {
                       first_done = true;
                       REQUIRE(
                           child
                               .start({{"/bin/sh", "-c", "sleep 0.3; echo second"}, {}, true, {}},
                                      on_line, [&](ChildExit e) { second = e; })
                               .ok());
                   })
            .ok());
    REQUIRE(run_until(io, [&] { return second.has_value(); }));
    CHECK(first_done);
    CHECK(second->code == 0);
    CHECK(second->signal == 0);
    CHECK(contains(lines, "second"));
}

TEST_CASE("a child that ended before it was watched is reported from the loop, not from watch") {
    // The agent learns the pid only when start() returns; an exit reported from inside it
    // (a TAYGA killed at once) came without a pid and ahead of the start.
    boost::asio::io_context io;
    clat::ChildReaper reaper(io);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0)
        ::_exit(7);
    siginfo_t info{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) == 0);  // a zombie
    std::optional<ChildExit> ended;
    reaper.watch(pid, [&](ChildExit e) { ended = e; });
    CHECK_FALSE(ended.has_value());
    REQUIRE(run_until(io, [&] { return ended.has_value(); }));
    CHECK(ended->code == 7);
}
