#pragma once
/// Watches the kernel's links, addresses, routes (all tables), IPv6 proxy neighbour entries
/// (by dump only) and Router Advertisement PREF64 options over rtnetlink, and keeps an
/// Observed snapshot of them, on the agent's io_context.
/// Bursts of events are coalesced into one change notification; a receive-queue overrun
/// (ENOBUFS) is answered by re-dumping everything, so the snapshot is never silently wrong.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/asio.hpp"
#include "ports/observer.hpp"
#include "states/facts.hpp"
#include "states/result.hpp"

struct nl_sock;
struct nl_msg;
struct nlmsghdr;

namespace clat {

struct RouteAnswer;

/// Where the kernel would send a packet for one IPv4 destination (RTM_GETROUTE).
struct RouteLookupV4 {
    int ifindex = 0;
    std::string ifname;
    std::optional<Ipv4Address> source;
};

/// Counters for tests and benchmarks.
struct NetlinkObserverStats {
    std::uint64_t messages = 0;       ///< event messages read from the subscribed socket
    std::uint64_t dumped = 0;         ///< messages read from dumps (initial and resyncs)
    std::uint64_t notifications = 0;  ///< on_change calls delivered
    std::uint64_t overruns = 0;       ///< ENOBUFS reported by the kernel
    std::uint64_t resyncs = 0;        ///< full re-dumps after the initial one
};

/// The rtnetlink observer. Single-threaded: every method and callback runs on the loop.
class NetlinkObserver final : public ObserverPort {
  public:
    struct Options {
        /// Receive buffer of the event socket (SO_RCVBUFFORCE, else capped by rmem_max).
        /// Large, so that ordinary bursts never overrun it.
        int receive_buffer_bytes = 8 * 1024 * 1024;
    };

    /// now_ms: the agent's monotonic clock in milliseconds (PREF64 expiry is stamped with
    /// it). on_change: posted to the loop once per burst of changes, never called from
    /// inside start() or a method of this class.
    NetlinkObserver(boost::asio::io_context& io, std::function<std::int64_t()> now_ms,
                    std::function<void()> on_change);
    NetlinkObserver(boost::asio::io_context& io, std::function<std::int64_t()> now_ms,
                    std::function<void()> on_change, Options options);
    ~NetlinkObserver();
    NetlinkObserver(const NetlinkObserver&) = delete;
    NetlinkObserver& operator=(const NetlinkObserver&) = delete;

    /// Opens the sockets, subscribes, then dumps: observed() is complete when this returns.
    /// Events that race with the dump are queued and applied afterwards.
    Status start();
    /// The port's start: on_change replaces the constructor's callback.
    Status start(std::function<void()> on_change) override;
    /// Closes the sockets and cancels timers; no notification follows.
    void stop() override;

    /// The current snapshot. PREF64 facts are per interface; expired ones are already gone.
    const Observed& observed() const override { return observed_; }
    const NetlinkObserverStats& stats() const { return stats_; }
    /// The batch the latest delivered notification covered (valid inside on_change).
    NotificationBatch last_notification() const override { return notified_; }

    /// Re-dumps links, addresses and routes into a fresh snapshot and replaces the current
    /// one (PREF64 facts cannot be dumped and are carried over). Synchronous.
    Status resync();

    /// Re-dumps the IPv6 proxy neighbour table into the snapshot; true when it changed. The
    /// kernel announces neither new nor removed proxy entries (nor the flush of a device's
    /// entries when it is set down), so whoever relies on them refreshes them. Synchronous.
    Result<bool> refresh_proxies() override;
    /// Refreshes the proxy entries every interval and notifies when they changed; 0 stops.
    void set_proxy_poll(std::chrono::milliseconds interval) override;

    /// Asks the kernel which device and source it would use towards dst. Synchronous; the
    /// kernel answers at once. Errors carry the kernel's reason (e.g. unreachable).
    Result<RouteLookup> lookup_route(const Ipv6Address& dst) override;
    void sync() override;
    void set_interest(const ObservationInterest& interest) override;
    Result<RouteLookupV4> lookup_route(const Ipv4Address& dst);

  private:
    using Handler = std::function<void(const nlmsghdr*)>;

    Status open_sockets();
    void arm();
    void on_readable();
    /// Reads and applies every queued event message (one pass; a resync when needed).
    void read_queued();
    /// Reads and applies what is queued; true when the snapshot must be re-dumped.
    bool read_pass(bool& changed, bool& relevant);
    void discard_queue();
    Status dump_into(Observed& fresh);
    Status dump_proxies(const Handler& handler);
    void schedule_proxy_poll();
    Status request(int type, const void* header, std::size_t header_size, const std::string& what,
                   const Handler& handler);
    Status transact(nl_msg* message, const std::string& what, const Handler& handler);
    Result<RouteAnswer> lookup(int family, const std::uint8_t* address, std::size_t size,
                               const std::string& what);
    std::string ifname(int ifindex) const;
    void after_change();
    void notify();
    void schedule_expiry();
    void schedule_resync_retry();

    struct SocketFree {
        void operator()(nl_sock* socket) const;
    };

    boost::asio::io_context& io_;
    std::function<std::int64_t()> now_ms_;
    std::function<void()> on_change_;
    Options options_;
    std::unique_ptr<nl_sock, SocketFree> events_;
    std::unique_ptr<nl_sock, SocketFree> requests_;
    std::optional<boost::asio::posix::stream_descriptor> descriptor_;
    boost::asio::steady_timer expiry_timer_;
    boost::asio::steady_timer retry_timer_;
    boost::asio::steady_timer proxy_timer_;
    /// A storm of events (kStormWakeups wake-ups in a row, each within kStormGap of the
    /// previous pass) is read in batches: the next pass waits kBatchDelay, so that one pass
    /// reads many messages instead of one each.
    boost::asio::steady_timer batch_timer_;
    std::chrono::steady_clock::time_point last_pass_{};
    int quick_wakeups_ = 0;  ///< wake-ups in a row within kStormGap of the previous pass
    std::optional<ObservationInterest> interest_;  ///< unset: every change is notified
    std::chrono::milliseconds proxy_poll_{0};
    std::vector<std::uint8_t> buffer_;
    Observed observed_;
    NetlinkObserverStats stats_;
    NotificationBatch pending_;   ///< messages read since the last notification was delivered
    NotificationBatch notified_;  ///< what the last delivered notification covered
    bool timing_ = false;         ///< debug logging is on: stamp batches
    bool notify_pending_ = false;
    /// Handlers hold a weak reference: a handler that outlives the observer does nothing.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace clat
