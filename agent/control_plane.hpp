#pragma once
/// Bridges the agent and its D-Bus service: the agent's StatusSink (its view becomes the
/// immutable status snapshot, a reload's admin group the bus policy), and the service's
/// ControlHandler (Reload() and Rediscover() go to the agent's one reload path).

#include <functional>

#include "dbus/service.hpp"
#include "ports/counters.hpp"
#include "ports/status_sink.hpp"

namespace clat {

/// The D-Bus status snapshot of an agent view (expiry converted to UNIX time).
dbus::AgentStatus to_dbus_status(const AgentView& view, const Config& config,
                                 std::int64_t now_monotonic_ms, std::int64_t now_unix_ms);

class ControlPlane final : public dbus::ControlHandler, public StatusSink {
  public:
    /// `counters` reads the CLAT device's counters for the D-Bus properties.
    ControlPlane(boost::asio::io_context& io, const Config& config, CounterReader counters);
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
    AgentView view_;
    std::function<Status()> reload_;
    std::function<void()> rediscover_;
    dbus::DbusService service_;
};

}  // namespace clat
