#include "adapters/device_counters.hpp"

#include <fstream>
#include <sstream>

namespace clat {

// /proc/net/dev, not /sys/class/net: procfs shows the reading process's network namespace,
// sysfs the one it was mounted in (they differ under `unshare --net` without a remount).
DeviceCounters read_device_counters(const std::string& dev) {
    if (dev.empty())
        return {};
    std::ifstream in("/proc/net/dev");
    std::string line;
    while (std::getline(in, line)) {
        // "  name: rx_bytes rx_packets errs drop fifo frame compressed multicast tx_bytes
        // tx_packets ..."; a name cannot hold ':' (the kernel refuses it).
        const auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        const auto first = line.find_first_not_of(' ');
        if (line.compare(first, colon - first, dev) != 0 || colon - first != dev.size())
            continue;
        std::istringstream fields(line.substr(colon + 1));
        std::uint64_t v[10] = {};
        for (auto& x : v)
            fields >> x;
        if (!fields)
            return {};
        return DeviceCounters{v[1], v[9], v[0], v[8]};
    }
    return {};
}

}  // namespace clat
