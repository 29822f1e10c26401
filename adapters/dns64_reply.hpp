#pragma once
/// Internal to the DNS64 adapter: what a finished c-ares query means (dns64_reply.cpp), for
/// the channel (dns64_resolver.cpp). Keeps ares.h out of the public header.

#include <optional>
#include <string>

#include "adapters/dns64_resolver.hpp"

namespace clat::dns64 {

/// c-ares' text for a status code.
std::string ares_reason(int status);

/// The outcome of one ares_query from its callback's arguments: the answer read by
/// outcome_from_answer on success, otherwise the status mapped to kNoDns64 or kFailed.
/// `rcodes_seen`: the channel passes SERVFAIL, REFUSED and NOTIMP through (see init_channel in
/// dns64_resolver.cpp). `keep`: as for outcome_from_answer.
Dns64Outcome outcome_from_reply(int status, int timeouts, const unsigned char* abuf, int alen,
                                bool rcodes_seen, const std::optional<Ipv6Prefix>& keep);

}  // namespace clat::dns64
