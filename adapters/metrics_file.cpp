#include "adapters/metrics_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

namespace clat::metrics {
namespace {

// A family's HELP and TYPE lines; the samples follow.
void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

using Label = std::pair<std::string_view, std::string_view>;

void sample(std::string& out, std::string_view name, std::initializer_list<Label> labels,
            std::string_view value) {
    out.append(name);
    if (labels.size() != 0) {
        out.append("{");
        bool first = true;
        for (const auto& [label, text] : labels) {
            out.append(first ? "" : ",").append(label).append("=\"");
            out.append(escape_label_value(text)).append("\"");
            first = false;
        }
        out.append("}");
    }
    out.append(" ").append(value).append("\n");
}

// value / scale as a decimal without a float's rounding: 1700000000123456 us ->
// "1700000000.123456", 1700000000500 ms -> "1700000000.5", 1700000000000 ms -> "1700000000".
std::string fixed_point(std::int64_t value, std::int64_t scale) {
    const bool negative = value < 0;
    const std::uint64_t magnitude =
        negative ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
    const auto unit = static_cast<std::uint64_t>(scale);
    std::string out = (negative ? "-" : "") + std::to_string(magnitude / unit);
    if (magnitude % unit != 0) {
        std::string fraction = std::to_string(unit + magnitude % unit).substr(1);
        while (fraction.back() == '0')
            fraction.pop_back();
        out += "." + fraction;
    }
    return out;
}

void render_state(std::string& out, std::string_view state) {
    family(out, "clatd_state", "gauge", "1 for the state the agent is in, 0 for the others.");
    for (auto name : kStateNames)
        sample(out, "clatd_state", {{"state", name}}, name == state ? "1" : "0");
}

void render_plat(std::string& out, const Snapshot& s) {
    if (s.plat_prefix) {
        family(out, "clatd_plat_info", "gauge",
               "The PLAT prefix in use (RFC 6052) and where it was learned.");
        sample(out, "clatd_plat_info", {{"prefix", *s.plat_prefix}, {"source", s.plat_source}},
               "1");
    }
    if (s.clat_ipv6) {
        family(out, "clatd_clat_info", "gauge",
               "The CLAT in use: its device and addresses, and the PLAT-facing device.");
        sample(out, "clatd_clat_info",
               {{"device", s.clat_device},
                {"ipv4", s.clat_ipv4},
                {"ipv6", *s.clat_ipv6},
                {"plat_device", s.plat_device}},
               "1");
    }
    if (s.plat_expiry_unix_ms) {
        family(out, "clatd_plat_prefix_expiry_timestamp_seconds", "gauge",
               "When the PLAT prefix lapses unless it is refreshed, in Unix time.");
        sample(out, "clatd_plat_prefix_expiry_timestamp_seconds", {},
               fixed_point(*s.plat_expiry_unix_ms, 1000));
    }
}

void render_counters(std::string& out, const Snapshot& s) {
    family(out, "clatd_translator_restarts_total", "counter",
           "Times the translator was restarted after it exited.");
    sample(out, "clatd_translator_restarts_total", {}, std::to_string(s.translator_restarts));
    family(out, "clatd_data_path_info", "gauge", "The data path carrying the translated packets.");
    sample(out, "clatd_data_path_info", {{"path", s.data_path}}, "1");
    family(out, "clatd_packets_total", "counter",
           "Packets through the CLAT device; in: to the host, out: from the host.");
    sample(out, "clatd_packets_total", {{"direction", "in"}}, std::to_string(s.packets_in));
    sample(out, "clatd_packets_total", {{"direction", "out"}}, std::to_string(s.packets_out));
    family(out, "clatd_bytes_total", "counter",
           "Bytes through the CLAT device; in: to the host, out: from the host.");
    sample(out, "clatd_bytes_total", {{"direction", "in"}}, std::to_string(s.bytes_in));
    sample(out, "clatd_bytes_total", {{"direction", "out"}}, std::to_string(s.bytes_out));
    if (!s.fast)
        return;
    const DataPathCounters& f = *s.fast;
    family(out, "clatd_fast_path_packets_total", "counter",
           "Packets the eBPF programs translated; in: to the host, out: from the host.");
    sample(out, "clatd_fast_path_packets_total", {{"direction", "in"}},
           std::to_string(f.ingress_packets));
    sample(out, "clatd_fast_path_packets_total", {{"direction", "out"}},
           std::to_string(f.egress_packets));
    family(out, "clatd_fast_path_bytes_total", "counter",
           "Bytes the eBPF programs translated; in: to the host, out: from the host.");
    sample(out, "clatd_fast_path_bytes_total", {{"direction", "in"}},
           std::to_string(f.ingress_bytes));
    sample(out, "clatd_fast_path_bytes_total", {{"direction", "out"}},
           std::to_string(f.egress_bytes));
    family(out, "clatd_fast_path_left_total", "counter",
           "Packets the eBPF programs left to TAYGA (the slow path), by reason.");
    for (const auto& [reason, n] : f.slow_path)
        sample(out, "clatd_fast_path_left_total", {{"reason", reason}}, std::to_string(n));
    family(out, "clatd_fast_path_dropped_total", "counter",
           "Packets the eBPF programs dropped, by reason.");
    for (const auto& [reason, n] : f.dropped)
        sample(out, "clatd_fast_path_dropped_total", {{"reason", reason}}, std::to_string(n));
}

std::string failure(std::string_view what, const std::string& path, int error) {
    return "metrics file " + path + ": " + std::string(what) + ": " + std::strerror(error);
}

// Writes all of text to fd, retrying short writes and EINTR; 0 or an errno value.
int write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
    return 0;
}

// Creates a temporary file next to path, named ".NAME.RANDOM.tmp" so that the collector (which
// reads only *.prom) skips it; O_EXCL|O_NOFOLLOW never reuse or follow anything already there.
Result<std::pair<int, std::string>> create_temporary(const std::string& path) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    std::random_device random;
    constexpr int kAttempts = 16;
    int error = EEXIST;
    for (int i = 0; i < kAttempts && error == EEXIST; ++i) {
        char suffix[24];
        std::snprintf(suffix, sizeof suffix, ".%08x%08x.tmp", random(), random());
        std::string temporary = dir + "." + name + suffix;
        const int fd =
            ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0)
            return std::pair{fd, std::move(temporary)};
        error = errno;
    }
    return make_error(failure("cannot create a temporary file in " + dir, path, error));
}

}  // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string render(const Snapshot& snapshot) {
    std::string out;
    render_state(out, snapshot.state);
    render_plat(out, snapshot);
    render_counters(out, snapshot);
    if (snapshot.last_transition_unix_us != 0) {
        family(out, "clatd_last_transition_timestamp_seconds", "gauge",
               "When the agent last changed state, in Unix time.");
        sample(out, "clatd_last_transition_timestamp_seconds", {},
               fixed_point(snapshot.last_transition_unix_us, 1'000'000));
    }
    return out;
}

Status write_file(const std::string& path, std::string_view text) {
    auto created = create_temporary(path);
    if (!created)
        return created.error();
    auto [fd, temporary] = std::move(*created);
    // The unit's UMask=0077 would leave the file unreadable to node_exporter's own user.
    int error = ::fchmod(fd, 0644) != 0 ? errno : write_all(fd, text);
    std::string what = error != 0 ? "cannot write " + temporary : "";
    if (::close(fd) != 0 && error == 0) {
        error = errno;
        what = "cannot write " + temporary;
    }
    if (error == 0 && ::rename(temporary.c_str(), path.c_str()) != 0) {
        error = errno;
        what = "cannot rename " + temporary + " into place";
    }
    if (error != 0) {
        ::unlink(temporary.c_str());
        return make_error(failure(what, path, error));
    }
    return Ok{};
}

Status remove_file(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        const int error = errno;
        return make_error(failure("cannot remove it", path, error));
    }
    return Ok{};
}

}  // namespace clat::metrics
