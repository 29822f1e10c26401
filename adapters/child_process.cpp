#include "adapters/child_process.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <utility>

extern char** environ;

namespace clat {

std::string ChildExit::to_string() const {
    if (flooded)
        return "killed after writing output in a loop";
    if (signal != 0)
        return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
    return "exited with status " + std::to_string(code);
}

ChildReaper::ChildReaper(boost::asio::io_context& io) : sigchld_(io, SIGCHLD) {
    arm();
}

void ChildReaper::watch(pid_t pid, ExitHandler on_exit) {
    watched_[pid] = std::move(on_exit);
    // Never reap here: a child that already ended would have its handler run inside the
    // caller's start(), before the caller knows the pid (the agent then reported a translator
    // exit with pid 0 ahead of its start). Its SIGCHLD is queued on the loop, which reaps it.
}

void ChildReaper::forget(pid_t pid) {
    watched_.erase(pid);
}

void ChildReaper::arm() {
    sigchld_.async_wait([this](const boost::system::error_code& ec, int) {
        if (ec)
            return;  // cancelled: the reaper is going away
        reap();
        arm();
    });
}

void ChildReaper::reap() {
    // Reap by pid, never waitpid(-1): other parts of the process may own children too.
    std::vector<std::pair<pid_t, ChildExit>> ended;
    for (const auto& [pid, handler] : watched_) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            ChildExit exit;
            if (WIFEXITED(status))
                exit.code = WEXITSTATUS(status);
            if (WIFSIGNALED(status))
                exit.signal = WTERMSIG(status);
            ended.emplace_back(pid, exit);
        } else if (r < 0 && errno == ECHILD) {
            ended.emplace_back(pid, ChildExit{});
        }
    }
    for (const auto& [pid, exit] : ended) {
        auto it = watched_.find(pid);
        if (it == watched_.end())
            continue;
        auto handler = std::move(it->second);
        watched_.erase(it);
        if (handler)
            handler(exit);
    }
}

ChildProcess::ChildProcess(boost::asio::io_context& io, ChildReaper& reaper)
    : reaper_(reaper), output_(io), kill_timer_(io) {}

ChildProcess::~ChildProcess() {
    *alive_ = false;
    if (pid_ > 0) {
        reaper_.forget(pid_);
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    boost::system::error_code ignored;
    output_.close(ignored);
}

namespace {

struct Pty {
    int master = -1;
    std::string slave;
};

Result<Pty> open_pty() {
    Pty pty;
    pty.master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (pty.master < 0)
        return make_error(std::string("posix_openpt: ") + strerror(errno));
    char name[128];
    if (::grantpt(pty.master) != 0 || ::unlockpt(pty.master) != 0 ||
        ::ptsname_r(pty.master, name, sizeof name) != 0) {
        const int e = errno;
        ::close(pty.master);
        return make_error(std::string("pseudo-terminal: ") + strerror(e));
    }
    pty.slave = name;
    return pty;
}

// Runs in the forked child: only async-signal-safe calls until execve.
[[noreturn]] void exec_child(const Pty& pty, int error_pipe, bool die_with_parent, pid_t parent,
                             char* const* argv, char* const* envp) {
    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::setsid();
    if (die_with_parent) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent)
            ::_exit(127);
    }
    const int slave = ::open(pty.slave.c_str(), O_RDWR);
    const int null = ::open("/dev/null", O_RDONLY);
    if (slave < 0 || null < 0) {
        const int e = errno;
        (void)!::write(error_pipe, &e, sizeof e);
        ::_exit(127);
    }
    ::dup2(null, 0);
    ::dup2(slave, 1);
    ::dup2(slave, 2);
    ::execvpe(argv[0], argv, envp);
    const int e = errno;
    (void)!::write(error_pipe, &e, sizeof e);
    ::_exit(127);
}

}  // namespace

Result<pid_t> ChildProcess::start(const SpawnOptions& options, LineHandler on_line,
                                  ExitHandler on_exit) {
    if (pid_ > 0)
        return make_error("child already running as pid " + std::to_string(pid_));
    if (options.argv.empty())
        return make_error("no command to run");
    auto pty = open_pty();
    if (!pty)
        return pty.error();

    // Everything the child needs is built before fork: nothing allocates after it.
    std::vector<char*> argv;
    for (const auto& a : options.argv)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e)
        envp.push_back(*e);
    for (const auto& e : options.extra_env)
        envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    int error_pipe[2];
    if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
        ::close(pty->master);
        return make_error(std::string("pipe: ") + strerror(errno));
    }
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int e = errno;
        ::close(pty->master);
        ::close(error_pipe[0]);
        ::close(error_pipe[1]);
        return make_error(std::string("fork: ") + strerror(e));
    }
    if (pid == 0) {
        exec_child(*pty, error_pipe[1], options.die_with_parent, parent, argv.data(), envp.data());
    }
    ::close(error_pipe[1]);
    // The pipe closes on a successful execve (O_CLOEXEC); otherwise it carries errno.
    int exec_errno = 0;
    ssize_t n = 0;
    do {
        n = ::read(error_pipe[0], &exec_errno, sizeof exec_errno);
    } while (n < 0 && errno == EINTR);
    ::close(error_pipe[0]);
    if (n == static_cast<ssize_t>(sizeof exec_errno)) {
        ::waitpid(pid, nullptr, 0);
        ::close(pty->master);
        return make_error("cannot execute " + options.argv[0] + ": " + strerror(exec_errno));
    }

    pid_ = pid;
    // A previous child's output may still be draining: drop it, its handlers see the new
    // generation and stand down.
    ++generation_;
    if (output_.is_open()) {
        boost::system::error_code ignored;
        output_.close(ignored);
    }
    on_line_ = std::move(on_line);
    on_exit_ = std::move(on_exit);
    pending_.clear();
    limit_ = options.output_limit;
    budget_ = LineBudget(limit_.burst, limit_.per_second);
    window_start_ = std::chrono::steady_clock::now();
    window_lines_ = 0;
    flooded_ = false;
    stopping_ = false;
    output_.assign(pty->master);
    read_output();
    reaper_.watch(pid, [this, alive = alive_](ChildExit exit) {
        if (*alive)
            on_reaped(exit);
    });
    return pid;
}

