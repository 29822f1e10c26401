#pragma once
/// Bridges the agent and its D-Bus service: publishes the agent's view as the immutable
/// status snapshot, forwards Reload()/Rediscover(), and reads the CLAT device's counters.

#include <memory>

#include "agent/agent.hpp"
#include "dbus/service.hpp"

namespace clat {

/// The D-Bus status snapshot of an agent view (expiry converted to UNIX time).
dbus::AgentStatus to_dbus_status(const AgentView& view, const Config& config,
                                 std::int64_t now_monotonic_ms, std::int64_t now_unix_ms);

class ControlPlane final : public dbus::ControlHandler {
  public:
    ControlPlane(boost::asio::io_context& io, Agent& agent);
    /// Connects to the bus (retrying in the background when it is not there yet).
    void start();
    void stop();
    Status reload() override;
    void rediscover() override;

  private:
    void publish(const AgentView& view);

    Agent& agent_;
    dbus::DbusService service_;
};

}  // namespace clat
