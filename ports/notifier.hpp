#pragma once
/// The port to the service manager (sd_notify(3)). Implemented by adapters/systemd_notify.

#include <cstdint>
#include <string>

namespace clat {

class NotifierPort {
  public:
    virtual ~NotifierPort() = default;
    virtual void ready() = 0;
    virtual void status(const std::string& text) = 0;
    /// RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC µs of the reload's start), which
    /// sd_notify(3) requires; READY=1 must follow when the reload is done.
    virtual void reloading(std::uint64_t monotonic_usec) = 0;
    virtual void stopping() = 0;
};

}  // namespace clat