void ChildProcess::stop(std::chrono::milliseconds grace) {
    if (pid_ <= 0)
        return;
    // The child leads its own process group (setsid): signal the group, so that a script's
    // own children end with it.
    ::kill(-pid_, SIGTERM);
    stopping_ = true;
    const pid_t pid = pid_;
    kill_timer_.expires_after(grace);
    kill_timer_.async_wait([this, pid, alive = alive_](const boost::system::error_code& ec) {
        if (ec || !*alive || pid_ != pid)
            return;
        ::kill(-pid, SIGKILL);
    });
}

void ChildProcess::read_output() {
    output_.async_read_some(boost::asio::buffer(buffer_),
                            [this, alive = alive_, generation = generation_](
                                const boost::system::error_code& ec, std::size_t n) {
                                // A read of a previous child's pty must not touch the descriptor of
                                // the next one.
                                if (!*alive || generation != generation_)
                                    return;
                                if (ec) {
                                    // EIO: every holder of the pty's slave side has gone.
                                    deliver_lines(true);
                                    boost::system::error_code ignored;
                                    output_.close(ignored);
                                    return;
                                }
                                pending_.append(buffer_.data(), n);
                                deliver_lines(false);
                                read_output();
                            });
}

void ChildProcess::deliver_lines(bool flush) {
    std::size_t start = 0;
    for (auto nl = pending_.find('\n'); nl != std::string::npos; nl = pending_.find('\n', start)) {
        std::string line = pending_.substr(start, nl - start);
        if (!line.empty() && line.back() == '\r')
            line.pop_back();  // the tty's ONLCR
        emit(line);
        start = nl + 1;
    }
    pending_.erase(0, start);
    if (flush && !pending_.empty()) {
        emit(pending_);
        pending_.clear();
    }
    if (flush)
        report_suppressed();
}

void ChildProcess::emit(const std::string& line) {
    const auto now = std::chrono::steady_clock::now();
    if (now - window_start_ >= limit_.flood_window) {
        window_start_ = now;
        window_lines_ = 0;
    }
    if (++window_lines_ > limit_.flood_lines && !flooded_ && pid_ > 0) {
        flooded_ = true;
        report_suppressed();
        if (on_line_)
            on_line_("(more than " + std::to_string(limit_.flood_lines) + " lines within " +
                     std::to_string(limit_.flood_window.count()) + " ms: killing pid " +
                     std::to_string(pid_) + ")");
        ::kill(-pid_, SIGKILL);
    }
    if (flooded_) {
        budget_.skip();
        return;
    }
    const auto verdict = budget_.take(now);
    if (!verdict.pass)
        return;
    report_suppressed(verdict.suppressed);
    if (on_line_)
        on_line_(line);
}

void ChildProcess::report_suppressed() {
    report_suppressed(budget_.take_pending());
}

void ChildProcess::report_suppressed(std::uint64_t n) {
    if (n == 0)
        return;
    if (on_line_)
        on_line_("(" + std::to_string(n) + (n == 1 ? " line" : " lines") + " suppressed)");
}

void ChildProcess::on_reaped(ChildExit exit) {
    const pid_t pid = std::exchange(pid_, -1);
    // The leader died of the SIGTERM, but a member of its group may not have: a script's
    // background job that ignores SIGTERM and SIGHUP (the pty hangs up when the session leader
    // exits) would run on under the undo that follows. The group keeps the leader's number
    // while any member lives, so no other process can hold it then; with none left this is
    // ESRCH (a new group by that number would need the pid space to wrap within this instant).
    if (stopping_ && !flooded_)
        ::kill(-pid, SIGKILL);
    exit.flooded = flooded_;
    kill_timer_.cancel();
    if (on_exit_) {
        auto handler = std::move(on_exit_);
        on_exit_ = nullptr;
        handler(exit);
    }
}

}  // namespace clat
