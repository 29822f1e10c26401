#pragma once
/// The port to the data path: what translates packets between the CLAT device and the PLAT
/// (SPEC §9): TAYGA alone (adapters/tayga_data_path), or the eBPF programs in the kernel with
/// TAYGA as their slow path (adapters/bpf_data_path). The contract holds no process: a run is
/// identified by a number, and what a backend is made of (a child's pid, a program id) is
/// only shown in info().

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "ports/event_sink.hpp"
#include "ports/host_journal.hpp"
#include "states/binding.hpp"

namespace clat {

/// What the status shows about the data path.
struct DataPathInfo {
    std::string backend = "tayga";  ///< "bpf" (eBPF, TAYGA as slow path) or "tayga"
    /// Why the eBPF path is not in use when it was asked for (data-path=auto or bpf); empty
    /// otherwise.
    std::string reason;
    bool running = false;
    std::optional<int> process_id;  ///< for display only (TAYGA's pid)
    /// The data path carries IPv4 packets up to the uplink's IPv6 MTU minus 20 (the eBPF
    /// programs translate them in place); false: TAYGA's fixed IPv6 MTU, so 1260.
    bool follows_uplink_mtu = false;
    bool operator==(const DataPathInfo&) const = default;
};

/// Counters of the fast path (packets the kernel programs translated), read on demand. The
/// slow path's are the CLAT device's own: it carries only what TAYGA translates.
struct DataPathCounters {
    std::uint64_t egress_packets = 0;  ///< IPv4 -> IPv6
    std::uint64_t egress_bytes = 0;
    std::uint64_t ingress_packets = 0;  ///< IPv6 -> IPv4
    std::uint64_t ingress_bytes = 0;
    /// Packets handed to the slow path, by reason ("fragment", "options", ...).
    std::vector<std::pair<std::string, std::uint64_t>> slow_path;
    /// Packets dropped, by reason.
    std::vector<std::pair<std::string, std::uint64_t>> dropped;
    bool operator==(const DataPathCounters&) const = default;
};

/// Reports through the sink: event::DataPathStarted{run} once a start or replacement runs,
/// event::DataPathExited{run, status} when a run ends by itself or cannot start,
/// event::DataPathStopped after stop(). Every report is posted, never delivered from inside a
/// call of the port.
class DataPathPort {
  public:
    virtual ~DataPathPort() = default;
    virtual void subscribe(EventSink sink) = 0;
    /// Where a backend records the host changes it makes itself (tc qdiscs and filters),
    /// before making them; given once, before the first start().
    virtual void use_journal(HostJournalPort& /*journal*/) {}
    /// The configuration the backend is built from (device, addresses, backend keys); taken
    /// by the next start() or replace().
    virtual void configure(const Config& config) = 0;
    virtual void start(const DataPathMapping& mapping) = 0;
    /// Moves a running data path to a new mapping; the old run's end is not reported.
    virtual void replace(const DataPathMapping& mapping) = 0;
    virtual void stop() = 0;
    virtual DataPathInfo info() const = 0;
    /// The fast path's counters; nullopt when no fast path is in use.
    virtual std::optional<DataPathCounters> counters() const { return std::nullopt; }
};

}  // namespace clat
