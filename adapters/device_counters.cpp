#include "adapters/device_counters.hpp"

#include <fstream>

namespace clat {
namespace {

std::uint64_t read_counter(const std::string& dev, const char* name) {
    std::ifstream in("/sys/class/net/" + dev + "/statistics/" + name);
    std::uint64_t value = 0;
    in >> value;
    return in ? value : 0;
}

}  // namespace

DeviceCounters read_device_counters(const std::string& dev) {
    if (dev.empty() || dev.find('/') != std::string::npos || dev == "." || dev == "..")
        return {};
    return DeviceCounters{read_counter(dev, "rx_packets"), read_counter(dev, "tx_packets"),
                          read_counter(dev, "rx_bytes"), read_counter(dev, "tx_bytes")};
}

}  // namespace clat
