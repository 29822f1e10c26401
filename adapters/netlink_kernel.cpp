#include "adapters/netlink_kernel.hpp"

#include <net/if.h>

#include <string>
#include <type_traits>
#include <variant>

#include "adapters/bpf_tc.hpp"
#include "adapters/firewall.hpp"
#include "adapters/netlink_kernel_ops.hpp"
#include "adapters/netlink_kernel_request.hpp"
#include "adapters/nft_shared.hpp"
#include "adapters/sysctl.hpp"
#include "adapters/tun.hpp"

namespace clat {

NetlinkKernel::NetlinkKernel(std::unique_ptr<rtnl::Socket> socket) : socket_(std::move(socket)) {}

NetlinkKernel::~NetlinkKernel() = default;

Result<std::unique_ptr<NetlinkKernel>> NetlinkKernel::open() {
    auto socket = rtnl::Socket::open();
    if (!socket)
        return socket.error();
    return std::unique_ptr<NetlinkKernel>(new NetlinkKernel(std::move(*socket)));
}

Result<ApplyOutcome> NetlinkKernel::apply(const Operation& operation) {
    auto result = std::visit(
        [this](const auto& o) -> Result<ApplyOutcome> {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, op::CreateTun>)
                return tun::create_persistent(o.dev);
            else if constexpr (std::is_same_v<T, op::SetSysctl>)
                return sysctl::apply(o);
            else if constexpr (std::is_same_v<T, op::AddFirewallAccept>)
                return firewall::add_accept(o.rule);
            else if constexpr (std::is_same_v<T, op::RemoveFirewallAccept>)
                return firewall::remove_accept(o.rule);
            else if constexpr (std::is_same_v<T, op::RemoveTcFilter>)
                return bpf_tc::remove_filter(o);
            else if constexpr (std::is_same_v<T, op::RemoveClsact>)
                return bpf_tc::remove_clsact(o);
            else if constexpr (std::is_same_v<T, op::AddSharedMarking>)
                return nft_shared::add(o.marking);
            else if constexpr (std::is_same_v<T, op::RemoveSharedMarking>)
                return nft_shared::remove(o.marking);
            else
                return kernel_ops::apply_op(*socket_, o);
        },
        operation);
    if (!result)
        return make_error(to_string(operation) + ": " + result.error().message);
    return result;
}

Result<std::string> NetlinkKernel::read_sysctl(const std::string& path) {
    return sysctl::read(path);
}

Result<std::optional<std::uint32_t>> NetlinkKernel::link_index(const std::string& name) {
    const unsigned index = ::if_nametoindex(name.c_str());
    if (index == 0)
        return std::optional<std::uint32_t>();
    return std::optional<std::uint32_t>(index);
}

Result<std::vector<std::uint8_t>> NetlinkKernel::save_route(const op::RemoveForeignRouteV4& op) {
    auto saved = kernel_ops::save_route(*socket_, op);
    if (!saved)
        return make_error("save route for " + to_string(op) + ": " + saved.error().message);
    return saved;
}

}  // namespace clat
