// The TAYGA data path's watchdog against real TAYGA on a real tun: a healthy TAYGA answers the
// echo probes through the tun and is left alone; a stopped one (SIGSTOP: alive, translating
// nothing) is found, killed and reported as hung, so that the machine restarts it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <optional>
#include <variant>
#include <vector>

#include "adapters/device_counters.hpp"
#include "adapters/tayga_data_path.hpp"
#include "tests/integration/harness.hpp"
#include "tests/integration/loop.hpp"

using namespace std::chrono_literals;
using clat::test::run_until;
using clat::test::sh;

namespace {

std::uint64_t tun_reads(const std::string& dev) {
    return clat::read_device_counters(dev).tx_packets;
}

/// A tun of the test's own, set up as the agent would (address, route to TAYGA's address),
/// and a TaygaDataPath on it with a fast watchdog. The tun goes when the test ends.
struct Bed {
    std::string dev;
    std::string dir;
    boost::asio::io_context io;
    clat::ChildReaper reaper{io};
    std::optional<clat::TaygaDataPath> data_path;
    std::vector<clat::Event> events;

    explicit Bed(std::string name) : dev(std::move(name)) {
        char tmpl[] = "/tmp/clatd-watchdog-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        sh("ip tuntap add dev " + dev + " mode tun && ip link set " + dev + " up && " +
           "ip addr add 192.0.0.1/32 dev " + dev + " && ip route add 192.0.0.2/32 dev " + dev);
        data_path.emplace(io, reaper, dir, clat::TaygaDataPath::Watchdog{300ms, 300ms, 3});
        clat::Config config;
        config.clat_dev = dev;
        data_path->configure(config);
        data_path->subscribe([this](clat::Event e) { events.push_back(std::move(e)); });
    }
    Bed(const Bed&) = delete;
    Bed& operator=(const Bed&) = delete;
    ~Bed() {
        if (data_path && data_path->info().running) {
            data_path->stop();
            run_until(
                io, [&] { return !data_path->info().running; }, 5s);
        }
        data_path.reset();
        clat::test::sh_status("ip link del " + dev);
        clat::test::sh_status("rm -rf " + dir);
    }
    void start() {
        data_path->start({*clat::Ipv6Prefix::parse("2001:db8:64::/96"),
                          *clat::Ipv6Address::parse("2001:db8:1::c1a7"), ""});
        REQUIRE(run_until(io, [&] { return started(); }));
    }
    bool started() const {
        for (const auto& e : events) {
            if (std::holds_alternative<clat::event::DataPathStarted>(e))
                return true;
        }
        return false;
    }
    std::optional<clat::event::DataPathExited> exited() const {
        for (const auto& e : events) {
            if (const auto* x = std::get_if<clat::event::DataPathExited>(&e))
                return *x;
        }
        return std::nullopt;
    }
};

}  // namespace

TEST_CASE("watchdog: a healthy TAYGA answers the probes through its tun and is left alone") {
    Bed bed("clat-wd1");
    bed.start();
    const auto pid = *bed.data_path->info().process_id;
    const auto reads = tun_reads(bed.dev);
    // Nothing else goes through: every look finds no reads, so each one probes.
    run_until(
        bed.io, [] { return false; }, 2500ms);
    CHECK_FALSE(bed.exited());
    CHECK(bed.data_path->info().process_id == pid);
    CHECK(tun_reads(bed.dev) >= reads + 3);  // the probes went through TAYGA
}

TEST_CASE("watchdog: a stopped TAYGA is killed and reported as hung") {
    Bed bed("clat-wd2");
    bed.start();
    const auto pid = *bed.data_path->info().process_id;
    REQUIRE(::kill(pid, SIGSTOP) == 0);
    REQUIRE(run_until(
        bed.io, [&] { return bed.exited().has_value(); }, 5s));
    const auto status = bed.exited()->status;
    CAPTURE(status);
    CHECK(status.rfind("hung: nothing read from clat-wd2 and 3 echo probes to 192.0.0.2 "
                       "unanswered (no echo reply from 192.0.0.2 within 300 ms), killed",
                       0) == 0);
    CHECK_FALSE(bed.data_path->info().running);
    CHECK(::kill(pid, 0) != 0);  // reaped, not left stopped
}
