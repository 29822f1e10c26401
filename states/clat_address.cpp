#include "states/clat_address.hpp"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>

namespace clat {
namespace {

struct Candidate {
    const AddressV6* fact = nullptr;
    bool slaac = false;
    int common = 0;  ///< leading bits shared with the PLAT prefix
};

/// Everything that made candidates unusable before any derivation was tried.
struct Skipped {
    std::vector<std::string> not_ready;  ///< global but tentative or failed DAD
    int ula = 0;                         ///< ULAs refused because the PLAT prefix is global
};

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts)
        out += (out.empty() ? "" : "; ") + p;
    return out;
}

std::string with_length(const AddressV6& a) {
    return a.address.to_string() + '/' + std::to_string(a.prefix_length);
}

// The manual: "a /64 with '0xfffe' in the middle of the Interface ID" (modified EUI-64,
// RFC 4291 appendix A).
bool is_slaac(const AddressV6& a) {
    return a.prefix_length == 64 && a.address.bytes[11] == 0xff && a.address.bytes[12] == 0xfe;
}

bool contains(const std::vector<Ipv6Address>& list, const Ipv6Address& a) {
    return std::find(list.begin(), list.end(), a) != list.end();
}

Ipv6Address all_ones() {
    Ipv6Address a;
    a.bytes.fill(0xff);
    return a;
}

// RFC 4291 §2.6.1 Subnet-Router anycast (host part all zero) and RFC 2526 reserved subnet
// anycast (the top 128 identifiers; for a /64 in modified EUI-64 form, with the u bit clear).
bool is_reserved_host(const Ipv6Address& host, const Ipv6Address& host_mask, int length) {
    if (host.is_unspecified())
        return true;
    if (length == 64) {
        for (std::size_t i = 8; i < 15; ++i) {
            if (host.bytes[i] != (i == 8 ? 0xfd : 0xff))
                return false;
        }
        return host.bytes[15] >= 0x80;
    }
    for (std::size_t i = 0; i < 16; ++i) {
        const std::uint8_t want = i == 15 ? host_mask.bytes[i] & 0x80 : host_mask.bytes[i];
        if ((host.bytes[i] & want) != want)
            return false;
    }
    return true;
}

// Keeps the first `length` bits of base and draws the rest; one draw for the low 64 bits, a
// second for the high ones when the prefix is shorter than /64.
std::optional<Ipv6Address> random_address(const Ipv6Address& base, int length,
                                          const RandomSource& random,
                                          const std::vector<Ipv6Address>& forbidden) {
    const Ipv6Address net = mask(base, length);
    const Ipv6Address net_mask = mask(all_ones(), length);
    for (int attempt = 0; attempt < kRandomIidAttempts; ++attempt) {
        const std::uint64_t low = random();
        const std::uint64_t high = length < 64 ? random() : 0;
        Ipv6Address host;
        for (std::size_t i = 0; i < 8; ++i) {
            host.bytes[i] = static_cast<std::uint8_t>(high >> (56 - 8 * i));
            host.bytes[8 + i] = static_cast<std::uint8_t>(low >> (56 - 8 * i));
        }
        Ipv6Address host_mask;
        for (std::size_t i = 0; i < 16; ++i) {
            host_mask.bytes[i] = static_cast<std::uint8_t>(~net_mask.bytes[i]);
            host.bytes[i] &= host_mask.bytes[i];
        }
        if (is_reserved_host(host, host_mask, length))
            continue;
        Ipv6Address out = net;
        for (std::size_t i = 0; i < 16; ++i)
            out.bytes[i] |= host.bytes[i];
        if (!contains(forbidden, out))
            return out;
    }
    return std::nullopt;
}

