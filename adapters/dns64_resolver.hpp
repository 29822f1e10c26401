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
#include <vector>

#include "adapters/file_watch.hpp"
#include "agent/asio.hpp"
#include "states/dns64_schedule.hpp"
#include "states/dns_server.hpp"
#include "states/ip.hpp"
#include "states/result.hpp"
#include "states/rfc7050.hpp"

struct ares_channeldata;  // c-ares' channel; ares.h stays out of this header

namespace clat {
namespace dns64 {
struct ServerSet;  // dns64_servers.hpp
}  // namespace dns64

/// What one AAAA query for ipv4only.arpa found.
struct Dns64Outcome {
    using Kind = Dns64OutcomeKind;
    std::optional<Rfc7050Result> result;  ///< set iff kind == kFound
    std::uint32_t ttl_seconds = 0;        ///< kFound: minimum TTL of the answers giving the prefix
    Kind kind = Kind::kFailed;
    std::string detail;  ///< human-readable: what was found, or why nothing was
};

/// Turns a raw DNS answer to the ipv4only.arpa AAAA query into an outcome (RFC 7050 §3).
/// Several prefixes: `keep` if it is among them, else the lowest (prefix_from_answers).
/// Reads at most alen bytes of abuf; any byte string is safe to pass.
Dns64Outcome outcome_from_answer(const unsigned char* abuf, int alen,
                                 const std::optional<Ipv6Prefix>& keep = std::nullopt);

struct Dns64ResolverOptions {
    /// `dns64-servers` (parse_dns_server's forms); empty: follow resolv_conf.
    std::vector<std::string> servers;
    std::optional<int> timeout_ms;  ///< per try; unset: resolv.conf's options or c-ares' 5 s
    std::optional<int> tries;       ///< unset: resolv.conf's options or c-ares' 4
    /// Its nameserver lines are the servers when `servers` is empty; its options are c-ares'
    /// in any case.
    std::string resolv_conf = "/etc/resolv.conf";
};

/// One c-ares channel on an io_context, asking AAAA ipv4only.arpa. c-ares tells us its
/// sockets through the socket-state callback; each is watched with a stream_descriptor that
/// never owns the fd (released, not closed, when c-ares closes it), and a steady_timer runs
/// c-ares' retransmissions. Outcomes are posted to the loop, never delivered from inside a
/// c-ares call, so a callback may query again or destroy the resolver.
///
/// Servers come from the options, or else from resolv.conf, which is read again before every
/// query (and by reload()); when its server list changes, the channel is rebuilt. c-ares 1.18
/// knows no scope: our own connect() gives a link-local server its interface (see
/// dns64_servers.cpp).
class Dns64Resolver {
  public:
    using Callback = std::function<void(const Dns64Outcome&)>;

    /// Fails when a configured server does not parse or c-ares cannot be initialised. An
    /// unusable resolv.conf is no failure: each query then reports why.
    static Result<std::unique_ptr<Dns64Resolver>> create(boost::asio::io_context& io,
                                                         const Dns64ResolverOptions& options);
    ~Dns64Resolver();
    Dns64Resolver(const Dns64Resolver&) = delete;
    Dns64Resolver& operator=(const Dns64Resolver&) = delete;

    /// Starts one query, cancelling a running one (whose callback is then never called).
    /// on_done is called exactly once, from the loop, unless cancelled first. With several
    /// prefixes in the answer, `keep` is chosen if it is among them.
    void query(Callback on_done, std::optional<Ipv6Prefix> keep = std::nullopt);
    /// Stops the running query, if any; its callback is not called.
    void cancel();
    bool busy() const { return static_cast<bool>(callback_); }

    /// The resolv.conf whose nameservers are used; empty with configured servers.
    std::string followed_file() const;
    /// Reads resolv.conf again (nothing with configured servers). True when its server list
    /// changed: the channel was rebuilt and a running query cancelled without its callback.
    bool reload();
    /// "DNS64 192.0.2.53" or "DNS64 servers a, b": who is asked.
    std::string label() const;

  private:
    struct SocketWatch;
    friend struct AresCallbacks;

    Dns64Resolver(boost::asio::io_context& io, const Dns64ResolverOptions& options);
    Status open_channel();
    void close_channel();
    void on_socket_state(int fd, bool readable, bool writable);
    void arm(const std::shared_ptr<SocketWatch>& watch);
    void on_ready(const std::weak_ptr<SocketWatch>& weak, bool read, boost::system::error_code ec);
    void update_timer();
    void deliver(std::uint64_t generation, Dns64Outcome outcome);

    boost::asio::io_context& io_;
    Dns64ResolverOptions options_;
    std::unique_ptr<dns64::ServerSet> servers_;  ///< also c-ares' socket-functions data
    boost::asio::steady_timer timer_;
    std::map<int, std::shared_ptr<SocketWatch>> sockets_;
    ares_channeldata* channel_ = nullptr;
    Callback callback_;
    std::optional<Ipv6Prefix> keep_;  ///< the running query's preferred prefix
    bool library_ = false;            ///< ares_library_init succeeded: cleanup owed
    std::uint64_t generation_ = 0;    ///< bumped by query/cancel; stale answers are dropped
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
///
/// The prefix held is kept while later answers still hold it among several (prefix_from_answers'
/// `keep`). When the resolver follows resolv.conf, the file is watched (FileWatch): a change of
/// its server list, while querying, means a query to the new servers at once with the
/// back-off reset; every query also reads the file again (Dns64Resolver::query).
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
    void query();
    void on_outcome(const Dns64Outcome& outcome);
    void on_servers_maybe_changed();
    void schedule(std::chrono::milliseconds delay);
    void publish_if_changed();

    std::unique_ptr<Dns64Resolver> resolver_;
    std::unique_ptr<FileWatch> watch_;  ///< resolv.conf, when the resolver follows it
    bool running_ = false;              ///< between rediscover_now() and stop()
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
