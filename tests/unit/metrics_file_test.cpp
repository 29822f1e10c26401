#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "adapters/metrics_file.hpp"

namespace clat::test {
namespace {

namespace fs = std::filesystem;
using metrics::Snapshot;

/// A fresh directory under /tmp, removed with its contents at the end of the test.
class TempDir {
  public:
    TempDir() {
        std::string templ = (fs::temp_directory_path() / "clat-metrics-XXXXXX").string();
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

void put(const fs::path& path, const std::string& text) {
    std::ofstream(path) << text;
}

std::size_t entries(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir))
        ++n;
    return n;
}

Snapshot running_sample() {
    Snapshot s;
    s.state = "Running";
    s.plat_prefix = "2001:db8:64::/96";
    s.plat_source = "dns64";
    s.plat_expiry_unix_ms = 1'700'000'300'500;
    s.clat_device = "clat";
    s.clat_ipv4 = "192.0.0.1";
    s.clat_ipv6 = "2001:db8:1::c1a7";
    s.plat_device = "eth0";
    s.translator_restarts = 3;
    s.packets_in = 10;
    s.packets_out = 12;
    s.bytes_in = 840;
    s.bytes_out = 1008;
    s.last_transition_unix_us = 1'700'000'000'123'456;
    return s;
}

constexpr std::string_view kRunningGolden =
    R"(# HELP clatd_state 1 for the state the agent is in, 0 for the others.
# TYPE clatd_state gauge
clatd_state{state="Idle"} 0
clatd_state{state="ProbeV4"} 0
clatd_state{state="DiscoverPLAT"} 0
clatd_state{state="Provision"} 0
clatd_state{state="Running"} 1
clatd_state{state="Failed"} 0
clatd_state{state="Teardown"} 0
clatd_state{state="Stopped"} 0
# HELP clatd_plat_info The PLAT prefix in use (RFC 6052) and where it was learned.
# TYPE clatd_plat_info gauge
clatd_plat_info{prefix="2001:db8:64::/96",source="dns64"} 1
# HELP clatd_clat_info The CLAT in use: its device and addresses, and the PLAT-facing device.
# TYPE clatd_clat_info gauge
clatd_clat_info{device="clat",ipv4="192.0.0.1",ipv6="2001:db8:1::c1a7",plat_device="eth0"} 1
# HELP clatd_plat_prefix_expiry_timestamp_seconds When the PLAT prefix lapses unless it is refreshed, in Unix time.
# TYPE clatd_plat_prefix_expiry_timestamp_seconds gauge
clatd_plat_prefix_expiry_timestamp_seconds 1700000300.5
# HELP clatd_translator_restarts_total Times the translator was restarted after it exited.
# TYPE clatd_translator_restarts_total counter
clatd_translator_restarts_total 3
# HELP clatd_data_path_info The data path carrying the translated packets.
# TYPE clatd_data_path_info gauge
clatd_data_path_info{path="tayga"} 1
# HELP clatd_packets_total Packets through the CLAT device; in: to the host, out: from the host.
# TYPE clatd_packets_total counter
clatd_packets_total{direction="in"} 10
clatd_packets_total{direction="out"} 12
# HELP clatd_bytes_total Bytes through the CLAT device; in: to the host, out: from the host.
# TYPE clatd_bytes_total counter
clatd_bytes_total{direction="in"} 840
clatd_bytes_total{direction="out"} 1008
# HELP clatd_last_transition_timestamp_seconds When the agent last changed state, in Unix time.
# TYPE clatd_last_transition_timestamp_seconds gauge
clatd_last_transition_timestamp_seconds 1700000000.123456
)";

}  // namespace

TEST_CASE("metrics: a running agent renders to the exact exposition text") {
    CHECK(metrics::render(running_sample()) == kRunningGolden);
}

