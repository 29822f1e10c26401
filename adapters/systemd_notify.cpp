#include "adapters/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <chrono>

namespace clat {

SystemdNotifier::SystemdNotifier(boost::asio::io_context& io) : watchdog_timer_(io) {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0)
        watchdog_usec_ = usec;
}

void SystemdNotifier::ready() {
    sd_notify(0, "READY=1");
    if (watchdog_enabled())
        ping_watchdog();
}

void SystemdNotifier::status(const std::string& text) {
    sd_notify(0, ("STATUS=" + text).c_str());
}

void SystemdNotifier::reloading(std::uint64_t monotonic_usec) {
    // sd_notify(3): RELOADING=1 carries MONOTONIC_USEC, the CLOCK_MONOTONIC time at which the
    // reload started; READY=1 follows when it is done.
    const std::string message = "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec);
    sd_notify(0, message.c_str());
}

void SystemdNotifier::stopping() {
    sd_notify(0, "STOPPING=1");
    watchdog_timer_.cancel();
}

void SystemdNotifier::ping_watchdog() {
    sd_notify(0, "WATCHDOG=1");
    // Ping at half the interval, as sd_watchdog_enabled(3) recommends. Being driven by the
    // loop, a stuck loop stops the pings and systemd notices.
    watchdog_timer_.expires_after(std::chrono::microseconds(watchdog_usec_ / 2));
    watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec)
            ping_watchdog();
    });
}

}  // namespace clat
