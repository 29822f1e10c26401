#pragma once
/// Bridges the agent and its D-Bus service: the agent's StatusSink (its view becomes the
/// immutable status snapshot, a reload's admin group the bus policy), and the service's
/// ControlHandler (Reload() and Rediscover() go to the agent's one reload path).

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dbus/service.hpp"
#include "ports/counters.hpp"
#include "ports/status_sink.hpp"

namespace clat {

/// "reason=N ..." of the nonzero counts.
std::string counts_text(const std::vector<std::pair<std::string, std::uint64_t>>& counts);

/// The D-Bus counters: the CLAT device's and the fast path's.
dbus::Counters to_dbus_counters(const DeviceCounters& device,
                                const std::optional<DataPathCounters>& fast);

/// The D-Bus status snapshot of an agent view (expiry converted to UNIX time).
dbus::AgentStatus to_dbus_status(const AgentView& view, const Config& config,
                                 std::int64_t now_monotonic_ms, std::int64_t now_unix_ms);

class ControlPlane final : public dbus::ControlHandler, public StatusSink {
  public:
    /// The fast path's counters, read on demand (DataPathPort::counters()).
    using FastCounterReader = std::function<std::optional<DataPathCounters>()>;
    /// `counters` reads the CLAT device's counters for the D-Bus properties, `fast` the data
    /// path's.
    ControlPlane(boost::asio::io_context& io, const Config& config, CounterReader counters,
                 FastCounterReader fast = {});
    /// Where Reload() and Rediscover() go (the agent); set before start().
    void attach(std::function<Status()> reload, std::function<void()> rediscover);
    /// Connects to the bus (retrying in the background when it is not there yet).
    void start();
    void stop();

    // dbus::ControlHandler
    Status reload() override;
    void rediscover() override;
    // StatusSink
    void publish(const AgentView& view) override;
    void reconfigure(const Config& config) override;

  private:
    Config config_;
    CounterReader counters_;
    FastCounterReader fast_;
    AgentView view_;
    std::function<Status()> reload_;
    std::function<void()> rediscover_;
    dbus::DbusService service_;
};

}  // namespace clat
