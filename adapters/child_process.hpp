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
#include "states/result.hpp"

namespace clat {

/// How a child ended: an exit code, or the signal that killed it.
struct ChildExit {
    int code = -1;   ///< exit status when it exited normally, else -1
    int signal = 0;  ///< terminating signal, else 0
    bool success() const { return code == 0; }
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

struct SpawnOptions {
    std::vector<std::string> argv;       ///< argv[0] is looked up in PATH when it has no '/'
    std::vector<std::string> extra_env;  ///< "KEY=value", added to the agent's environment
    /// Ask the kernel to SIGTERM the child if the agent dies (PR_SET_PDEATHSIG), so that a
    /// crashed agent never leaves a translator holding the tun device.
    bool die_with_parent = true;
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
    /// SIGTERM now, SIGKILL after grace if it is still there. on_exit still reports the end.
    void stop(std::chrono::milliseconds grace);
    bool running() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }

  private:
    void read_output();
    void deliver_lines(bool flush);
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
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace clat
