#pragma once
/// A network device's packet and byte counters, from /proc/net/dev of the caller's network
/// namespace.

#include <string>

#include "ports/counters.hpp"

namespace clat {

/// The counters of `dev`; all 0 when the device does not exist.
DeviceCounters read_device_counters(const std::string& dev);

}  // namespace clat
