#pragma once
/// Drives one sd-bus connection from a Boost.Asio io_context (the sdbusplus pattern): wait for
/// the events sd_bus_get_events() asks for on sd_bus_get_fd(), and for the deadline of
/// sd_bus_get_timeout(); after each wake-up run sd_bus_process() until it has nothing left,
/// then wait again. No threads and no blocking calls.

#include <systemd/sd-bus.h>

#include <functional>
#include <memory>

#include "agent/asio.hpp"

namespace clat::dbus {

/// Pumps a connection it does not own. The file descriptor stays sd-bus's: it is released,
/// never closed. Destroying the pump cancels its waits; the bus must outlive the pump.
class BusPump {
  public:
    /// on_lost(error) is posted (never called re-entrantly) once the connection has failed or
    /// closed; the pump then stops. error is a negative errno.
    BusPump(boost::asio::io_context& io, sd_bus* bus, std::function<void(int)> on_lost);
    ~BusPump();
    BusPump(const BusPump&) = delete;
    BusPump& operator=(const BusPump&) = delete;

    /// Processes whatever is pending and re-arms the waits. Call after queueing messages from
    /// outside an sd-bus callback (e.g. emitting a signal), so writes are flushed.
    void kick();

  private:
    void process();
    void arm();
    void fail(int error);

    boost::asio::io_context& io_;
    sd_bus* bus_;
    std::function<void(int)> on_lost_;
    boost::asio::posix::stream_descriptor fd_;
    boost::asio::steady_timer timer_;
    bool reading_ = false;
    bool writing_ = false;
    bool processing_ = false;
    bool failed_ = false;
    /// Handlers hold a weak reference: once the pump is gone they do nothing.
    std::shared_ptr<BusPump*> self_;
};

}  // namespace clat::dbus
