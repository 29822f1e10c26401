#include "adapters/saved_route.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

namespace clat::saved_route {
namespace {

constexpr std::size_t kHeader = NLMSG_ALIGN(sizeof(rtmsg));

/// Nexthop flags that are configuration; the others (RTNH_F_DEAD, RTNH_F_LINKDOWN,
/// RTNH_F_OFFLOAD, RTNH_F_TRAP, RTNH_F_UNRESOLVED) and the RTM_F_* offload bits are state the
/// kernel reports. fib_create_info() refuses DEAD and LINKDOWN ("Invalid rtm_flags - can not
/// contain DEAD or LINKDOWN"), and the rest would claim a state the new route does not have.
constexpr unsigned kConfigFlags = RTNH_F_ONLINK | RTNH_F_PERVASIVE;

/// The attributes rtm_to_fib_config() reads for an IPv4 route; others in a dump are output
/// only (RTA_CACHEINFO, RTA_UID...).
bool is_input(unsigned type) {
    switch (type) {
        case RTA_DST:
        case RTA_OIF:
        case RTA_GATEWAY:
        case RTA_VIA:
        case RTA_PRIORITY:
        case RTA_PREFSRC:
        case RTA_METRICS:
        case RTA_MULTIPATH:
        case RTA_FLOW:
        case RTA_ENCAP_TYPE:
        case RTA_ENCAP:
        case RTA_NH_ID:
        case RTA_TABLE:
            return true;
        default:
            return false;
    }
}

/// The nexthop description the kernel dumps next to RTA_NH_ID for tools that predate nexthop
/// objects (net.ipv4.nexthop_compat_mode); rtm_to_fib_config() rejects it with RTA_NH_ID
/// ("Nexthop specification and nexthop id are mutually exclusive").
bool is_nexthop_spec(unsigned type) {
    return type == RTA_OIF || type == RTA_GATEWAY || type == RTA_VIA || type == RTA_MULTIPATH ||
           type == RTA_FLOW || type == RTA_ENCAP_TYPE || type == RTA_ENCAP;
}

struct Attribute {
    unsigned type = 0;
    std::span<const std::uint8_t> data;
};

/// The attributes after the rtmsg, or nullopt when one runs past the end.
std::optional<std::vector<Attribute>> attributes_of(std::span<const std::uint8_t> saved) {
    std::vector<Attribute> out;
    std::size_t pos = kHeader;
    while (pos + NLA_HDRLEN <= saved.size()) {
        nlattr attr{};
        std::memcpy(&attr, saved.data() + pos, sizeof attr);
        if (attr.nla_len < NLA_HDRLEN || pos + attr.nla_len > saved.size())
            return std::nullopt;
        out.push_back(Attribute{static_cast<unsigned>(attr.nla_type & NLA_TYPE_MASK),
                                saved.subspan(pos + NLA_HDRLEN, attr.nla_len - NLA_HDRLEN)});
        pos += NLA_ALIGN(attr.nla_len);
    }
    if (pos < saved.size())
        return std::nullopt;
    return out;
}

void put(std::vector<std::uint8_t>& out, unsigned type, std::span<const std::uint8_t> data) {
    nlattr attr{};
    attr.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + data.size());
    attr.nla_type = static_cast<std::uint16_t>(type);
    const std::size_t at = out.size();
    out.resize(at + NLA_ALIGN(attr.nla_len), 0);
    std::memcpy(out.data() + at, &attr, sizeof attr);
    if (!data.empty())
        std::memcpy(out.data() + at + NLA_HDRLEN, data.data(), data.size());
}

/// RTA_MULTIPATH with each rtnexthop's state flags cleared; nullopt when malformed.
std::optional<std::vector<std::uint8_t>> multipath_of(std::span<const std::uint8_t> data) {
    std::vector<std::uint8_t> out(data.begin(), data.end());
    std::size_t pos = 0;
    while (pos + sizeof(rtnexthop) <= out.size()) {
        rtnexthop hop{};
        std::memcpy(&hop, out.data() + pos, sizeof hop);
        if (hop.rtnh_len < sizeof hop || pos + hop.rtnh_len > out.size())
            return std::nullopt;
        hop.rtnh_flags &= kConfigFlags;
        std::memcpy(out.data() + pos, &hop, sizeof hop);
        pos += RTNH_ALIGN(hop.rtnh_len);
    }
    if (pos < out.size())
        return std::nullopt;
    return out;
}

}  // namespace

Result<std::vector<std::uint8_t>> request(std::span<const std::uint8_t> saved) {
    if (saved.size() < kHeader)
        return make_error("saved route is " + std::to_string(saved.size()) +
                          " bytes, shorter than an rtmsg");
    rtmsg rtm{};
    std::memcpy(&rtm, saved.data(), sizeof rtm);
    if (rtm.rtm_family != AF_INET)
        return make_error("saved route is not an IPv4 route (family " +
                          std::to_string(rtm.rtm_family) + ")");
    const auto attributes = attributes_of(saved);
    if (!attributes)
        return make_error("saved route has a malformed attribute");
    bool has_nexthop_object = false;
    for (const Attribute& a : *attributes)
        has_nexthop_object = has_nexthop_object || a.type == RTA_NH_ID;
    // With a nexthop object the flags belong to the object, not to the route.
    rtm.rtm_flags = has_nexthop_object ? 0U : rtm.rtm_flags & kConfigFlags;
    std::vector<std::uint8_t> out(kHeader, 0);
    std::memcpy(out.data(), &rtm, sizeof rtm);
    for (const Attribute& a : *attributes) {
        if (!is_input(a.type) || (has_nexthop_object && is_nexthop_spec(a.type)))
            continue;
        if (a.type == RTA_MULTIPATH) {
            auto hops = multipath_of(a.data);
            if (!hops)
                return make_error("saved route has a malformed RTA_MULTIPATH");
            put(out, a.type, *hops);
        } else {
            put(out, a.type, a.data);
        }
    }
    return out;
}

std::optional<std::uint32_t> nexthop_id(std::span<const std::uint8_t> saved) {
    const auto attributes = attributes_of(saved);
    if (saved.size() < kHeader || !attributes)
        return std::nullopt;
    for (const Attribute& a : *attributes) {
        if (a.type == RTA_NH_ID && a.data.size() == sizeof(std::uint32_t)) {
            std::uint32_t id = 0;
            std::memcpy(&id, a.data.data(), sizeof id);
            return id;
        }
    }
    return std::nullopt;
}

}  // namespace clat::saved_route
