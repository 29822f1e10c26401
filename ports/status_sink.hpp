#pragma once
/// The port the agent publishes its status through (D-Bus, metrics). Implemented by
/// agent/control_plane (D-Bus) and by fakes.

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "ports/data_path.hpp"
#include "states/machine.hpp"
#include "states/operation.hpp"

namespace clat {

/// A snapshot of what the agent is doing.
struct AgentView {
    MachineStatus machine;
    DataPathInfo data_path;
    std::int64_t last_transition_unix_us = 0;
    std::string last_error;  ///< the phase's failure, or a rejected reload
    /// The backends holding clatd's accept rules now, in enum order; empty: none.
    std::vector<op::FirewallBackend> firewall;
    bool operator==(const AgentView&) const = default;
};

class StatusSink {
  public:
    virtual ~StatusSink() = default;
    /// Called whenever the view changes.
    virtual void publish(const AgentView& view) = 0;
    /// A reloaded configuration (the bus policy's admin group, for one).
    virtual void reconfigure(const Config& config) = 0;
};

}  // namespace clat
