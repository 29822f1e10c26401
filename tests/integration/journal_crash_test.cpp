// SIGKILL at any point of provisioning, then a new instance's recover(): the namespace must
// look exactly as before the first instance started (SPEC §7).
#include <doctest/doctest.h>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "adapters/netlink_kernel.hpp"
#include "agent/executor.hpp"
#include "tests/integration/harness.hpp"

namespace clat::test {
namespace {

namespace fs = std::filesystem;
using namespace op;

const Ipv6Address kClatV6 = *Ipv6Address::parse("2001:db8:1::c1a7");

/// What clatd provisions in the proxy-ND mode, on uplink ct0 (a veth).
Plan provisioning_plan() {
    RouteV4 v4_default;
    v4_default.destination = *Ipv4Prefix::parse("0.0.0.0/0");
    v4_default.metric = 2048;
    v4_default.protocol = kRouteProtocol;
    v4_default.mtu = 1260;
    v4_default.advmss = 1220;
    RouteV6 to_clat;
    to_clat.destination = Ipv6Prefix::make(kClatV6, 128);
    to_clat.metric = 1024;
    to_clat.protocol = kRouteProtocol;
    RuleV6 rule;
    rule.priority = 1000;
    rule.table = 4242;
    rule.source = Ipv6Prefix::make(kClatV6, 128);
    return {
        CreateTun{"clat"},
        SetLinkMtu{"clat", 1480},
        SetLinkUp{"clat", true},
        AddAddressV4{"clat", *Ipv4Address::parse("192.0.0.1"), 32},
        AddAddressV6{"ct0", kClatV6, 128, false},
        AddRouteV4{"clat", v4_default},
        AddRouteV6{"clat", to_clat},
        AddRuleV6{rule},
        AddProxyNeighbour{"ct0", kClatV6},
        SetSysctl{"net/ipv6/conf/ct0/accept_ra", "2", std::nullopt},
        SetSysctl{"net/ipv6/conf/all/forwarding", "1", std::nullopt},
        SetSysctl{"net/ipv6/conf/ct0/proxy_ndp", "1", std::nullopt},
        SetSysctl{"net/ipv4/ip_forward", "1", std::nullopt},
    };
}

/// Forwards to the real kernel; after the stop_after-th operation it tells the parent and
/// waits to be killed, so the executor dies right after that change and before anything else.
class StoppingKernel : public KernelPort {
  public:
    StoppingKernel(KernelPort& real, int stop_after, int ready_fd)
        : real_(real), stop_after_(stop_after), ready_fd_(ready_fd) {}
    Result<ApplyOutcome> apply(const Operation& op) override {
        auto result = real_.apply(op);
        if (++count_ == stop_after_)
            signal_and_wait(result ? "" : result.error().message);
        return result;
    }
    Result<std::string> read_sysctl(const std::string& path) override {
        return real_.read_sysctl(path);
    }
    Result<std::vector<std::uint8_t>> save_route(const RemoveForeignRouteV4& o) override {
        return real_.save_route(o);
    }
    /// Reports "ok" (or the error) to the parent and sleeps until SIGKILL.
    [[noreturn]] void signal_and_wait(const std::string& error) {
        const std::string message = error.empty() ? "ok" : error;
        (void)!::write(ready_fd_, message.data(), message.size());
        ::close(ready_fd_);
        for (;;)
            ::pause();
    }

  private:
    KernelPort& real_;
    int stop_after_;
    int ready_fd_;
    int count_ = 0;
};

[[noreturn]] void run_instance(const fs::path& journal_dir, int stop_after, int ready_fd) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto real = NetlinkKernel::open();
    auto journal = UndoJournal::open(journal_dir.string(), "clat");
    if (!real || !journal) {
        const std::string error = !real ? real.error().message : journal.error().message;
        (void)!::write(ready_fd, error.data(), error.size());
        ::_exit(1);
    }
    StoppingKernel kernel(**real, stop_after, ready_fd);
    Executor executor(kernel, std::move(journal).value());
    auto applied = executor.apply(provisioning_plan());
    kernel.signal_and_wait(applied ? "" : "apply: " + applied.error().message);
}

/// Starts an instance that applies the plan and stops after stop_after operations (never,
/// if 0); returns its pid once it has stopped, or fails the test with the child's error.
pid_t start_instance(const fs::path& journal_dir, int stop_after) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(ready[0]);
        run_instance(journal_dir, stop_after, ready[1]);
    }
    ::close(ready[1]);
    std::string message(4096, '\0');
    const ssize_t n = ::read(ready[0], message.data(), message.size());
    ::close(ready[0]);
    message.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    REQUIRE_MESSAGE(message == "ok", "instance failed: " << message);
    return pid;
}

void kill_instance(pid_t pid) {
    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
}

/// Operstate and carrier settle asynchronously (linkwatch): wait up to 2 s for the namespace
/// to look as before.
void check_snapshot_returns_to(const std::string& before) {
    std::string now = snapshot();
    for (int i = 0; i < 20 && now != before; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        now = snapshot();
    }
    CHECK(now == before);
}

void recover_in_new_instance(const fs::path& journal_dir) {
    auto real = NetlinkKernel::open();
    REQUIRE_MESSAGE(real.ok(), (real.ok() ? "" : real.error().message));
    auto journal = UndoJournal::open(journal_dir.string(), "clat");
    REQUIRE_MESSAGE(journal.ok(), (journal.ok() ? "" : journal.error().message));
    CHECK(journal.value().load_problems().empty());
    CHECK_FALSE(journal.value().pending().empty());
    Executor executor(**real, std::move(journal).value());
    auto recovered = executor.recover();
    CHECK_MESSAGE(recovered.ok(), (recovered.ok() ? "" : recovered.error().message));
    CHECK(executor.applied().empty());
    CHECK_FALSE(fs::exists(executor.journal().path()));
}

