#include "states/dns64_schedule.hpp"

#include <algorithm>

namespace clat {
namespace {

using std::chrono::milliseconds;

/// first × 2^(n-1), capped; doubling stops as soon as the cap is reached, so no overflow.
milliseconds backoff(milliseconds first, milliseconds cap, unsigned consecutive) {
    milliseconds delay = std::min(first, cap);
    for (unsigned i = 1; i < consecutive && delay < cap && delay.count() > 0; ++i)
        delay = std::min(delay * 2, cap);
    return delay;
}

}  // namespace

milliseconds dns64_next_query_delay(Dns64OutcomeKind kind, std::uint32_t ttl_seconds,
                                    unsigned consecutive, const Dns64SchedulePolicy& policy) {
    switch (kind) {
        case Dns64OutcomeKind::kFound: {
            const milliseconds ttl = std::chrono::seconds(ttl_seconds);
            // RFC 7050 §3: the prefix is valid for the TTL; ask again shortly before it ends.
            const milliseconds delay = ttl - policy.refresh_margin;
            return std::clamp(delay, policy.found_floor,
                              std::max(policy.found_floor, policy.found_cap));
        }
        case Dns64OutcomeKind::kNoDns64:
            return backoff(policy.no_dns64_first, policy.no_dns64_cap, consecutive);
        case Dns64OutcomeKind::kFailed:
            return backoff(policy.failure_first, policy.failure_cap, consecutive);
    }
    return policy.failure_first;
}

milliseconds dns64_hold_time(std::uint32_t ttl_seconds, const Dns64SchedulePolicy& policy) {
    const milliseconds ttl = std::chrono::seconds(ttl_seconds);
    return std::max(ttl, dns64_next_query_delay(Dns64OutcomeKind::kFound, ttl_seconds, 1, policy));
}

}  // namespace clat
