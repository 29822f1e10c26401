#pragma once
/// clatctl's side of the bus: a connection, synchronous calls (fine in a client), reading
/// property values, and reporting failures with the exit codes of clatctl(8).

#include <systemd/sd-bus.h>

#include <cstdint>
#include <string>

#include "dbus/ctl_format.hpp"

namespace clat::dbus {

/// Prints "clatctl: message" to stderr and returns code.
int fail(int code, const std::string& message);

/// The system bus address in use ($DBUS_SYSTEM_BUS_ADDRESS or the default).
std::string bus_address();

std::int64_t now_seconds();
std::uint64_t now_microseconds();

/// Prints what went wrong with a call (r: its negative errno) and returns the exit code.
int call_failed(const sd_bus_error& error, int r, const std::string& what);

/// A system bus connection, closed on destruction.
class Bus {
  public:
    Bus() = default;
    Bus(const Bus&) = delete;
    Bus& operator=(const Bus&) = delete;
    ~Bus();
    /// Connects; on failure prints why and returns the exit code (3 when unreachable).
    int open();
    sd_bus* get() const { return bus_; }

  private:
    sd_bus* bus_ = nullptr;
};

/// Reads an a{sv} of properties into out; unknown names and wrong types are skipped.
/// Returns a negative errno on a malformed message.
int read_properties(sd_bus_message* m, PropertyMap& out);

/// Properties.GetAll on net.clatd.Agent1; on failure prints why and returns the exit code.
int get_all(sd_bus* bus, PropertyMap& out);

}  // namespace clat::dbus
