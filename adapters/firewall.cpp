// The firewall tool runner, the ip6tables backend, and the dispatch between backends.
#include "adapters/firewall.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

#include "adapters/firewall_internal.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, for posix_spawnp

namespace clat::firewall {
namespace {

/// ip6tables -C and -D fail with this when no identical rule exists.
bool rule_is_missing(const std::string& output) {
    return output.find("does a matching rule exist") != std::string::npos ||
           output.find("Bad rule") != std::string::npos;
}

/// Interface names go into the tool's command language: refuse anything that could end a
/// quoted word or the argument (the kernel allows almost any byte in a name).
Status validate(const op::FirewallRule& rule) {
    for (const char c : rule.mark) {
        if (!std::isalnum(static_cast<unsigned char>(c)))
            return make_error("invalid firewall mark '" + rule.mark + "'");
    }
    for (const std::string* dev : {&rule.clat_dev, &rule.plat_dev}) {
        if (dev->empty() || dev->size() > 15)
            return make_error("invalid interface name '" + *dev + "'");
        for (const char c : *dev) {
            const auto u = static_cast<unsigned char>(c);
            if (u <= ' ' || u == 0x7f || c == '"' || c == '\\' || c == '\'' || c == '/')
                return make_error("interface name '" + *dev + "' has a character not allowed here");
        }
    }
    return Ok{};
}

std::vector<std::string> ip6tables_command(const std::string& tool, const char* action,
                                           const Direction& d) {
    return {tool,        "-w",
            action,      "FORWARD",
            "-i",        d.in_dev,
            "-o",        d.out_dev,
            "-s",        d.source.to_string(),
            "-d",        d.destination.to_string(),
            "-m",        "comment",
            "--comment", d.comment,
            "-j",        "ACCEPT"};
}

/// Whether the filter table's FORWARD chain holds the rule of d (ip6tables -C).
Result<bool> ip6tables_has(const std::string& tool, const Direction& d) {
    const auto argv = ip6tables_command(tool, "-C", d);
    auto run = run_tool(argv);
    if (!run)
        return run.error();
    if (run->exit_code == 0)
        return true;
    if (rule_is_missing(run->output))
        return false;
    return make_error(describe_failure(argv, *run));
}

/// Runs argv; an error unless it exits 0 (or, with missing_ok, says the rule is missing).
Status run_checked(const std::vector<std::string>& argv, bool missing_ok) {
    auto run = run_tool(argv);
    if (!run)
        return run.error();
    if (run->exit_code == 0 || (missing_ok && rule_is_missing(run->output)))
        return Ok{};
    return make_error(describe_failure(argv, *run));
}

Result<ApplyOutcome> ip6tables_add(const std::string& tool, const std::array<Direction, 2>& dirs) {
    bool changed = false;
    for (const Direction& d : dirs) {
        auto has = ip6tables_has(tool, d);
        if (!has)
            return has.error();
        if (*has)
            continue;
        if (auto inserted = run_checked(ip6tables_command(tool, "-I", d), false); !inserted)
            return inserted.error();
        changed = true;
    }
    return changed ? ApplyOutcome::kApplied : ApplyOutcome::kAlreadyInPlace;
}

Result<ApplyOutcome> ip6tables_remove(const std::string& tool,
                                      const std::array<Direction, 2>& dirs) {
    // A bounded loop: a rule inserted twice (by hand, or by an older instance) goes too.
    constexpr int kMaxCopies = 16;
    bool changed = false;
    for (const Direction& d : dirs) {
        for (int i = 0; i < kMaxCopies; ++i) {
            auto has = ip6tables_has(tool, d);
            if (!has)
                return has.error();
            if (!*has)
                break;
            if (auto deleted = run_checked(ip6tables_command(tool, "-D", d), true); !deleted)
                return deleted.error();
            changed = true;
        }
    }
    return changed ? ApplyOutcome::kApplied : ApplyOutcome::kAlreadyInPlace;
}

std::string tool_of(const op::FirewallRule& rule) {
    if (!rule.tool.empty())
        return rule.tool;
    switch (rule.backend) {
        case op::FirewallBackend::kNftables:
            return "nft";
        case op::FirewallBackend::kIp6tables:
            return "ip6tables";
        case op::FirewallBackend::kIp6tablesLegacy:
            return "ip6tables-legacy";
    }
    return "ip6tables";
}

/// The words of one line of `ip6tables -S` (no quoting: clatd's comments and the devices it
/// accepts need none, and a word of another rule that does only has to not match ours).
std::vector<std::string> split_words(const std::string& line) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < line.size()) {
        const auto start = line.find_first_not_of(" \t", pos);
        if (start == std::string::npos)
            break;
        auto end = line.find_first_of(" \t", start);
        if (end == std::string::npos)
            end = line.size();
        out.push_back(line.substr(start, end - start));
        pos = end;
    }
    return out;
}

