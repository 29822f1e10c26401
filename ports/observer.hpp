#pragma once
/// The port to the observed kernel state (rtnetlink): links, addresses, routes, proxy
/// entries and PREF64 options. Implemented by adapters/netlink_observer and by fakes.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "states/facts.hpp"
#include "states/ip.hpp"
#include "states/observation.hpp"
#include "states/result.hpp"

namespace clat {

/// Where the kernel would send a packet for one IPv6 destination (RTM_GETROUTE).
struct RouteLookup {
    int ifindex = 0;
    std::string ifname;
    std::optional<Ipv6Address> source;  ///< preferred source address, when the kernel has one
};

/// The batch of event messages one change notification covered, for latency measurements
/// (scripts/bench). first_rx_us is 0 when not recorded.
struct NotificationBatch {
    std::uint64_t notification = 0;  ///< its number, counting from 1
    std::int64_t first_rx_us = 0;    ///< steady clock µs at which its first message was read
    std::uint64_t messages = 0;      ///< event messages read for it
};

/// Single-threaded: every method and the change callback run on the agent's loop.
class ObserverPort {
  public:
    virtual ~ObserverPort() = default;
    /// Starts observing; observed() is complete when this returns. on_change is posted once
    /// per burst of changes, never called from inside a method of the port.
    virtual Status start(std::function<void()> on_change) = 0;
    /// No notification follows.
    virtual void stop() = 0;
    virtual const Observed& observed() const = 0;
    /// Re-reads the proxy neighbour entries, which the kernel does not announce; true when
    /// they changed. Synchronous.
    virtual Result<bool> refresh_proxies() = 0;
    /// Refreshes the proxy entries every interval and notifies on a change; 0 stops.
    virtual void set_proxy_poll(std::chrono::milliseconds interval) = 0;
    /// Reads the event messages the kernel has already queued into observed() now (after a
    /// change of our own: its echo). Their notification follows as usual. Synchronous.
    virtual void sync() = 0;
    /// Notify only changes that matter() to this interest (every change still reaches
    /// observed()); until the first call, every change is notified.
    virtual void set_interest(const ObservationInterest& interest) = 0;
    /// Where the kernel would send a packet to dst. Synchronous.
    virtual Result<RouteLookup> lookup_route(const Ipv6Address& dst) = 0;
    /// The batch the latest notification covered (valid inside on_change).
    virtual NotificationBatch last_notification() const { return {}; }
};

}  // namespace clat
