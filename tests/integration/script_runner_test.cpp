// script-up and script-down as children (adapters/script_runner): a script killed by clatd
// (the machine's script-timeout, a second stop request) leaves nothing of its process group
// behind when its end is reported, background jobs and grandchildren included, also those
// that ignore SIGTERM and SIGHUP.

#include <doctest/doctest.h>
#include <unistd.h>

#include <csignal>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "adapters/script_runner.hpp"
#include "tests/integration/loop.hpp"

using namespace std::chrono_literals;
using clat::test::run_until;

namespace {

/// The live members of process group pgid (zombies are dead already: their parent, init for
/// an orphan, reaps them when it gets round to it).
int live_members(pid_t pgid) {
    int members = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        std::ifstream in(entry.path() / "stat");
        std::string stat;
        if (!std::getline(in, stat))
            continue;  // gone meanwhile
        // "pid (comm) state ppid pgrp ...": comm may hold blanks and parentheses.
        const auto close = stat.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream fields(stat.substr(close + 1));
        char state = 0;
        pid_t ppid = 0;
        pid_t pgrp = 0;
        fields >> state >> ppid >> pgrp;
        if (pgrp == pgid && state != 'Z' && state != 'X')
            ++members;
    }
    return members;
}

/// A file the script writes its shell's pid ($$, the process group's id) into.
struct PidFile {
    PidFile() {
        char tmpl[] = "/tmp/clatd-script-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        path = dir + "/pid";
    }
    ~PidFile() { std::filesystem::remove_all(dir); }
    std::optional<pid_t> read() const {
        std::ifstream in(path);
        pid_t pid = 0;
        if (in >> pid && pid > 0)
            return pid;
        return std::nullopt;
    }
    std::string dir;
    std::string path;
};

struct ScriptBed {
    boost::asio::io_context io;
    clat::ChildReaper reaper{io};
    clat::ScriptRunner runner{io, reaper};
    std::optional<clat::event::ScriptFinished> finished;
    PidFile pid_file;

    ScriptBed() {
        runner.subscribe([this](clat::Event e) {
            if (auto* f = std::get_if<clat::event::ScriptFinished>(&e))
                finished = *f;
        });
    }
    /// A failed test leaves nothing running either.
    ~ScriptBed() {
        if (const auto pgid = pid_file.read(); pgid && live_members(*pgid) > 0)
            ::kill(-*pgid, SIGKILL);
    }
    /// Runs command as script-down and waits until its process group has `members` live
    /// processes; returns the group's id.
    pid_t start(const std::string& command, int members) {
        runner.run(clat::ScriptKind::Down, "echo $$ >\"$CLAT_TEST_PID_FILE\"; " + command,
                   {"CLAT_TEST_PID_FILE=" + pid_file.path});
        REQUIRE(run_until(io, [&] {
            const auto pgid = pid_file.read();
            return pgid && live_members(*pgid) == members;
        }));
        return *pid_file.read();
    }
};

}  // namespace

TEST_CASE("a killed script takes its background jobs and grandchildren with it") {
    ScriptBed bed;
    // The shell, its foreground sleep, a grandchild shell with its own two sleeps, and a
    // background job that ignores SIGTERM and SIGHUP (so that neither the SIGTERM nor the
    // pty's hang-up at the shell's exit ends it).
    const pid_t pgid = bed.start(
        "sh -c 'sleep 1000 & sleep 1000' & (trap '' TERM HUP; exec sleep 1000) & sleep 1000", 6);
    const auto t0 = std::chrono::steady_clock::now();
    bed.runner.cancel();
    REQUIRE(run_until(bed.io, [&] { return bed.finished.has_value(); }));
    CHECK_FALSE(bed.finished->success);
    CHECK(bed.finished->kind == clat::ScriptKind::Down);
    CHECK(bed.finished->detail == "killed by signal 15 (Terminated)");
    // Everything left was SIGKILLed before the end was reported; a SIGKILL is only not
    // instantaneous.
    CHECK(run_until(
        bed.io, [&] { return live_members(pgid) == 0; }, 1s));
    // At once: the shell went on the SIGTERM, the stubborn job did not wait for the grace.
    CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);
}

TEST_CASE("a killed script that ignores SIGTERM is SIGKILLed with its group after the grace") {
    ScriptBed bed;
    const pid_t pgid = bed.start("trap '' TERM; sleep 1000 & sleep 1000", 3);
    const auto t0 = std::chrono::steady_clock::now();
    bed.runner.cancel();
    REQUIRE(run_until(bed.io, [&] { return bed.finished.has_value(); }));
    CHECK(bed.finished->detail == "killed by signal 9 (Killed)");
    CHECK(std::chrono::steady_clock::now() - t0 >= 2s);  // ScriptRunner's grace
    CHECK(run_until(
        bed.io, [&] { return live_members(pgid) == 0; }, 1s));
}