std::optional<std::string> option(const std::vector<std::string>& w, const std::string& key) {
    for (std::size_t i = 0; i + 1 < w.size(); ++i) {
        if (w[i] == key)
            return w[i + 1];
    }
    return std::nullopt;
}

/// Whether a listed `-A FORWARD ...` rule is the rule of d (values compared, not text).
bool listed_rule_is(const std::vector<std::string>& w, const Direction& d) {
    const auto s = option(w, "-s");
    const auto dst = option(w, "-d");
    return option(w, "-j") == "ACCEPT" && option(w, "--comment") == d.comment &&
           option(w, "-i") == d.in_dev && option(w, "-o") == d.out_dev && s && dst &&
           Ipv6Prefix::parse(*s) == d.source && Ipv6Prefix::parse(*dst) == d.destination;
}

}  // namespace

std::array<Direction, 2> directions(const op::FirewallRule& rule) {
    const Ipv6Prefix clat = Ipv6Prefix::make(rule.clat_v6, 128);
    const std::string comment = rule.mark.empty() ? "clatd" : "clatd-" + rule.mark;
    return {Direction{rule.clat_dev, rule.plat_dev, clat, rule.plat_prefix, comment},
            Direction{rule.plat_dev, rule.clat_dev, rule.plat_prefix, clat, comment}};
}

Result<ToolRun> run_tool(const std::vector<std::string>& argv) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
        return make_error(std::string("pipe: ") + std::strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    if (spawned != 0) {
        ::close(pipe_fds[0]);
        return make_error("cannot run " + argv[0] + ": " + std::strerror(spawned));
    }
    ToolRun run;
    std::array<char, 4096> buf{};
    for (;;) {
        const ssize_t n = ::read(pipe_fds[0], buf.data(), buf.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        run.output.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(pipe_fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return make_error("waitpid " + argv[0] + ": " + std::strerror(errno));
    }
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return run;
}

std::string describe_failure(const std::vector<std::string>& argv, const ToolRun& run) {
    std::string text;
    for (const auto& a : argv)
        text += (text.empty() ? "" : " ") + a;
    std::string output = run.output;
    while (!output.empty() && (output.back() == '\n' || output.back() == ' '))
        output.pop_back();
    return text + ": exit " + std::to_string(run.exit_code) + ": " + output;
}

Result<BackendState> ip6tables_state(const std::string& tool,
                                     const std::vector<op::FirewallRule>& ours) {
    const std::vector<std::string> argv{tool, "-w", "-S", "FORWARD"};
    auto run = run_tool(argv);
    if (!run)
        return run.error();
    if (run->exit_code != 0)
        return make_error(describe_failure(argv, *run));
    std::vector<std::vector<std::string>> rules;
    BackendState state;
    std::size_t pos = 0;
    while (pos < run->output.size()) {
        auto end = run->output.find('\n', pos);
        if (end == std::string::npos)
            end = run->output.size();
        auto w = split_words(run->output.substr(pos, end - pos));
        pos = end + 1;
        if (w.size() >= 3 && w[0] == "-P" && w[1] == "FORWARD")
            state.drops = state.drops || w[2] == "DROP";
        if (w.size() < 2 || w[0] != "-A" || w[1] != "FORWARD")
            continue;
        const auto target = option(w, "-j");
        state.drops = state.drops || target == "DROP" || target == "REJECT";
        rules.push_back(std::move(w));
    }
    for (const op::FirewallRule& rule : ours) {
        for (const Direction& d : directions(rule)) {
            if (std::none_of(rules.begin(), rules.end(),
                             [&](const auto& w) { return listed_rule_is(w, d); })) {
                state.lost.push_back(rule);
                break;
            }
        }
    }
    return state;
}

Result<ApplyOutcome> add_accept(const op::FirewallRule& rule) {
    if (auto valid = validate(rule); !valid)
        return valid.error();
    const auto dirs = directions(rule);
    if (rule.backend == op::FirewallBackend::kNftables)
        return nft_add(tool_of(rule), dirs);
    return ip6tables_add(tool_of(rule), dirs);
}

Result<ApplyOutcome> remove_accept(const op::FirewallRule& rule) {
    if (auto valid = validate(rule); !valid)
        return valid.error();
    const auto dirs = directions(rule);
    if (rule.backend == op::FirewallBackend::kNftables)
        return nft_remove(tool_of(rule), dirs);
    return ip6tables_remove(tool_of(rule), dirs);
}

}  // namespace clat::firewall
