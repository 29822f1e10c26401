#include "adapters/dns64_reply.hpp"

#include <ares.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace clat {
namespace {

constexpr int kMaxAnswers = 64;  // more AAAA records than this for one name are ignored

/// The minimum TTL among the answers that, on their own, yield `prefix`.
std::uint32_t min_ttl_for(const Ipv6Prefix& prefix, const std::vector<Ipv6Address>& addresses,
                          const std::vector<std::uint32_t>& ttls) {
    std::uint32_t ttl = std::numeric_limits<std::uint32_t>::max();
    for (std::size_t i = 0; i < addresses.size(); ++i) {
        auto single = prefix_from_answers({addresses[i]});
        if (single && single->prefix == prefix)
            ttl = std::min(ttl, ttls[i]);
    }
    return ttl == std::numeric_limits<std::uint32_t>::max() ? 0 : ttl;
}

/// Why c-ares gave up, in DNS terms (RCODE names from RFC 1035 §4.1.1). `rcodes_seen`: the
/// channel passes SERVFAIL, REFUSED and NOTIMP through (see init_channel, dns64_resolver.cpp).
std::string failure_text(int status, int timeouts, bool rcodes_seen) {
    using dns64::ares_reason;
    switch (status) {
        case ARES_ETIMEOUT:
            return "no answer (timeout, " + std::to_string(timeouts) + " tries)";
        case ARES_ECONNREFUSED:
            if (rcodes_seen)
                return "unreachable (ICMP port unreachable or connection refused)";
            return "no usable answer (unreachable, or SERVFAIL, REFUSED or NOTIMP to every try)";
        case ARES_ESERVFAIL:
            return "query failed: the server answered SERVFAIL";
        case ARES_EREFUSED:
            return "query failed: the server answered REFUSED";
        case ARES_EFORMERR:
            return "query failed: the server answered FORMERR";
        case ARES_ENOTIMP:
            return "query failed: the server answered NOTIMP";
        case ARES_EBADRESP:
            return "malformed reply (" + ares_reason(status) + ")";
        default:
            break;
    }
    std::string detail = "query failed: " + ares_reason(status);
    if (timeouts > 0)
        detail += " (" + std::to_string(timeouts) + " timeout(s))";
    return detail;
}

}  // namespace

Dns64Outcome outcome_from_answer(const unsigned char* abuf, int alen,
                                 const std::optional<Ipv6Prefix>& keep) {
    std::array<ares_addr6ttl, kMaxAnswers> records{};
    int count = kMaxAnswers;
    const int rc = ares_parse_aaaa_reply(abuf, alen, nullptr, records.data(), &count);
    if (rc == ARES_ENODATA) {
        // The answer section is not empty (c-ares calls that NODATA before we parse), but no
        // record in it is an AAAA of 16 bytes for the name: CNAMEs only, or broken AAAAs.
        const int records_in = alen >= 12 ? (abuf[6] << 8 | abuf[7]) : 0;
        return {std::nullopt, 0, Dns64OutcomeKind::kNoDns64,
                std::to_string(records_in) +
                    " answer record(s), none a valid AAAA for ipv4only.arpa: no DNS64 here"};
    }
    if (rc != ARES_SUCCESS) {
        return {std::nullopt, 0, Dns64OutcomeKind::kFailed,
                "malformed answer (" + dns64::ares_reason(rc) + ")"};
    }
    std::vector<Ipv6Address> addresses;
    std::vector<std::uint32_t> ttls;
    for (int i = 0; i < count; ++i) {
        Ipv6Address a;
        std::memcpy(a.bytes.data(), &records[i].ip6addr, a.bytes.size());
        addresses.push_back(a);
        ttls.push_back(static_cast<std::uint32_t>(std::max(records[i].ttl, 0)));
    }
    auto result = prefix_from_answers(addresses, keep);
    if (!result) {
        // RFC 7050 §3: without the well-known address the answers are not DNS64 synthesis.
        std::string detail = std::to_string(count) + " AAAA answer(s)";
        if (!addresses.empty())
            detail += " (" + addresses.front().to_string() + (count > 1 ? ", ...)" : ")");
        return {std::nullopt, 0, Dns64OutcomeKind::kNoDns64,
                detail + " hold neither 192.0.0.170 nor .171: no DNS64 synthesis"};
    }
    const std::uint32_t ttl = min_ttl_for(result->prefix, addresses, ttls);
    std::string detail = "prefix " + result->prefix.to_string() + " ttl=" + std::to_string(ttl);
    if (result->ambiguous) {
        detail += " ambiguous, also";
        for (const auto& other : result->all) {
            if (other != result->prefix)
                detail += " " + other.to_string();
        }
    }
    return {std::move(result), ttl, Dns64OutcomeKind::kFound, std::move(detail)};
}

namespace dns64 {

std::string ares_reason(int status) {
    return ares_strerror(status);
}

Dns64Outcome outcome_from_reply(int status, int timeouts, const unsigned char* abuf, int alen,
                                bool rcodes_seen, const std::optional<Ipv6Prefix>& keep) {
    switch (status) {
        case ARES_SUCCESS:
            return outcome_from_answer(abuf, alen, keep);
        // RFC 7050 §3: a negative answer means the network has no DNS64.
        case ARES_ENODATA:
            return {std::nullopt, 0, Dns64OutcomeKind::kNoDns64,
                    "ipv4only.arpa has no AAAA record (NODATA): no DNS64 here"};
        case ARES_ENOTFOUND:
            return {std::nullopt, 0, Dns64OutcomeKind::kNoDns64,
                    "ipv4only.arpa does not exist (NXDOMAIN): no DNS64 here"};
        default:
            break;
    }
    return {std::nullopt, 0, Dns64OutcomeKind::kFailed,
            failure_text(status, timeouts, rcodes_seen)};
}

}  // namespace dns64
}  // namespace clat
