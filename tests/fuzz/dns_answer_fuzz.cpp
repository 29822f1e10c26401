/// Fuzzes the DNS64 answer reader (outcome_from_answer, RFC 7050 §3) with raw DNS messages.
/// A found prefix must have an RFC 6052 length, and each prefix reported must be one that an
/// AAAA record of the answer holds with 192.0.0.170 or .171 synthesised at that length.

#include <ares.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "adapters/dns64_resolver.hpp"
#include "states/rfc6052.hpp"
#include "states/rfc7050.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using clat::Dns64OutcomeKind;
using clat::Ipv6Address;
using clat::Ipv6Prefix;

struct Record {
    Ipv6Address address;
    std::uint32_t ttl = 0;
};

// The AAAA records as c-ares reads them, capped as the resolver caps them.
std::vector<Record> records_of(const std::uint8_t* data, int size) {
    std::array<ares_addr6ttl, 64> raw{};
    int count = static_cast<int>(raw.size());
    if (ares_parse_aaaa_reply(data, size, nullptr, raw.data(), &count) != ARES_SUCCESS)
        return {};
    std::vector<Record> out;
    for (int i = 0; i < count; ++i) {
        Record r;
        std::memcpy(r.address.bytes.data(), &raw[i].ip6addr, r.address.bytes.size());
        r.ttl = static_cast<std::uint32_t>(std::max(raw[i].ttl, 0));
        out.push_back(r);
    }
    return out;
}

// True when `record` holds a well-known address synthesised into `prefix` (RFC 6052 §2.2).
bool synthesised_into(const Ipv6Prefix& prefix, const Ipv6Address& record) {
    if (Ipv6Prefix::make(record, prefix.length) != prefix)
        return false;
    if (prefix.length < 96 && record.bytes[8] != 0)
        return false;
    for (const auto& v4 : {clat::kWellKnownV4a, clat::kWellKnownV4b}) {
        auto embedded = clat::embed_ipv4(prefix, v4);
        FUZZ_CHECK(embedded.has_value(), prefix.to_string());
        FUZZ_CHECK(clat::extract_ipv4(*embedded, prefix.length) == v4, prefix.to_string());
        if (clat::extract_ipv4(record, prefix.length) == v4)
            return true;
    }
    return false;
}

void check_found(const clat::Dns64Outcome& outcome, const std::vector<Record>& records) {
    FUZZ_CHECK(outcome.result.has_value(), outcome.detail);
    const clat::Rfc7050Result& result = *outcome.result;
    FUZZ_CHECK(!result.all.empty() && result.all.front() == result.prefix, outcome.detail);
    FUZZ_CHECK(result.ambiguous == (result.all.size() > 1), outcome.detail);
    for (const auto& prefix : result.all) {
        FUZZ_CHECK(clat::is_rfc6052_length(prefix.length), prefix.to_string());
        FUZZ_CHECK(std::count(result.all.begin(), result.all.end(), prefix) == 1,
                   prefix.to_string());
        const bool held = std::any_of(records.begin(), records.end(), [&](const Record& r) {
            return synthesised_into(prefix, r.address);
        });
        FUZZ_CHECK(held, prefix.to_string() + " is in no AAAA record");
    }
    // The TTL is that of a record giving the prefix, and no larger than any such record's.
    bool ttl_seen = false;
    for (const auto& r : records) {
        auto single = clat::prefix_from_answers({r.address});
        if (!single || single->prefix != result.prefix)
            continue;
        FUZZ_CHECK(outcome.ttl_seconds <= r.ttl, outcome.detail);
        ttl_seen = ttl_seen || outcome.ttl_seconds == r.ttl;
    }
    FUZZ_CHECK(ttl_seen, outcome.detail);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > INT_MAX)
        return 0;
    const int length = static_cast<int>(size);
    const clat::Dns64Outcome outcome = clat::outcome_from_answer(data, length);
    FUZZ_CHECK(!outcome.detail.empty());
    if (outcome.kind == Dns64OutcomeKind::kFound) {
        check_found(outcome, records_of(data, length));
    } else {
        FUZZ_CHECK(!outcome.result.has_value(), outcome.detail);
        FUZZ_CHECK(outcome.ttl_seconds == 0, outcome.detail);
    }
    return 0;
}
