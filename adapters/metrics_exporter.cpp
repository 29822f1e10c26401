#include "adapters/metrics_exporter.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

namespace clat {
namespace {

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

MetricsExporter::MetricsExporter(boost::asio::io_context& io, const Config& config,
                                 CounterReader counters, std::function<std::int64_t()> monotonic_ms,
                                 std::function<std::optional<DataPathCounters>()> fast)
    : timer_(io),
      path_(config.metrics_file),
      interval_s_(config.metrics_interval),
      clat_dev_(config.clat_dev),
      clat_v4_(config.clat_v4_addr.to_string()),
      counters_(std::move(counters)),
      monotonic_ms_(std::move(monotonic_ms)),
      fast_(std::move(fast)) {}

metrics::Snapshot MetricsExporter::snapshot_of(const AgentView& view, const std::string& clat_dev,
                                               const std::string& clat_v4,
                                               const DeviceCounters& counters,
                                               std::int64_t now_monotonic_ms,
                                               std::int64_t now_unix_ms) {
    metrics::Snapshot s;
    s.state = view.machine.state;
    if (view.machine.plat) {
        s.plat_prefix = view.machine.plat->prefix.to_string();
        s.plat_source = std::string(to_string(view.machine.plat->source));
        if (view.machine.plat->expires_at_ms)
            s.plat_expiry_unix_ms =
                now_unix_ms + (*view.machine.plat->expires_at_ms - now_monotonic_ms);
    }
    s.clat_device = clat_dev;
    s.clat_ipv4 = clat_v4;
    if (view.machine.binding) {
        s.clat_ipv6 = view.machine.binding->clat_v6.to_string();
        s.plat_device = view.machine.binding->plat_dev;
    }
    s.translator_restarts = static_cast<std::uint64_t>(view.machine.translator_restarts);
    s.data_path = view.data_path.backend;
    // in: translated from IPv6 and delivered to the host (the device's RX); out: its TX.
    s.packets_in = counters.rx_packets;
    s.packets_out = counters.tx_packets;
    s.bytes_in = counters.rx_bytes;
    s.bytes_out = counters.tx_bytes;
    s.last_transition_unix_us = view.last_transition_unix_us;
    return s;
}

void MetricsExporter::publish(const AgentView& view) {
    view_ = view;
    write();
    arm();
}

void MetricsExporter::reconfigure(const Config& config) {
    if (path_ && path_ != config.metrics_file)
        remove(*path_);
    const bool changed = path_ != config.metrics_file || interval_s_ != config.metrics_interval;
    path_ = config.metrics_file;
    interval_s_ = config.metrics_interval;
    clat_dev_ = config.clat_dev;
    clat_v4_ = config.clat_v4_addr.to_string();
    if (changed && view_) {
        write();
        arm();
    }
}

void MetricsExporter::stop() {
    timer_.cancel();
    if (path_)
        remove(*path_);
}

void MetricsExporter::write() {
    if (!path_ || !view_)
        return;
    const auto counters =
        view_->machine.state == "Running" ? counters_(clat_dev_) : DeviceCounters{};
    auto snapshot =
        snapshot_of(*view_, clat_dev_, clat_v4_, counters, monotonic_ms_(), unix_ms_now());
    if (view_->machine.state == "Running" && fast_)
        snapshot.fast = fast_();
    const auto text = metrics::render(snapshot);
    if (auto written = metrics::write_file(*path_, text); !written) {
        if (written.error().message != last_error_) {
            spdlog::warn("metrics-file error={}", written.error().message);
            last_error_ = written.error().message;
        }
        return;
    }
    if (!last_error_.empty())
        spdlog::info("metrics-file path={} written again", *path_);
    last_error_.clear();
}

void MetricsExporter::arm() {
    timer_.cancel();
    if (!path_ || !view_ || view_->machine.state != "Running")
        return;
    timer_.expires_after(std::chrono::seconds(interval_s_));
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec)
            return;
        write();
        arm();
    });
}

void MetricsExporter::remove(const std::string& path) {
    if (auto removed = metrics::remove_file(path); !removed)
        spdlog::warn("metrics-file error={}", removed.error().message);
}

}  // namespace clat
