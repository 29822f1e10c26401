#include "states/plat_selection.hpp"

namespace clat {

std::string_view to_string(PlatSource source) {
    switch (source) {
        case PlatSource::Config:
            return "config";
        case PlatSource::Pref64:
            return "pref64";
        case PlatSource::Dns64:
            return "dns64";
        case PlatSource::Fallback:
            return "fallback";
    }
    return "unknown";
}

std::string PlatChoice::to_string() const {
    return prefix.to_string() + " from " + std::string(clat::to_string(source));
}

std::optional<PlatChoice> select_prefix(const std::optional<Ipv6Prefix>& configured,
                                        const std::optional<PlatChoice>& pref64,
                                        const Dns64Verdict& dns64,
                                        const std::optional<Ipv6Prefix>& fallback) {
    if (configured)
        return PlatChoice{*configured, PlatSource::Config, std::nullopt};
    if (pref64)
        return pref64;
    if (dns64.found)
        return dns64.found;
    if (fallback && dns64.concluded)
        return PlatChoice{*fallback, PlatSource::Fallback, std::nullopt};
    return std::nullopt;
}

void record_found(PlatCandidates& candidates, const PlatChoice& found) {
    if (found.source == PlatSource::Pref64) {
        candidates.pref64 = found;
    } else if (found.source == PlatSource::Dns64) {
        candidates.dns64.found = found;
        candidates.dns64.concluded = true;
        candidates.dns64.note.clear();
    }
}

void record_lost(PlatCandidates& candidates, PlatSource source, const std::string& detail) {
    if (source == PlatSource::Pref64) {
        candidates.pref64.reset();
    } else if (source == PlatSource::Dns64) {
        candidates.dns64.found.reset();
        candidates.dns64.concluded = true;
        candidates.dns64.note = detail.empty() ? "DNS64 found nothing" : detail;
    }
}

std::string why_no_prefix(const PlatCandidates& candidates, bool pref64_enabled,
                          bool has_fallback) {
    std::string why = "no PLAT prefix: ";
    why += candidates.dns64.concluded ? candidates.dns64.note : "DNS64 query pending";
    why += pref64_enabled ? ", no PREF64" : ", PREF64 disabled";
    if (!has_fallback)
        why += ", no fallback";
    else if (!candidates.dns64.concluded)
        why += ", fallback held until DNS64 answers";
    return why;
}

}  // namespace clat