struct Uplink {
    Uplink() {
        sh("ip link add ct0 type veth peer name ct0p && ip link set ct0 up && "
           "ip link set ct0p up && ip -6 addr add 2001:db8:1::1/64 dev ct0 nodad");
        // The baseline snapshot must not catch link-local addresses still in DAD.
        for (int i = 0; i < 50 && !sh("ip -6 addr show tentative").empty(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ~Uplink() { sh_status("ip link del ct0"); }
};

struct JournalDir {
    JournalDir() {
        std::string templ = (fs::temp_directory_path() / "clat-crash-XXXXXX").string();
        REQUIRE(::mkdtemp(templ.data()) != nullptr);
        path = fs::path(templ) / "run" / "clatd";
    }
    ~JournalDir() { fs::remove_all(path.parent_path().parent_path()); }
    fs::path path;
};

TEST_CASE("SIGKILL after provisioning, then recover(): the namespace is as before") {
    if (::access("/dev/net/tun", R_OK | W_OK) != 0)
        return;  // no TUN driver here: nothing to test
    Uplink uplink;
    JournalDir dir;
    const auto before = snapshot();
    const pid_t pid = start_instance(dir.path, 0);
    kill_instance(pid);
    // The dead instance's changes are all still there.
    CHECK(sh("ip -o link show clat").find("mtu 1480") != std::string::npos);
    CHECK(sh("ip -4 addr show dev clat").find("192.0.0.1/32") != std::string::npos);
    CHECK(sh("ip -4 route show default").find("dev clat proto 199 metric 2048") !=
          std::string::npos);
    CHECK(sh("ip -6 route show 2001:db8:1::c1a7").find("dev clat proto 199") != std::string::npos);
    CHECK(sh("ip -6 rule show").find("from 2001:db8:1::c1a7 lookup 4242") != std::string::npos);
    CHECK(sh("ip -6 neigh show proxy").find("2001:db8:1::c1a7 dev ct0") != std::string::npos);
    CHECK(sh("cat /proc/sys/net/ipv6/conf/all/forwarding") == "1\n");
    CHECK(sh("cat /proc/sys/net/ipv4/ip_forward") == "1\n");
    recover_in_new_instance(dir.path);
    check_snapshot_returns_to(before);
}

TEST_CASE("SIGKILL right after any single change, then recover(): the namespace is as before") {
    if (::access("/dev/net/tun", R_OK | W_OK) != 0)
        return;
    Uplink uplink;
    const auto before = snapshot();
    const int steps = static_cast<int>(provisioning_plan().size());
    for (int stop_after = 1; stop_after <= steps; ++stop_after) {
        CAPTURE(stop_after);
        JournalDir dir;
        const pid_t pid = start_instance(dir.path, stop_after);
        kill_instance(pid);
        CHECK(snapshot() != before);
        recover_in_new_instance(dir.path);
        check_snapshot_returns_to(before);
    }
}

TEST_CASE(
    "an uplink renamed after provisioning: recover() restores its sysctls and removes its proxy "
    "entry by ifindex") {
    // The uplink's sysctls are saved by device index: renamed (host0 -> wan0), undo must
    // write the new name's sysctls, not fail on the old path and leave proxy_ndp at 1.
    sh("ip link add cr0 type veth peer name cr0p && ip link set cr0 up && ip link set cr0p up");
    struct Cleanup {
        ~Cleanup() { sh_status("ip link del cr0p"); }
    } cleanup;
    const std::string proxy_before = sh("cat /proc/sys/net/ipv6/conf/cr0/proxy_ndp");
    const std::string ra_before = sh("cat /proc/sys/net/ipv6/conf/cr0/accept_ra");
    REQUIRE(proxy_before == "0\n");
    JournalDir dir;
    {
        auto real = NetlinkKernel::open();
        REQUIRE(real.ok());
        auto journal = UndoJournal::open(dir.path.string(), "clat");
        REQUIRE(journal.ok());
        Executor executor(**real, std::move(journal).value());
        const Plan plan{SetSysctl{"net/ipv6/conf/cr0/proxy_ndp", "1", std::nullopt},
                        SetSysctl{"net/ipv6/conf/cr0/accept_ra", "2", std::nullopt},
                        AddProxyNeighbour{"cr0", *Ipv6Address::parse("2001:db8:1::c1a7")}};
        auto applied = executor.apply(plan);
        REQUIRE_MESSAGE(applied.ok(), (applied.ok() ? "" : applied.error().message));
    }  // the instance is gone without undoing: its journal stays
    CHECK(sh("cat /proc/sys/net/ipv6/conf/cr0/proxy_ndp") == "1\n");
    // The rename takes the device down, which flushes its proxy entries: put one back, as the
    // agent's poll would, so that the undo has something to remove on the renamed device.
    sh("ip link set cr0 down && ip link set cr0 name cr0w && ip link set cr0w up");
    sh("ip -6 neigh add proxy 2001:db8:1::c1a7 dev cr0w");
    recover_in_new_instance(dir.path);
    CHECK(sh("cat /proc/sys/net/ipv6/conf/cr0w/proxy_ndp") == proxy_before);
    CHECK(sh("cat /proc/sys/net/ipv6/conf/cr0w/accept_ra") == ra_before);
    // The proxy entry is removed from the renamed device (journalled with its ifindex).
    CHECK(sh("ip -6 neigh show proxy dev cr0w") == "");
}

}  // namespace
}  // namespace clat::test