TEST_CASE("metrics: what is not known has no sample (and no HELP or TYPE line)") {
    Snapshot s;
    s.state = "DiscoverPLAT";
    const std::string text = metrics::render(s);
    CHECK(text.find("clatd_state{state=\"DiscoverPLAT\"} 1\n") != std::string::npos);
    CHECK(text.find("clatd_plat_info") == std::string::npos);
    CHECK(text.find("clatd_plat_prefix_expiry") == std::string::npos);
    CHECK(text.find("clatd_last_transition") == std::string::npos);
    CHECK(text.find("clatd_translator_restarts_total 0\n") != std::string::npos);
    CHECK(text.find("clatd_packets_total{direction=\"out\"} 0\n") != std::string::npos);

    s.plat_prefix = "2001:db8:64::/96";
    s.plat_source = "config";
    const std::string configured = metrics::render(s);
    CHECK(configured.find("clatd_plat_info{prefix=\"2001:db8:64::/96\",source=\"config\"} 1\n") !=
          std::string::npos);
    CHECK(configured.find("clatd_plat_prefix_expiry") == std::string::npos);
}

TEST_CASE("metrics: the eBPF fast path's counters, only when it is in use") {
    Snapshot s = running_sample();
    CHECK(metrics::render(s).find("clatd_fast_path") == std::string::npos);
    DataPathCounters fast;
    fast.egress_packets = 7;
    fast.egress_bytes = 700;
    fast.ingress_packets = 9;
    fast.ingress_bytes = 900;
    fast.slow_path = {{"fragment", 3}, {"options", 0}};
    fast.dropped = {{"store", 1}};
    s.data_path = "bpf";
    s.fast = fast;
    const std::string text = metrics::render(s);
    CHECK(text.find("clatd_data_path_info{path=\"bpf\"} 1\n") != std::string::npos);
    CHECK(text.find("# TYPE clatd_fast_path_packets_total counter\n"
                    "clatd_fast_path_packets_total{direction=\"in\"} 9\n"
                    "clatd_fast_path_packets_total{direction=\"out\"} 7\n") != std::string::npos);
    CHECK(text.find("clatd_fast_path_bytes_total{direction=\"in\"} 900\n") != std::string::npos);
    CHECK(text.find("clatd_fast_path_left_total{reason=\"fragment\"} 3\n"
                    "clatd_fast_path_left_total{reason=\"options\"} 0\n") != std::string::npos);
    CHECK(text.find("clatd_fast_path_dropped_total{reason=\"store\"} 1\n") != std::string::npos);
    // The slow path's own counters stay what the CLAT device counts.
    CHECK(text.find("clatd_packets_total{direction=\"out\"} 12\n") != std::string::npos);
}

TEST_CASE("metrics: every state has its gauge, and exactly one is 1") {
    for (auto state : metrics::kStateNames) {
        CAPTURE(state);
        Snapshot s;
        s.state = std::string(state);
        const std::string text = metrics::render(s);
        int ones = 0;
        for (auto other : metrics::kStateNames) {
            const std::string line = "clatd_state{state=\"" + std::string(other) + "\"} ";
            const auto at = text.find(line);
            REQUIRE(at != std::string::npos);
            const char value = text[at + line.size()];
            CHECK(value == (other == state ? '1' : '0'));
            ones += value == '1' ? 1 : 0;
        }
        CHECK(ones == 1);
    }
    Snapshot unknown;
    unknown.state = "Elsewhere";
    const std::string text = metrics::render(unknown);
    for (auto other : metrics::kStateNames) {
        CAPTURE(other);
        CHECK(text.find("clatd_state{state=\"" + std::string(other) + "\"} 0\n") !=
              std::string::npos);
    }
    CHECK(text.find("Elsewhere") == std::string::npos);
}

TEST_CASE("metrics: label values are escaped as the text format wants") {
    CHECK(metrics::escape_label_value("plain") == "plain");
    CHECK(metrics::escape_label_value(R"(a\b)") == R"(a\\b)");
    CHECK(metrics::escape_label_value(R"(say "hi")") == R"(say \"hi\")");
    CHECK(metrics::escape_label_value("two\nlines") == R"(two\nlines)");
    CHECK(metrics::escape_label_value("\\\"\n") == R"(\\\"\n)");
    Snapshot s;
    s.state = "Running";
    s.plat_prefix = "odd\"prefix";
    s.plat_source = "back\\slash\nnewline";
    s.data_path = "ta\"yga";
    const std::string text = metrics::render(s);
    CHECK(text.find(R"(clatd_plat_info{prefix="odd\"prefix",source="back\\slash\nnewline"} 1)") !=
          std::string::npos);
    CHECK(text.find(R"(clatd_data_path_info{path="ta\"yga"} 1)") != std::string::npos);
}

