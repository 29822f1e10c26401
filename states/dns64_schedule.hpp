#pragma once
/// When to ask the DNS64 again (RFC 7050 §3, SPEC §5). Pure: durations in, durations out; the
/// caller owns the clock.
///
/// - Found: re-query `refresh_margin` (10 s) before the answer's TTL runs out, never sooner than
///   `found_floor` (5 s, so a TTL of 0 cannot make us hammer the resolver) and never later than
///   `found_cap` (1 day).
/// - Failed (timeout, SERVFAIL, REFUSED, garbage): exponential back-off 1 s, 2 s, 4 s, …
///   capped at 5 min. A resolver that is down for a moment is retried quickly; one that stays
///   down costs one query every 5 minutes.
/// - No DNS64 (NXDOMAIN, NODATA, answers without the well-known address): the network has no
///   DNS64 now but may get one later, so re-check slowly: 30 s, 60 s, … capped at 10 min.

#include <chrono>
#include <cstdint>

namespace clat {

/// What one RFC 7050 query found.
enum class Dns64OutcomeKind {
    kFound,    ///< a prefix was learned
    kNoDns64,  ///< a definite answer that there is no DNS64 synthesis here
    kFailed,   ///< no usable answer (timeout, SERVFAIL, REFUSED, malformed reply)
};

/// The tunables of the schedule; tests shrink them.
struct Dns64SchedulePolicy {
    std::chrono::milliseconds refresh_margin{std::chrono::seconds(10)};
    std::chrono::milliseconds found_floor{std::chrono::seconds(5)};
    std::chrono::milliseconds found_cap{std::chrono::hours(24)};
    std::chrono::milliseconds failure_first{std::chrono::seconds(1)};
    std::chrono::milliseconds failure_cap{std::chrono::minutes(5)};
    std::chrono::milliseconds no_dns64_first{std::chrono::seconds(30)};
    std::chrono::milliseconds no_dns64_cap{std::chrono::minutes(10)};
    bool operator==(const Dns64SchedulePolicy&) const = default;
};

/// Delay until the next query after an outcome of `kind`. `ttl_seconds` matters only for
/// kFound; `consecutive` counts outcomes of this kind in a row including this one (0 is read
/// as 1) and drives the back-off of kFailed and kNoDns64.
std::chrono::milliseconds dns64_next_query_delay(Dns64OutcomeKind kind, std::uint32_t ttl_seconds,
                                                 unsigned consecutive,
                                                 const Dns64SchedulePolicy& policy = {});

/// How long a found prefix is held before it counts as expired: its TTL, but at least until
/// the refresh query is due, so that a TTL below the floor does not make the prefix flap.
std::chrono::milliseconds dns64_hold_time(std::uint32_t ttl_seconds,
                                          const Dns64SchedulePolicy& policy = {});

}  // namespace clat
