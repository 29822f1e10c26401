#pragma once
/// The port to PLAT prefix discovery over DNS64 (RFC 7050). PREF64 (RFC 8781) needs no port of
/// its own: its options arrive with the observed state. Implemented by
/// adapters/dns64_plat_discovery and by fakes.

#include <chrono>
#include <string>
#include <vector>

#include "ports/event_sink.hpp"

namespace clat {

/// What discovery is configured with (`dns64-servers`; empty: the system resolvers).
struct DiscoverySettings {
    std::vector<std::string> servers;
    bool operator==(const DiscoverySettings&) const = default;
};

/// Reports event::PlatDiscovered (source Dns64, with the answer's expiry) and event::PlatLost
/// through the sink until stop(). Keeps the prefix fresh by itself (re-query before the TTL
/// ends, back-off after failures).
class PlatDiscoveryPort {
  public:
    virtual ~PlatDiscoveryPort() = default;
    virtual void subscribe(EventSink sink) = 0;
    /// Settings for the next start(); a running discovery keeps its old ones until then.
    virtual void configure(const DiscoverySettings& settings) = 0;
    /// Starts, or restarts now: a query at once, back-off reset, settings re-read.
    virtual void start() = 0;
    virtual void stop() = 0;
};

}  // namespace clat
