#pragma once
/// Packet and byte counters of a network device, as the status sinks show them.

#include <cstdint>
#include <functional>
#include <string>

namespace clat {

struct DeviceCounters {
    std::uint64_t rx_packets = 0;
    std::uint64_t tx_packets = 0;
    std::uint64_t rx_bytes = 0;
    std::uint64_t tx_bytes = 0;
    bool operator==(const DeviceCounters&) const = default;
};

/// Reads a device's counters (adapters/device_counters.hpp in production).
using CounterReader = std::function<DeviceCounters(const std::string& dev)>;

}  // namespace clat
