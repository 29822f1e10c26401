// The metrics file as the agent's status sink: written on every view, rewritten while Running
// at metrics-interval with fresh counters, moved by a reload, removed on stop.

#include <doctest/doctest.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "adapters/metrics_exporter.hpp"
#include "tests/values.hpp"

namespace clat::test {
namespace {

namespace fs = std::filesystem;

class TempDir {
  public:
    TempDir() {
        std::string templ = (fs::temp_directory_path() / "clat-exporter-XXXXXX").string();
        REQUIRE(::mkdtemp(templ.data()) != nullptr);
        path_ = templ;
    }
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

std::string read(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

AgentView view_in(const char* state) {
    AgentView view;
    view.machine.state = state;
    view.machine.plat = PlatChoice{p6("2001:db8:64::/96"), PlatSource::Dns64, 40'000};
    view.machine.binding = Binding{"eth0", v6("2001:db8:1::c1a7"), std::nullopt};
    view.machine.translator_restarts = 2;
    view.data_path.backend = "tayga";
    view.last_transition_unix_us = 1'700'000'000'000'000;
    return view;
}

/// Runs the io_context for `ms` of real time.
void run_for(boost::asio::io_context& io, int ms) {
    boost::asio::steady_timer stop(io, std::chrono::milliseconds(ms));
    stop.async_wait([&](const boost::system::error_code&) { io.stop(); });
    io.restart();
    io.run();
}

}  // namespace

TEST_CASE("metrics snapshot: the expiry moves from the monotonic clock to the wall clock") {
    const DeviceCounters counters{10, 12, 1000, 1200};
    const auto s = MetricsExporter::snapshot_of(view_in("Running"), "clat", "192.0.0.1", counters,
                                                10'000, 1'700'000'000'000);
    CHECK(s.state == "Running");
    CHECK(s.plat_prefix == "2001:db8:64::/96");
    CHECK(s.plat_source == "dns64");
    CHECK(s.plat_expiry_unix_ms == 1'700'000'030'000);  // 30 s left
    CHECK(s.clat_device == "clat");
    CHECK(s.clat_ipv4 == "192.0.0.1");
    CHECK(s.clat_ipv6 == "2001:db8:1::c1a7");
    CHECK(s.plat_device == "eth0");
    CHECK(s.translator_restarts == 2);
    CHECK(s.data_path == "tayga");
    CHECK(s.packets_in == 10);
    CHECK(s.bytes_out == 1200);
    CHECK(s.last_transition_unix_us == 1'700'000'000'000'000);
}

TEST_CASE("metrics file: written per view, rewritten while Running, moved, removed on stop") {
    TempDir dir;
    Config config;
    config.metrics_file = (dir.path() / "clatd.prom").string();
    config.metrics_interval = 1;
    boost::asio::io_context io;
    std::uint64_t packets = 5;
    int reads = 0;
    MetricsExporter exporter(
        io, config,
        [&](const std::string& dev) {
            ++reads;
            CHECK(dev == "clat");
            return DeviceCounters{packets, 0, 0, 0};
        },
        [] { return std::int64_t{10'000}; });

    exporter.publish(view_in("Provision"));
    CHECK(read(*config.metrics_file).find("clatd_state{state=\"Provision\"} 1") !=
          std::string::npos);
    CHECK(reads == 0);  // no counters outside Running
    run_for(io, 1'300);
    CHECK(reads == 0);  // and no rewrites

    exporter.publish(view_in("Running"));
    CHECK(reads == 1);
    CHECK(read(*config.metrics_file).find("clatd_packets_total{direction=\"in\"} 5\n") !=
          std::string::npos);
    packets = 77;
    run_for(io, 1'300);  // one interval
    CHECK(reads == 2);
    CHECK(read(*config.metrics_file).find("clatd_packets_total{direction=\"in\"} 77\n") !=
          std::string::npos);

    Config moved = config;
    moved.metrics_file = (dir.path() / "other.prom").string();
    exporter.reconfigure(moved);
    CHECK_FALSE(fs::exists(*config.metrics_file));
    CHECK(fs::exists(*moved.metrics_file));

    Config off = moved;
    off.metrics_file.reset();
    exporter.reconfigure(off);
    CHECK_FALSE(fs::exists(*moved.metrics_file));
    exporter.reconfigure(moved);
    exporter.stop();
    CHECK_FALSE(fs::exists(*moved.metrics_file));
    CHECK(fs::is_empty(dir.path()));
}

TEST_CASE("metrics file: a directory that cannot be written leaves the agent running") {
    TempDir dir;
    Config config;
    config.metrics_file = (dir.path() / "missing" / "clatd.prom").string();
    boost::asio::io_context io;
    MetricsExporter exporter(
        io, config, [](const std::string&) { return DeviceCounters{}; },
        [] { return std::int64_t{0}; });
    exporter.publish(view_in("Idle"));
    exporter.publish(view_in("ProbeV4"));
    CHECK_FALSE(fs::exists(*config.metrics_file));
    exporter.stop();
}

}  // namespace clat::test
