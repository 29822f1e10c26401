#pragma once
/// The port to Router Solicitations. Implemented by adapters/router_solicitor and by fakes.

#include <string>

namespace clat {

/// The port to Router Solicitations (RFC 4861 §6.3.7), so that a PREF64 arrives at once.
class RouterSolicitorPort {
  public:
    virtual ~RouterSolicitorPort() = default;
    /// Starts a round of solicitations on the link; a running round is replaced.
    virtual void solicit(int ifindex, std::string ifname) = 0;
    /// Idempotent.
    virtual void cancel() = 0;
};

}  // namespace clat
