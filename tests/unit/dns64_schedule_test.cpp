#include <doctest/doctest.h>

#include <climits>

#include "states/dns64_schedule.hpp"

using namespace std::chrono_literals;
using clat::dns64_hold_time;
using clat::dns64_next_query_delay;
using clat::Dns64OutcomeKind;
using clat::Dns64SchedulePolicy;
using std::chrono::milliseconds;

TEST_CASE("DNS64 schedule with the default policy") {
    struct Case {
        Dns64OutcomeKind kind;
        std::uint32_t ttl;
        unsigned consecutive;
        milliseconds expected;
    };
    const auto found = Dns64OutcomeKind::kFound;
    const auto failed = Dns64OutcomeKind::kFailed;
    const auto none = Dns64OutcomeKind::kNoDns64;
    for (const auto& c : {
             // Found: TTL - 10 s, floor 5 s, cap 1 day; the failure count plays no part.
             Case{found, 300, 1, 290s},
             Case{found, 30, 1, 20s},
             Case{found, 30, 7, 20s},
             Case{found, 16, 1, 6s},
             Case{found, 15, 1, 5s},
             Case{found, 12, 1, 5s},
             Case{found, 5, 1, 5s},
             Case{found, 0, 1, 5s},
             Case{found, 86410, 1, 24h},
             Case{found, 7 * 86400, 1, 24h},
             Case{found, UINT32_MAX, 1, 24h},
             // Failed: 1, 2, 4 … s, capped at 5 min; TTL ignored.
             Case{failed, 0, 0, 1s},
             Case{failed, 0, 1, 1s},
             Case{failed, 3600, 1, 1s},
             Case{failed, 0, 2, 2s},
             Case{failed, 0, 3, 4s},
             Case{failed, 0, 9, 256s},
             Case{failed, 0, 10, 300s},
             Case{failed, 0, 1000, 300s},
             Case{failed, 0, UINT_MAX, 300s},
             // No DNS64: 30 s, 60 s, … capped at 10 min.
             Case{none, 0, 1, 30s},
             Case{none, 600, 1, 30s},
             Case{none, 0, 2, 60s},
             Case{none, 0, 5, 480s},
             Case{none, 0, 6, 600s},
             Case{none, 0, UINT_MAX, 600s},
         }) {
        CAPTURE(static_cast<int>(c.kind));
        CAPTURE(c.ttl);
        CAPTURE(c.consecutive);
        CHECK(dns64_next_query_delay(c.kind, c.ttl, c.consecutive) == c.expected);
    }
}

TEST_CASE("DNS64 schedule honours a shrunk policy (as the driver tests use)") {
    Dns64SchedulePolicy p;
    p.refresh_margin = 11s;
    p.found_floor = 200ms;
    p.found_cap = 3s;
    p.failure_first = 50ms;
    p.failure_cap = 300ms;
    p.no_dns64_first = 100ms;
    p.no_dns64_cap = 150ms;
    CHECK(dns64_next_query_delay(Dns64OutcomeKind::kFound, 12, 1, p) == 1s);
    CHECK(dns64_next_query_delay(Dns64OutcomeKind::kFound, 11, 1, p) == 200ms);
    CHECK(dns64_next_query_delay(Dns64OutcomeKind::kFound, 60, 1, p) == 3s);
    CHECK(dns64_next_query_delay(Dns64OutcomeKind::kFailed, 0, 1, p) == 50ms);
    CHECK(dns64_next_query_delay(Dns64OutcomeKind::kFailed, 0, 3, p) == 200ms);
    CHECK(dns64_next_query_delay(Dns64OutcomeKind::kFailed, 0, 4, p) == 300ms);
    CHECK(dns64_next_query_delay(Dns64OutcomeKind::kNoDns64, 0, 2, p) == 150ms);
}

TEST_CASE("DNS64 schedule survives degenerate policies") {
    Dns64SchedulePolicy p;
    p.failure_first = 0ms;
    CHECK(dns64_next_query_delay(Dns64OutcomeKind::kFailed, 0, UINT_MAX, p) == 0ms);
    p.failure_first = 10min;  // first above the cap: the cap wins
    CHECK(dns64_next_query_delay(Dns64OutcomeKind::kFailed, 0, 1, p) == 5min);
    p.found_cap = 1s;  // cap below the floor: the floor wins
    CHECK(dns64_next_query_delay(Dns64OutcomeKind::kFound, 3600, 1, p) == 5s);
}

TEST_CASE("A found prefix is held for its TTL, at least until its refresh is due") {
    CHECK(dns64_hold_time(30) == 30s);
    CHECK(dns64_hold_time(300) == 300s);
    CHECK(dns64_hold_time(3) == 5s);
    CHECK(dns64_hold_time(0) == 5s);
    CHECK(dns64_hold_time(7 * 86400) == std::chrono::hours(7 * 24));
    Dns64SchedulePolicy p;
    p.found_floor = 200ms;
    CHECK(dns64_hold_time(0, p) == 200ms);
    CHECK(dns64_hold_time(1, p) == 1s);
}
