#pragma once
/// Child processes on the event loop: the translator and the up/down scripts. SIGCHLD is
/// handled by the loop (asio::signal_set); only the children started here are reaped, by pid.
/// A child's stdout and stderr go through a pseudo-terminal so that stdio line-buffers them
/// (TAYGA -d writes to a block-buffered stdout otherwise), and arrive here line by line.

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/asio.hpp"
#include "states/line_budget.hpp"
#include "states/result.hpp"

namespace clat {

/// How a child ended: an exit code, or the signal that killed it.
struct ChildExit {
    int code = -1;   ///< exit status when it exited normally, else -1
    int signal = 0;  ///< terminating signal, else 0
    /// Killed by the agent because it wrote output in a loop (see OutputLimit).
    bool flooded = false;
    bool success() const { return code == 0 && !flooded; }
    std::string to_string() const;
};

/// Reaps the children it is told about when SIGCHLD arrives. One per io_context.
class ChildReaper {
  public:
    using ExitHandler = std::function<void(ChildExit)>;
    explicit ChildReaper(boost::asio::io_context& io);
    ChildReaper(const ChildReaper&) = delete;
    ChildReaper& operator=(const ChildReaper&) = delete;

    /// Calls on_exit (from the loop) once pid has been reaped.
    void watch(pid_t pid, ExitHandler on_exit);
    /// Stops watching pid; its handler will not be called.
    void forget(pid_t pid);

  private:
    void arm();
    void reap();

    boost::asio::signal_set sigchld_;
    std::map<pid_t, ExitHandler> watched_;
};

/// What a child may write. Lines pass while a token bucket (burst lines, refilled at
/// per_second) has tokens; the others are counted and reported as one "(N lines suppressed)"
/// line when output passes again or the child ends. More than flood_lines lines within
/// flood_window is a child stuck in a loop (TAYGA on a deleted tun writes the same error as
/// fast as it can): it is killed (SIGKILL to its group) and its exit says so.
struct OutputLimit {
    int burst = 50;
    int per_second = 10;
    int flood_lines = 2000;
    std::chrono::milliseconds flood_window{1000};
};

struct SpawnOptions {
    std::vector<std::string> argv;       ///< argv[0] is looked up in PATH when it has no '/'
    std::vector<std::string> extra_env;  ///< "KEY=value", added to the agent's environment
    /// Ask the kernel to SIGTERM the child if the agent dies (PR_SET_PDEATHSIG), so that a
    /// crashed agent never leaves a translator holding the tun device.
    bool die_with_parent = true;
    OutputLimit output_limit;
};

/// One child process with its output captured line by line. Destroying it kills the child.
class ChildProcess {
  public:
    using LineHandler = std::function<void(const std::string&)>;
    using ExitHandler = std::function<void(ChildExit)>;

    ChildProcess(boost::asio::io_context& io, ChildReaper& reaper);
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    /// Starts the child. Fails (and nothing runs) when it cannot be executed, with the
    /// reason from execve. on_exit is called once, from the loop, when the child is reaped.
    Result<pid_t> start(const SpawnOptions& options, LineHandler on_line, ExitHandler on_exit);
    /// SIGTERM to the child's process group now, SIGKILL to it after grace if the child is
    /// still there. When the child ends first, whatever is left of its group is SIGKILLed at
    /// once, before on_exit reports the end: a stopped script leaves nothing running.
    void stop(std::chrono::milliseconds grace);
    bool running() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }

  private:
    void read_output();
    void deliver_lines(bool flush);
    /// Passes one line through the output limit to on_line_.
    void emit(const std::string& line);
    /// Writes "(N lines suppressed)" for what the budget left out (nothing when none was).
    void report_suppressed();
    void report_suppressed(std::uint64_t n);
    void on_reaped(ChildExit exit);

    ChildReaper& reaper_;
    boost::asio::posix::stream_descriptor output_;
    boost::asio::steady_timer kill_timer_;
    std::array<char, 4096> buffer_{};
    std::string pending_;
    pid_t pid_ = -1;
    std::uint64_t generation_ = 0;
    LineHandler on_line_;
    ExitHandler on_exit_;
    OutputLimit limit_;
    LineBudget budget_{50, 10};
    std::chrono::steady_clock::time_point window_start_;
    int window_lines_ = 0;
    bool flooded_ = false;
    bool stopping_ = false;  ///< stop() was called for this child
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace clat