// One candidate's address, or nullopt with the reason appended to `reasons`.
std::optional<ClatAddressChoice> try_candidate(const Candidate& c, const RandomSource& random,
                                               const std::vector<Ipv6Address>& forbidden,
                                               std::vector<std::string>& reasons) {
    const AddressV6& from = *c.fact;
    if (c.slaac) {
        Ipv6Address a = from.address;
        a.bytes[11] = 0xc1;
        a.bytes[12] = 0xa7;
        if (!contains(forbidden, a))
            return ClatAddressChoice{a, from.address, from.prefix_length, true};
        // SPEC §6: on a conflict pick another IID on the same prefix rather than moving to a
        // prefix that matches the PLAT prefix less well.
    }
    if (from.prefix_length > kMaxRandomIidPrefixLength || from.prefix_length < 0) {
        reasons.push_back(with_length(from) + ": prefix /" + std::to_string(from.prefix_length) +
                          " too long for a random interface identifier (needs /" +
                          std::to_string(kMaxRandomIidPrefixLength) + " or shorter)");
        return std::nullopt;
    }
    if (!random) {
        reasons.push_back(with_length(from) + ": no source of random interface identifiers");
        return std::nullopt;
    }
    if (auto a = random_address(from.address, from.prefix_length, random, forbidden))
        return ClatAddressChoice{*a, from.address, from.prefix_length, false};
    reasons.push_back(with_length(from) + ": no free interface identifier in " +
                      std::to_string(kRandomIidAttempts) + " random draws");
    return std::nullopt;
}

Error nothing_eligible(const Skipped& skipped) {
    if (!skipped.not_ready.empty())
        return make_error("no global IPv6 address on the PLAT-facing device (" +
                          join(skipped.not_ready) + ")");
    if (skipped.ula > 0)
        return make_error("only ULA addresses, and the PLAT prefix is global");
    return make_error("no global IPv6 address on the PLAT-facing device");
}

// Too long a prefix for any second address: a /121../128 (a DHCPv6 IA_NA lease is a /128,
// usually with noprefixroute), so there is no prefix of the host's to derive one in.
bool single_address(const Candidate& c) {
    return c.fact->prefix_length > kMaxRandomIidPrefixLength && !c.slaac;
}

// The whole cause and the way out: the two other modes need no second address in a prefix.
Error only_single_addresses(const std::vector<Candidate>& eligible) {
    std::vector<std::string> listed;
    for (const auto& c : eligible)
        listed.push_back(with_length(*c.fact));
    return make_error(
        "clat-v6-addr=derived needs a prefix to derive a second address in, and the "
        "PLAT-facing device has only single addresses (" +
        join(listed) +
        ", e.g. a DHCPv6 lease): set clat-v6-addr=shared to share the host's address, or "
        "clat-v6-addr to a static address routed to this host");
}

// Deprecated addresses come last so that a renumbered uplink moves the CLAT to the new
// prefix; then SLAAC before the rest (the manual); then the longest match with the PLAT
// prefix. The sort is stable, so ties keep the device's order.
bool ranks_before(const Candidate& a, const Candidate& b) {
    if (a.fact->deprecated != b.fact->deprecated)
        return !a.fact->deprecated;
    if (a.slaac != b.slaac)
        return a.slaac;
    return a.common > b.common;
}

}  // namespace

Result<ClatAddressChoice> derive_clat_address(const std::vector<AddressV6>& candidates,
                                              const Ipv6Prefix& plat_prefix,
                                              const RandomSource& random,
                                              const std::vector<Ipv6Address>& avoid) {
    std::vector<Ipv6Address> forbidden = avoid;
    for (const auto& c : candidates)
        forbidden.push_back(c.address);

    const bool plat_is_ula = plat_prefix.address.is_ula();
    Skipped skipped;
    std::vector<Candidate> eligible;
    for (const auto& c : candidates) {
        const Ipv6Address& a = c.address;
        if (a.is_unspecified() || a.is_loopback() || a.is_link_local() || a.is_multicast())
            continue;
        // A ULA source cannot reach a global PLAT; a ULA PLAT prefix may be reached from one.
        if (a.is_ula() && !plat_is_ula) {
            ++skipped.ula;
            continue;
        }
        if (!c.usable()) {
            skipped.not_ready.push_back(a.to_string() +
                                        (c.dad_failed ? " failed DAD" : " is tentative"));
            continue;
        }
        const int common =
            std::min(common_prefix_length(a, plat_prefix.address), plat_prefix.length);
        eligible.push_back(Candidate{&c, is_slaac(c), common});
    }
    if (eligible.empty())
        return nothing_eligible(skipped);

    std::stable_sort(eligible.begin(), eligible.end(), ranks_before);
    std::vector<std::string> reasons;
    for (const auto& c : eligible) {
        if (auto choice = try_candidate(c, random, forbidden, reasons))
            return *choice;
    }
    if (std::all_of(eligible.begin(), eligible.end(), single_address))
        return only_single_addresses(eligible);
    return make_error("no usable CLAT IPv6 address on the PLAT-facing device: " + join(reasons));
}

}  // namespace clat