TEST_CASE("metrics: timestamps are exact decimals of the Unix time") {
    Snapshot s;
    s.plat_expiry_unix_ms = 1'700'000'000'000;
    s.last_transition_unix_us = 1'700'000'000'000'010;
    const std::string text = metrics::render(s);
    CHECK(text.find("clatd_plat_prefix_expiry_timestamp_seconds 1700000000\n") !=
          std::string::npos);
    CHECK(text.find("clatd_last_transition_timestamp_seconds 1700000000.00001\n") !=
          std::string::npos);
}

TEST_CASE("metrics file: written whole, readable by all, replaced atomically, removed") {
    TempDir dir;
    const fs::path path = dir.path() / "clatd.prom";
    const mode_t old_umask = ::umask(077);
    const Status first = metrics::write_file(path.string(), "first 1\n");
    ::umask(old_umask);
    REQUIRE_MESSAGE(first.ok(), first.error().message);
    CHECK(read(path) == "first 1\n");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);

    // Another name for the old file still sees the old text: the new one was renamed in.
    const fs::path old_link = dir.path() / "old";
    fs::create_hard_link(path, old_link);
    const std::string big(100'000, 'x');
    REQUIRE(metrics::write_file(path.string(), big).ok());
    CHECK(read(path) == big);
    CHECK(read(old_link) == "first 1\n");
    CHECK(entries(dir.path()) == 2);  // no temporary file left behind

    REQUIRE(metrics::remove_file(path.string()).ok());
    CHECK_FALSE(fs::exists(path));
    CHECK(metrics::remove_file(path.string()).ok());  // already gone: fine
}

TEST_CASE("metrics file: a symlink in its place is replaced, not written through") {
    TempDir dir;
    const fs::path target = dir.path() / "elsewhere";
    put(target, "keep\n");
    const fs::path path = dir.path() / "clatd.prom";
    fs::create_symlink(target, path);
    REQUIRE(metrics::write_file(path.string(), "m 1\n").ok());
    CHECK(read(target) == "keep\n");
    CHECK_FALSE(fs::is_symlink(path));
    CHECK(read(path) == "m 1\n");
}

TEST_CASE("metrics file: errors name the path and the cause, and leave nothing behind") {
    TempDir dir;
    const fs::path missing = dir.path() / "no-such-dir" / "clatd.prom";
    const Status no_dir = metrics::write_file(missing.string(), "m 1\n");
    REQUIRE_FALSE(no_dir.ok());
    CHECK(no_dir.error().message ==
          "metrics file " + missing.string() + ": cannot create a temporary file in " +
              (dir.path() / "no-such-dir").string() + "/: No such file or directory");

    // rename() cannot put a file over a directory: the directory stays, the temporary goes.
    const fs::path occupied = dir.path() / "clatd.prom";
    fs::create_directory(occupied);
    const Status over_dir = metrics::write_file(occupied.string(), "m 1\n");
    REQUIRE_FALSE(over_dir.ok());
    CHECK(over_dir.error().message.starts_with("metrics file " + occupied.string() +
                                               ": cannot rename "));
    CHECK(over_dir.error().message.ends_with(" into place: Is a directory"));
    CHECK(fs::is_directory(occupied));
    CHECK(entries(dir.path()) == 1);

    const Status remove_dir = metrics::remove_file(occupied.string());
    REQUIRE_FALSE(remove_dir.ok());
    CHECK(remove_dir.error().message ==
          "metrics file " + occupied.string() + ": cannot remove it: Is a directory");
}

}  // namespace clat::test
