#pragma once
/// The metrics file as a status sink (SPEC §10, `metrics-file`): rewritten on every change of
/// the agent's view and every `metrics-interval` seconds while Running (the counters move),
/// moved when a reload changes the path, and removed on stop. Off when metrics-file is unset.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "adapters/metrics_file.hpp"
#include "ports/counters.hpp"
#include "ports/status_sink.hpp"

namespace clat {

class MetricsExporter final : public StatusSink {
  public:
    /// `counters` reads a device's counters; `monotonic_ms` is the clock the machine's
    /// expiry times are on (the wall clock is read for the file).
    /// `fast` reads the data path's fast-path counters (DataPathPort::counters()).
    MetricsExporter(boost::asio::io_context& io, const Config& config, CounterReader counters,
                    std::function<std::int64_t()> monotonic_ms,
                    std::function<std::optional<DataPathCounters>()> fast = {});

    void publish(const AgentView& view) override;
    void reconfigure(const Config& config) override;
    /// Removes the file and stops the interval timer.
    void stop();

    /// The snapshot the file shows for this view, at these clocks (pure; for tests).
    static metrics::Snapshot snapshot_of(const AgentView& view, const std::string& clat_dev,
                                         const std::string& clat_v4, const DeviceCounters& counters,
                                         std::int64_t now_monotonic_ms, std::int64_t now_unix_ms);

  private:
    void write();
    void arm();
    void remove(const std::string& path);

    boost::asio::steady_timer timer_;
    std::optional<std::string> path_;
    std::uint32_t interval_s_;
    std::string clat_dev_;
    std::string clat_v4_;
    CounterReader counters_;
    std::function<std::int64_t()> monotonic_ms_;
    std::function<std::optional<DataPathCounters>()> fast_;
    std::optional<AgentView> view_;
    std::string last_error_;  ///< logged once until it changes or a write succeeds
};

}  // namespace clat
