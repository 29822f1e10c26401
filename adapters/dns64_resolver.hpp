#pragma once
/// RFC 7050 PLAT prefix discovery over DNS (SPEC §5): c-ares driven from the Asio loop, and a
/// driver that keeps the discovered prefix fresh. Single-threaded; nothing blocks the loop.
/// Implemented in dns64_reply.cpp (what an answer or a c-ares status means), dns64_resolver.cpp
/// (the channel on the loop) and dns64_discovery.cpp (the re-query schedule).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/asio.hpp"
#include "states/dns64_schedule.hpp"
#include "states/ip.hpp"
#include "states/result.hpp"
#include "states/rfc7050.hpp"

struct ares_channeldata;  // c-ares' channel; ares.h stays out of this header

namespace clat {

/// What one AAAA query for ipv4only.arpa found.
struct Dns64Outcome {
    using Kind = Dns64OutcomeKind;
    std::optional<Rfc7050Result> result;  ///< set iff kind == kFound
    std::uint32_t ttl_seconds = 0;        ///< kFound: minimum TTL of the answers giving the prefix
    Kind kind = Kind::kFailed;
    std::string detail;  ///< human-readable: what was found, or why nothing was
};

/// Turns a raw DNS answer to the ipv4only.arpa AAAA query into an outcome (RFC 7050 §3).
/// Reads at most alen bytes of abuf; any byte string is safe to pass.
Dns64Outcome outcome_from_answer(const unsigned char* abuf, int alen);

/// A DNS server as written in `dns64-servers`: "192.0.2.53", "192.0.2.53:5353", "2001:db8::53"
/// or "[2001:db8::53]:5353".
struct DnsServer {
    std::variant<Ipv4Address, Ipv6Address> address;
    std::uint16_t port = 53;
    bool operator==(const DnsServer&) const = default;
};
Result<DnsServer> parse_dns_server(std::string_view text);

struct Dns64ResolverOptions {
    std::vector<std::string> servers;  ///< `dns64-servers`; empty: /etc/resolv.conf's
    std::optional<int> timeout_ms;     ///< per try; unset: resolv.conf or c-ares' 5 s
    std::optional<int> tries;          ///< unset: resolv.conf or c-ares' 4
};

/// One c-ares channel on an io_context, asking AAAA ipv4only.arpa. c-ares tells us its
/// sockets through the socket-state callback; each is watched with a stream_descriptor that
/// never owns the fd (released, not closed, when c-ares closes it), and a steady_timer runs
/// c-ares' retransmissions. Outcomes are posted to the loop, never delivered from inside a
/// c-ares call, so a callback may query again or destroy the resolver.
class Dns64Resolver {
  public:
    using Callback = std::function<void(const Dns64Outcome&)>;

    /// Fails when a server does not parse or c-ares cannot be initialised.
    static Result<std::unique_ptr<Dns64Resolver>> create(boost::asio::io_context& io,
                                                         const Dns64ResolverOptions& options);
    ~Dns64Resolver();
    Dns64Resolver(const Dns64Resolver&) = delete;
    Dns64Resolver& operator=(const Dns64Resolver&) = delete;

    /// Starts one query, cancelling a running one (whose callback is then never called).
    /// on_done is called exactly once, from the loop, unless cancelled first.
    void query(Callback on_done);
    /// Stops the running query, if any; its callback is not called.
    void cancel();
    bool busy() const { return static_cast<bool>(callback_); }

  private:
    struct SocketWatch;
    friend struct AresCallbacks;

    explicit Dns64Resolver(boost::asio::io_context& io);
    void on_socket_state(int fd, bool readable, bool writable);
    void arm(const std::shared_ptr<SocketWatch>& watch);
    void on_ready(const std::weak_ptr<SocketWatch>& weak, bool read, boost::system::error_code ec);
    void update_timer();
    void deliver(std::uint64_t generation, Dns64Outcome outcome);

    boost::asio::io_context& io_;
    boost::asio::steady_timer timer_;
    std::map<int, std::shared_ptr<SocketWatch>> sockets_;
    ares_channeldata* channel_ = nullptr;
    Callback callback_;
    std::uint64_t generation_ = 0;  ///< bumped by query/cancel; stale answers are dropped
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// The DNS64-learned prefix as the agent sees it. Source is always dns64.
struct Dns64Plat {
    static constexpr std::string_view kSource = "dns64";
    std::optional<Rfc7050Result> result;  ///< the prefix in force; nullopt: none
    /// When result lapses: std::chrono::steady_clock's time_since_epoch in ms (0 when none).
    std::int64_t expires_at_ms = 0;
    Dns64OutcomeKind last_kind = Dns64OutcomeKind::kFailed;  ///< what the latest query found
    std::string detail;                                      ///< the latest query's detail
};

/// Runs query → schedule → query on the loop (states/dns64_schedule). A found prefix is held
/// until its expiry (dns64_hold_time): a failed refresh keeps it and retries with back-off, a
/// retry is always made at the expiry itself, and a failure at or after expiry withdraws it.
/// A negative answer ("no DNS64 here") withdraws it at once. Publishes (from the loop) only
/// when the prefix, its expiry, or the kind or detail of the latest outcome changes.
class Dns64Discovery {
  public:
    using Publish = std::function<void(const Dns64Plat&)>;

    Dns64Discovery(boost::asio::io_context& io, std::unique_ptr<Dns64Resolver> resolver,
                   Publish publish, Dns64SchedulePolicy policy = {});
    ~Dns64Discovery();
    Dns64Discovery(const Dns64Discovery&) = delete;
    Dns64Discovery& operator=(const Dns64Discovery&) = delete;

    /// Queries now and resets the back-off; also how discovery starts (nothing happens before).
    /// The outcome of this query is published even when it equals the last one published.
    void rediscover_now();
    /// Stops querying; keeps current() as it is and publishes nothing more.
    void stop();
    /// The latest state, also between publications.
    const Dns64Plat& current() const { return current_; }

  private:
    void on_outcome(const Dns64Outcome& outcome);
    void schedule(std::chrono::milliseconds delay);
    void publish_if_changed();

    std::unique_ptr<Dns64Resolver> resolver_;
    Publish publish_;
    Dns64SchedulePolicy policy_;
    boost::asio::steady_timer timer_;
    Dns64Plat current_;
    std::optional<Dns64Plat> published_;
    unsigned failures_ = 0;    ///< consecutive kFailed outcomes
    unsigned absent_ = 0;      ///< consecutive kNoDns64 outcomes
    std::uint64_t epoch_ = 0;  ///< bumped by stop/rediscover_now; stale timer waits are dropped
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace clat
