#include "tests/integration/harness.hpp"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sched.h>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <stdexcept>

namespace clat::test {
namespace {

std::pair<int, std::string> run(const std::string& command) {
    std::string out;
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (p == nullptr)
        throw std::runtime_error("popen failed: " + command);
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
        out.append(buf.data(), n);
    const int status = ::pclose(p);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return {code, out};
}

}  // namespace

std::string sh(const std::string& command) {
    auto [code, out] = run(command);
    if (code != 0) {
        throw std::runtime_error("command failed (" + std::to_string(code) + "): " + command +
                                 "\n" + out);
    }
    return out;
}

int sh_status(const std::string& command) {
    return run(command + " >/dev/null").first;
}

std::string snapshot() {
    std::string s;
    auto section = [&](const std::string& title, const std::string& command) {
        s += "## " + title + "\n" + run(command).second;
    };
    section("links", "ip -d -o link show | sed -E 's/ link\\/ether [0-9a-f:]+ brd [0-9a-f:]+//'");
    section("addresses", "ip -o addr show | sed -E 's/(valid|preferred)_lft [^ ]+//g'");
    section("routes4", "ip -4 route show table all");
    section("routes6", "ip -6 route show table all | sed -E 's/expires [0-9]+sec//'");
    section("rules4", "ip -4 rule show");
    section("rules6", "ip -6 rule show");
    section("neigh-proxy", "ip -6 neigh show proxy");
    section("sysctl",
            "for f in /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/*/forwarding "
            "/proc/sys/net/ipv6/conf/*/accept_ra /proc/sys/net/ipv6/conf/*/proxy_ndp "
            "/proc/sys/net/ipv6/conf/*/accept_dad; do echo \"$f=$(cat $f)\"; done");
    section("nft", "nft list ruleset 2>/dev/null");
    section("ip6tables",
            "ip6tables-save 2>/dev/null | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'");
    section("ip6tables-legacy",
            "ip6tables-legacy-save 2>/dev/null | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'");
    return s;
}

PeerNetns::PeerNetns() {
    int ready[2];
    if (::pipe(ready) != 0)
        throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0)
        throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::close(ready[0]);
        const char ok = ::unshare(CLONE_NEWNET) == 0 ? '1' : '0';
        (void)!::write(ready[1], &ok, 1);
        ::close(ready[1]);
        for (;;)
            ::pause();
    }
    ::close(ready[1]);
    char ok = '0';
    (void)!::read(ready[0], &ok, 1);
    ::close(ready[0]);
    if (ok != '1')
        throw std::runtime_error("unshare(CLONE_NEWNET) failed in the peer");
    sh("ip link set lo up");
}

PeerNetns::~PeerNetns() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

std::string PeerNetns::sh(const std::string& command) const {
    std::string quoted;
    for (char c : command)
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return test::sh("nsenter --net=/proc/" + std::to_string(pid_) + "/ns/net -- sh -c '" + quoted +
                    "'");
}

}  // namespace clat::test
