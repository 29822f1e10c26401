#pragma once
/// The service manager protocol (sd_notify, SPEC §10): READY=1, STATUS=, STOPPING=1,
/// RELOADING=1 and WATCHDOG=1 pings on the loop when WatchdogSec is set. Harmless when not
/// run by systemd (NOTIFY_SOCKET unset).

#include <string>

#include "agent/asio.hpp"
#include "ports/notifier.hpp"

namespace clat {

class SystemdNotifier final : public NotifierPort {
  public:
    explicit SystemdNotifier(boost::asio::io_context& io);
    void ready() override;
    void status(const std::string& text) override;
    void reloading(std::uint64_t monotonic_usec) override;
    void stopping() override;
    /// True when the watchdog is enabled for this process; pings start with ready().
    bool watchdog_enabled() const { return watchdog_usec_ != 0; }

  private:
    void ping_watchdog();

    boost::asio::steady_timer watchdog_timer_;
    unsigned long long watchdog_usec_ = 0;
};

}  // namespace clat
