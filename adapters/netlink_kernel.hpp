#pragma once
/// The KernelPort that changes the host: links, addresses, routes, rules and proxy neighbours
/// through rtnetlink (libnl-3, one synchronous request with ACK at a time on its own socket),
/// TUN devices through /dev/net/tun, sysctls through /proc/sys, and the forwarding firewall
/// through the configured nft or ip6tables binary. Never shells out to `ip`.
///
/// Idempotent: adding what exists, removing what is gone, or writing the value a sysctl
/// already holds reports kAlreadyInPlace. Removals match exactly, so that a foreign object
/// that merely resembles ours (a route with another metric) is left alone.

#include <memory>
#include <string>

#include "ports/kernel.hpp"
#include "states/result.hpp"

namespace clat {

namespace rtnl {
class Socket;
}

/// Applies operations to the kernel of the calling process's network namespace.
class NetlinkKernel final : public KernelPort {
  public:
    /// Opens the rtnetlink socket; fails when netlink is unavailable.
    static Result<std::unique_ptr<NetlinkKernel>> open();
    ~NetlinkKernel() override;
    NetlinkKernel(const NetlinkKernel&) = delete;
    NetlinkKernel& operator=(const NetlinkKernel&) = delete;

    /// Errors name the operation and the kernel's reason.
    Result<ApplyOutcome> apply(const Operation& op) override;
    Result<std::string> read_sysctl(const std::string& path) override;
    Result<std::optional<std::uint32_t>> link_index(const std::string& name) override;
    Result<std::vector<std::uint8_t>> save_route(const op::RemoveForeignRouteV4& op) override;

  private:
    explicit NetlinkKernel(std::unique_ptr<rtnl::Socket> socket);
    std::unique_ptr<rtnl::Socket> socket_;
};

}  // namespace clat
