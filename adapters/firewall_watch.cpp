#include "adapters/firewall_watch.hpp"

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "adapters/firewall_detect.hpp"

namespace clat {
namespace {

/// Closes a descriptor at scope exit.
struct Fd {
    int fd;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0)
            ::close(fd);
    }
};

/// NFT_MSG_GETGEN: the generation id of the nftables ruleset, bumped by the kernel at every
/// commit (nf_tables_api.c, nf_tables_commit). nfnetlink answers within sendto, so the
/// reply is read without waiting (a 100 ms receive timeout bounds the odd case).
std::optional<std::uint32_t> nft_generation() {
    Fd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
    if (sock.fd < 0)
        return std::nullopt;
    const timeval timeout{0, 100'000};
    (void)::setsockopt(sock.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    struct {
        nlmsghdr header;
        nfgenmsg body;
    } request{};
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
    request.header.nlmsg_flags = NLM_F_REQUEST;
    request.header.nlmsg_seq = 1;
    request.body.nfgen_family = AF_UNSPEC;
    request.body.version = NFNETLINK_V0;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(sock.fd, &request, sizeof request, 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) < 0)
        return std::nullopt;
    std::array<std::uint8_t, 512> buffer{};
    const ssize_t n = ::recv(sock.fd, buffer.data(), buffer.size(), 0);
    if (n < static_cast<ssize_t>(NLMSG_HDRLEN + sizeof(nfgenmsg)))
        return std::nullopt;
    const auto* header = reinterpret_cast<const nlmsghdr*>(buffer.data());
    if (!NLMSG_OK(header, static_cast<unsigned>(n)) || header->nlmsg_type == NLMSG_ERROR)
        return std::nullopt;
    // Attributes follow the nfgenmsg, each nlattr-aligned.
    std::size_t at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
    while (at + NLA_HDRLEN <= header->nlmsg_len) {
        nlattr attr{};
        std::memcpy(&attr, buffer.data() + at, sizeof attr);
        if (attr.nla_len < NLA_HDRLEN || at + attr.nla_len > header->nlmsg_len)
            break;
        if ((attr.nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && attr.nla_len >= NLA_HDRLEN + 4) {
            std::uint32_t id = 0;
            std::memcpy(&id, buffer.data() + at + NLA_HDRLEN, sizeof id);
            return ntohl(id);
        }
        at += NLA_ALIGN(attr.nla_len);
    }
    return std::nullopt;
}

/// FNV-1a over the legacy filter table as the kernel hands it to ip6tables-legacy
/// (IP6T_SO_GET_INFO, then IP6T_SO_GET_ENTRIES), with each entry's packet and byte counters
/// zeroed. Asked only when the table exists: asking for a missing one would make the kernel
/// create it in this namespace.
std::optional<std::uint64_t> legacy_filter_hash() {
    if (!firewall::legacy_filter_in_use())
        return std::nullopt;
    Fd sock(::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    if (sock.fd < 0)
        return std::nullopt;
    ip6t_getinfo info{};
    std::strncpy(info.name, "filter", sizeof info.name - 1);
    socklen_t length = sizeof info;
    if (::getsockopt(sock.fd, IPPROTO_IPV6, IP6T_SO_GET_INFO, &info, &length) != 0)
        return std::nullopt;
    std::vector<std::uint8_t> blob(sizeof(ip6t_get_entries) + info.size);
    auto* entries = reinterpret_cast<ip6t_get_entries*>(blob.data());
    std::strncpy(entries->name, "filter", sizeof entries->name - 1);
    entries->size = info.size;
    length = static_cast<socklen_t>(blob.size());
    if (::getsockopt(sock.fd, IPPROTO_IPV6, IP6T_SO_GET_ENTRIES, entries, &length) != 0)
        return std::nullopt;
    std::uint8_t* table = blob.data() + sizeof(ip6t_get_entries);
    for (std::size_t at = 0; at + sizeof(ip6t_entry) <= info.size;) {
        auto* entry = reinterpret_cast<ip6t_entry*>(table + at);
        entry->counters = xt_counters{};
        entry->comefrom = 0;
        if (entry->next_offset == 0)
            break;
        at += entry->next_offset;
    }
    std::uint64_t hash = 14695981039346656037ULL;
    const auto mix = [&](const void* data, std::size_t size) {
        for (std::size_t i = 0; i < size; ++i) {
            hash ^= static_cast<const std::uint8_t*>(data)[i];
            hash *= 1099511628211ULL;
        }
    };
    mix(info.hook_entry, sizeof info.hook_entry);
    mix(info.underflow, sizeof info.underflow);
    mix(&info.num_entries, sizeof info.num_entries);
    mix(table, info.size);
    return hash;
}

}  // namespace

FirewallFingerprint firewall_fingerprint() {
    return FirewallFingerprint{nft_generation(), legacy_filter_hash()};
}

FirewallInspection FirewallWatch::inspect(const Config& config,
                                          const std::vector<op::FirewallRule>& ours) {
    // Before the listing: a change made while the tools run is seen by the next poll.
    baseline_ = firewall_fingerprint();
    return firewall::inspect(config, ours);
}

void FirewallWatch::watch(std::chrono::milliseconds interval, std::function<void()> on_change) {
    interval_ = interval;
    on_change_ = std::move(on_change);
    baseline_ = firewall_fingerprint();
    schedule();
}

void FirewallWatch::schedule() {
    timer_.cancel();
    if (interval_.count() <= 0)
        return;
    timer_.expires_after(interval_);
    timer_.async_wait(
        [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
            if (ec || alive.expired())
                return;
            auto now = firewall_fingerprint();
            if (now != baseline_) {
                baseline_ = now;
                if (on_change_)
                    on_change_();
            }
            schedule();
        });
}

}  // namespace clat
