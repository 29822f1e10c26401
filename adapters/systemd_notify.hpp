#pragma once
/// The service manager protocol (sd_notify, SPEC §10): READY=1, STATUS=, STOPPING=1,
/// RELOADING=1 and WATCHDOG=1 pings on the loop when WatchdogSec is set. Harmless when not
/// run by systemd (NOTIFY_SOCKET unset).

#include <string>

#include "agent/asio.hpp"

namespace clat {

class SystemdNotifier {
  public:
    explicit SystemdNotifier(boost::asio::io_context& io);
    void ready();
    void status(const std::string& text);
    void reloading();
    void stopping();
    /// True when the watchdog is enabled for this process; pings start with ready().
    bool watchdog_enabled() const { return watchdog_usec_ != 0; }

  private:
    void ping_watchdog();

    boost::asio::steady_timer watchdog_timer_;
    unsigned long long watchdog_usec_ = 0;
};

}  // namespace clat
