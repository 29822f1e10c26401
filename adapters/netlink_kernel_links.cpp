// Links, addresses and proxy neighbours over rtnetlink.
#include <net/if.h>  // before the linux/ headers, which defer to it

#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>

#include "adapters/netlink_kernel_ops.hpp"

namespace clat::kernel_ops {
namespace {

using rtnl::Reply;

constexpr auto kAlreadyInPlace = ApplyOutcome::kAlreadyInPlace;

Error no_such_device(const std::string& dev) {
    return make_error("no such device " + dev);
}

struct LinkState {
    int index = 0;
    unsigned flags = 0;
    std::uint32_t mtu = 0;
};

/// RTM_GETLINK by name; nullopt when there is no such link.
Result<std::optional<LinkState>> read_link(rtnl::Socket& socket, const std::string& dev) {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    auto msg = rtnl::make_message(RTM_GETLINK, 0, &ifi, sizeof ifi);
    if (msg)
        nla_put_string(msg.get(), IFLA_IFNAME, dev.c_str());
    std::optional<LinkState> state;
    const Reply reply = socket.transact(msg.get(), [&](const nlmsghdr& hdr) {
        if (hdr.nlmsg_type != RTM_NEWLINK)
            return;
        auto* h = const_cast<nlmsghdr*>(&hdr);
        const auto* info = static_cast<const ifinfomsg*>(nlmsg_data(h));
        nlattr* tb[IFLA_MAX + 1] = {};
        if (nlmsg_parse(h, sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0)
            return;
        state = LinkState{info->ifi_index, info->ifi_flags,
                          tb[IFLA_MTU] != nullptr ? nla_get_u32(tb[IFLA_MTU]) : 0};
    });
    if (reply.error == ENODEV)
        return std::optional<LinkState>{};
    if (reply.error != 0)
        return make_error("cannot read link " + dev + ": " + rtnl::describe(reply));
    return state;
}

Reply change_link(rtnl::Socket& socket, const LinkState& link, unsigned flags, unsigned change,
                  std::uint32_t mtu) {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = link.index;
    ifi.ifi_flags = flags;
    ifi.ifi_change = change;
    auto msg = rtnl::make_message(RTM_NEWLINK, 0, &ifi, sizeof ifi);
    if (msg && mtu != 0)
        nla_put_u32(msg.get(), IFLA_MTU, mtu);
    return socket.transact(msg.get());
}

struct AddressRequest {
    int type = RTM_NEWADDR;
    int flags = 0;
    int family = AF_INET;
    int ifindex = 0;
    const void* address = nullptr;
    int size = 0;
    int prefix_length = 0;
    std::uint32_t ifa_flags = 0;
};

Reply address_request(rtnl::Socket& socket, const AddressRequest& r) {
    ifaddrmsg ifa{};
    ifa.ifa_family = static_cast<std::uint8_t>(r.family);
    ifa.ifa_prefixlen = static_cast<std::uint8_t>(r.prefix_length);
    ifa.ifa_flags = static_cast<std::uint8_t>(r.ifa_flags & 0xff);
    ifa.ifa_scope = RT_SCOPE_UNIVERSE;
    ifa.ifa_index = static_cast<std::uint32_t>(r.ifindex);
    auto msg = rtnl::make_message(r.type, r.flags, &ifa, sizeof ifa);
    if (msg) {
        // Local and address equal: a plain address without a point-to-point peer.
        nla_put(msg.get(), IFA_LOCAL, r.size, r.address);
        nla_put(msg.get(), IFA_ADDRESS, r.size, r.address);
        if (r.ifa_flags != 0)
            nla_put_u32(msg.get(), IFA_FLAGS, r.ifa_flags);
    }
    return socket.transact(msg.get());
}

template <typename Op>
Result<ApplyOutcome> add_address(rtnl::Socket& socket, const Op& o, int family,
                                 std::uint32_t ifa_flags) {
    const int ifindex = ifindex_of(o.dev);
    if (ifindex == 0)
        return no_such_device(o.dev);
    return rtnl::outcome(
        address_request(socket, {RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, family, ifindex,
                                 o.address.bytes.data(), static_cast<int>(o.address.bytes.size()),
                                 o.prefix_length, ifa_flags}),
        {EEXIST});
}

template <typename Op>
Result<ApplyOutcome> remove_address(rtnl::Socket& socket, const Op& o, int family) {
    const int ifindex = ifindex_of(o.dev);
    if (ifindex == 0)
        return kAlreadyInPlace;  // the address went with its link
    return rtnl::outcome(
        address_request(socket, {RTM_DELADDR, 0, family, ifindex, o.address.bytes.data(),
                                 static_cast<int>(o.address.bytes.size()), o.prefix_length, 0}),
        {EADDRNOTAVAIL, ENODEV});
}

Reply proxy_request(rtnl::Socket& socket, int type, int flags, int ifindex,
                    const Ipv6Address& address) {
    ndmsg nd{};
    nd.ndm_family = AF_INET6;
    nd.ndm_ifindex = ifindex;
    nd.ndm_state = type == RTM_NEWNEIGH ? NUD_PERMANENT : 0;
    nd.ndm_flags = NTF_PROXY;
    auto msg = rtnl::make_message(type, flags, &nd, sizeof nd);
    if (msg)
        nla_put(msg.get(), NDA_DST, static_cast<int>(address.bytes.size()), address.bytes.data());
    return socket.transact(msg.get());
}

}  // namespace

int ifindex_of(const std::string& dev) {
    return static_cast<int>(::if_nametoindex(dev.c_str()));
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::DeleteLink& o) {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    auto msg = rtnl::make_message(RTM_DELLINK, 0, &ifi, sizeof ifi);
    if (msg)
        nla_put_string(msg.get(), IFLA_IFNAME, o.dev.c_str());
    return rtnl::outcome(socket.transact(msg.get()), {ENODEV, ENOENT});
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::SetLinkUp& o) {
    auto link = read_link(socket, o.dev);
    if (!link)
        return link.error();
    if (!link->has_value())
        return o.up ? Result<ApplyOutcome>(no_such_device(o.dev)) : kAlreadyInPlace;
    const LinkState& state = **link;
    if (((state.flags & IFF_UP) != 0) == o.up)
        return kAlreadyInPlace;
    return rtnl::outcome(
        change_link(socket, state, o.up ? static_cast<unsigned>(IFF_UP) : 0U, IFF_UP, 0), {});
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::SetLinkMtu& o) {
    if (o.mtu == 0)
        return make_error("mtu 0 is not a valid MTU");
    auto link = read_link(socket, o.dev);
    if (!link)
        return link.error();
    if (!link->has_value())
        return no_such_device(o.dev);
    if ((*link)->mtu == o.mtu)
        return kAlreadyInPlace;
    return rtnl::outcome(change_link(socket, **link, 0, 0, o.mtu), {});
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::AddAddressV4& o) {
    return add_address(socket, o, AF_INET, 0);
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveAddressV4& o) {
    return remove_address(socket, o, AF_INET);
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::AddAddressV6& o) {
    // Without IFA_F_NODAD the kernel marks the address tentative and runs DAD (RFC 4862
    // §5.4); the observer reports the outcome (IFA_F_DADFAILED or the flag clearing).
    return add_address(socket, o, AF_INET6, o.dad ? 0U : IFA_F_NODAD);
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveAddressV6& o) {
    return remove_address(socket, o, AF_INET6);
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::AddProxyNeighbour& o) {
    const int ifindex = ifindex_of(o.dev);
    if (ifindex == 0)
        return no_such_device(o.dev);
    // Re-adding a proxy entry succeeds silently (no EEXIST), so look it up first
    // (RTM_GETNEIGH with NTF_PROXY, answered by pneigh_lookup since Linux 5.0).
    if (proxy_request(socket, RTM_GETNEIGH, 0, ifindex, o.address).error == 0)
        return kAlreadyInPlace;
    return rtnl::outcome(
        proxy_request(socket, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, ifindex, o.address),
        {EEXIST});
}

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveProxyNeighbour& o) {
    // A journalled undo names the device by index: it may have been renamed since.
    const int ifindex = o.ifindex ? static_cast<int>(*o.ifindex) : ifindex_of(o.dev);
    if (ifindex == 0)
        return kAlreadyInPlace;
    return rtnl::outcome(proxy_request(socket, RTM_DELNEIGH, 0, ifindex, o.address),
                         {ENOENT, ENODEV});
}

}  // namespace clat::kernel_ops
