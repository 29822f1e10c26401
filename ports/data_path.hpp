#pragma once
/// The port to the data path: what translates packets between the CLAT device and the PLAT
/// (SPEC §9). Today TAYGA (adapters/tayga_data_path); next an eBPF program. The contract holds
/// no process: a run is identified by a number, and what a backend is made of (a child's pid,
/// a program id) is only shown in info().

#include <cstdint>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "ports/event_sink.hpp"
#include "states/binding.hpp"

namespace clat {

/// What the status shows about the data path.
struct DataPathInfo {
    std::string backend;  ///< "tayga"
    bool running = false;
    std::optional<int> process_id;  ///< for display only (TAYGA's pid)
    bool operator==(const DataPathInfo&) const = default;
};

/// Reports through the sink: event::DataPathStarted{run} once a start or replacement runs,
/// event::DataPathExited{run, status} when a run ends by itself or cannot start,
/// event::DataPathStopped after stop(). Every report is posted, never delivered from inside a
/// call of the port.
class DataPathPort {
  public:
    virtual ~DataPathPort() = default;
    virtual void subscribe(EventSink sink) = 0;
    /// The configuration the backend is built from (device, addresses, backend keys); taken
    /// by the next start() or replace().
    virtual void configure(const Config& config) = 0;
    virtual void start(const DataPathMapping& mapping) = 0;
    /// Moves a running data path to a new mapping; the old run's end is not reported.
    virtual void replace(const DataPathMapping& mapping) = 0;
    virtual void stop() = 0;
    virtual DataPathInfo info() const = 0;
};

}  // namespace clat
