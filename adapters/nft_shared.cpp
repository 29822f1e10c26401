#include "adapters/nft_shared.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace clat::nft_shared {
namespace {

struct Run {
    int status = 0;  ///< the exit code, or 128 + signal
    std::string output;
};

void close_fd(int& fd) {
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

/// Runs argv (argv[0] looked up in PATH) with input on its stdin and waits for it; stdout
/// and stderr are collected together. An error only when it cannot be started.
Result<Run> run(const std::vector<std::string>& argv, const std::string& input) {
    std::array<int, 2> in{-1, -1};
    std::array<int, 2> out{-1, -1};
    if (::pipe2(in.data(), O_CLOEXEC) != 0 || ::pipe2(out.data(), O_CLOEXEC) != 0) {
        const int err = errno;
        close_fd(in[0]);
        close_fd(in[1]);
        return make_error("pipe: " + std::string(std::strerror(err)));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close_fd(in[0]);
    close_fd(out[1]);
    if (spawned != 0) {
        close_fd(in[1]);
        close_fd(out[0]);
        return make_error("cannot run " + argv[0] + ": " + std::strerror(spawned));
    }
    // The script is far smaller than a pipe's buffer: written whole before reading.
    std::size_t written = 0;
    while (written < input.size()) {
        const ssize_t n = ::write(in[1], input.data() + written, input.size() - written);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        written += static_cast<std::size_t>(n);
    }
    close_fd(in[1]);
    Run result;
    std::array<char, 4096> buffer{};
    for (;;) {
        const ssize_t n = ::read(out[0], buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        result.output.append(buffer.data(), static_cast<std::size_t>(n));
    }
    close_fd(out[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text;
}

Status check_name(const std::string& what, const std::string& name) {
    if (name.empty() || name.find_first_of("\"\\\n") != std::string::npos)
        return make_error(what + " '" + name + "' cannot be written into an nft rule");
    return Ok{};
}

std::string hex(std::uint32_t value) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int shift = 28; shift >= 0; shift -= 4)
        out += kHex[(value >> shift) & 0xf];
    return "0x" + out;
}

}  // namespace

Result<std::string> add_script(const op::SharedMarking& m) {
    if (auto s = check_name("clat-dev", m.clat_dev); !s)
        return s.error();
    if (auto s = check_name("PLAT device", m.plat_dev); !s)
        return s.error();
    if (auto s = check_name("mark", m.mark); !s)
        return s.error();
    const std::string table = "ip6 " + m.table();
    const std::string mark = hex(m.ctmark);
    const std::string clat = m.clat_v6.to_string();
    const std::string prefix = m.plat_prefix.to_string();
    return "table " + table + "\n" + "delete table " + table + "\n" + "table " + table +
           " {\n"
           "\tchain prerouting {\n"
           "\t\ttype filter hook prerouting priority mangle; policy accept;\n"
           "\t\tiifname \"" +
           m.clat_dev + "\" ip6 saddr " + clat + " ip6 daddr " + prefix + " ct mark set " + mark +
           " meta mark set " + mark +
           "\n"
           "\t\tiifname \"" +
           m.plat_dev + "\" ip6 saddr " + prefix + " ip6 daddr " + clat + " ct mark " + mark +
           " meta mark set ct mark\n"
           "\t}\n"
           "}\n";
}

Result<ApplyOutcome> add(const op::SharedMarking& marking) {
    auto script = add_script(marking);
    if (!script)
        return script.error();
    auto done = run({marking.tool, "-f", "-"}, *script);
    if (!done)
        return done.error();
    if (done->status != 0)
        return make_error(marking.tool + " -f - (table ip6 " + marking.table() + "): exit " +
                          std::to_string(done->status) + ": " + trimmed(done->output));
    return ApplyOutcome::kApplied;
}

Result<ApplyOutcome> remove(const op::SharedMarking& marking) {
    if (auto s = check_name("mark", marking.mark); !s)
        return s.error();
    const std::string table = marking.table();
    auto listed = run({marking.tool, "list", "table", "ip6", table}, "");
    if (!listed)
        return listed.error();
    if (listed->status != 0)
        return ApplyOutcome::kAlreadyInPlace;  // no such table
    auto done = run({marking.tool, "delete", "table", "ip6", table}, "");
    if (!done)
        return done.error();
    if (done->status != 0)
        return make_error(marking.tool + " delete table ip6 " + table + ": exit " +
                          std::to_string(done->status) + ": " + trimmed(done->output));
    return ApplyOutcome::kApplied;
}

}  // namespace clat::nft_shared
