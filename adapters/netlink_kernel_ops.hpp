#pragma once
/// Internal to the kernel adapter: one function per rtnetlink operation. Each returns the
/// kernel's reason on error; NetlinkKernel::apply prefixes it with the operation.

#include <cstdint>
#include <string>
#include <vector>

#include "adapters/netlink_kernel_request.hpp"
#include "ports/kernel.hpp"
#include "states/operation.hpp"

namespace clat::kernel_ops {

/// The interface index of dev, or 0 when there is no such link.
int ifindex_of(const std::string& dev);

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::DeleteLink& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::SetLinkUp& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::SetLinkMtu& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::AddAddressV4& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveAddressV4& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::AddAddressV6& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveAddressV6& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::AddProxyNeighbour& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveProxyNeighbour& o);

Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::AddRouteV4& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveRouteV4& o);
/// The route o would remove, saved whole (KernelPort::save_route); empty when there is none.
Result<std::vector<std::uint8_t>> save_route(rtnl::Socket& socket,
                                             const op::RemoveForeignRouteV4& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveForeignRouteV4& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RestoreRoute& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::AddRouteV6& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveRouteV6& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::AddRuleV6& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::RemoveRuleV6& o);
Result<ApplyOutcome> apply_op(rtnl::Socket& socket, const op::MoveRuleV6& o);

}  // namespace clat::kernel_ops
