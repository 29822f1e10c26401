#pragma once
/// Which PLAT prefix the CLAT uses (SPEC §5): a configured `plat-prefix` wins, else a valid
/// PREF64 (RFC 8781; preferred over DNS64 per RFC 9872), else DNS64 (RFC 7050), else
/// `plat-fallback-prefix` once DNS64 has concluded it has nothing. Pure.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "states/ip.hpp"

namespace clat {

/// Where a PLAT prefix came from; shown on D-Bus as "config", "pref64", "dns64", "fallback".
enum class PlatSource { Config, Pref64, Dns64, Fallback };

std::string_view to_string(PlatSource source);

/// The prefix in use, with its source and, for discovered prefixes, when it expires on the
/// agent's monotonic clock (milliseconds).
struct PlatChoice {
    Ipv6Prefix prefix;
    PlatSource source = PlatSource::Config;
    std::optional<std::int64_t> expires_at_ms;

    /// "2001:db8:64::/96 from dns64".
    std::string to_string() const;
    bool operator==(const PlatChoice&) const = default;
};

/// What DNS64 discovery has said so far. `concluded` turns true with the first answer or
/// failure; until then the fallback prefix is held back, so that a slow resolver does not
/// make the CLAT start on the fallback and renumber a second later.
struct Dns64Verdict {
    std::optional<PlatChoice> found;
    bool concluded = false;
    std::string note;  ///< why nothing was found ("DNS64 found nothing", "query timed out")
    bool operator==(const Dns64Verdict&) const = default;
};

/// Everything discovery has reported during one activation.
struct PlatCandidates {
    std::optional<PlatChoice> pref64;
    Dns64Verdict dns64;
    bool operator==(const PlatCandidates&) const = default;
};

/// The prefix to use, by SPEC §5 precedence; nullopt when there is none (yet).
std::optional<PlatChoice> select_prefix(const std::optional<Ipv6Prefix>& configured,
                                        const std::optional<PlatChoice>& pref64,
                                        const Dns64Verdict& dns64,
                                        const std::optional<Ipv6Prefix>& fallback);

/// Records a prefix reported by discovery (only Pref64 and Dns64 are discovered; other
/// sources are ignored).
void record_found(PlatCandidates& candidates, const PlatChoice& found);

/// Records that a source has nothing: a PREF64 withdrawn or expired, a negative or failed
/// DNS64 query. `detail` explains it; empty picks a default text.
void record_lost(PlatCandidates& candidates, PlatSource source, const std::string& detail);

/// Why no prefix could be selected, e.g. "no PLAT prefix: DNS64 found nothing, no PREF64,
/// no fallback".
std::string why_no_prefix(const PlatCandidates& candidates, bool pref64_enabled, bool has_fallback);

}  // namespace clat
