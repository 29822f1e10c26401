#pragma once
/// The port through which the executor changes the host. Implemented by adapters/netlink_kernel
/// (netlink through libnl, /proc/sys, the firewall tool) and by fakes in unit tests.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "states/operation.hpp"
#include "states/result.hpp"

namespace clat {

/// Synchronous, idempotent application of single operations. Errors carry the operation
/// and the kernel's reason; they never throw.
class KernelPort {
  public:
    virtual ~KernelPort() = default;
    virtual Result<ApplyOutcome> apply(const Operation& op) = 0;
    /// Reads a sysctl; path relative to /proc/sys ("net/ipv6/conf/all/forwarding"). The value
    /// is normalised (normalise_sysctl_value).
    virtual Result<std::string> read_sysctl(const std::string& path) = 0;
    /// The index of the link called name now; nullopt when there is none. Saved with a
    /// per-device sysctl's old value so that undo follows a rename (op::SetSysctl::ifindex).
    /// A fake kernel without links keeps this default: no index, undo by name.
    virtual Result<std::optional<std::uint32_t>> link_index(const std::string& name) {
        (void)name;
        return std::optional<std::uint32_t>();
    }
    /// The route that op would remove, as the kernel holds it: the whole RTM_NEWROUTE payload
    /// (rtmsg and attributes) of the first route that reads back as op.route on op.dev, which
    /// RestoreRoute re-adds verbatim. Empty when there is no such route.
    virtual Result<std::vector<std::uint8_t>> save_route(const op::RemoveForeignRouteV4& op) = 0;
};

}  // namespace clat
