#include "dbus/ctl_bus.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>

#include "dbus/names.hpp"

namespace clat::dbus {

int fail(int code, const std::string& message) {
    std::cerr << "clatctl: " << message << '\n';
    return code;
}

std::string bus_address() {
    const char* address = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
    return address ? address : "unix:path=/run/dbus/system_bus_socket";
}

std::int64_t now_seconds() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

std::uint64_t now_microseconds() {
    using namespace std::chrono;
    return static_cast<std::uint64_t>(
        duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

int call_failed(const sd_bus_error& error, int r, const std::string& what) {
    if (!sd_bus_error_is_set(&error)) {
        const int code = exit_code_for_errno(r);
        if (code == kExitNotRunning)
            return fail(code, "lost the system bus at " + bus_address() + ": " + std::strerror(-r));
        return fail(code, what + " failed: " + std::strerror(-r));
    }
    const std::string message = error.message ? error.message : error.name;
    switch (exit_code_for_error(error.name)) {
        case kExitNotRunning:
            return fail(kExitNotRunning, "clatd is not running (nothing owns " +
                                             std::string(kBusName) + " on the system bus)");
        case kExitAccessDenied:
            return fail(kExitAccessDenied, "access denied: " + message);
        case kExitRejected:
            return fail(kExitRejected, "reload rejected: " + message);
        default:
            return fail(kExitFailure, what + " failed: " + message + " (" + error.name + ")");
    }
}

Bus::~Bus() {
    sd_bus_flush_close_unref(bus_);
}

int Bus::open() {
    const int r = sd_bus_open_system(&bus_);
    if (r < 0)
        return fail(exit_code_for_errno(r) == kExitFailure ? kExitFailure : kExitNotRunning,
                    "cannot reach the system bus at " + bus_address() + ": " + std::strerror(-r));
    return kExitOk;
}

namespace {

/// Reads one variant holding a property of the expected type; false if it is of another type
/// (then it is skipped).
bool read_variant(sd_bus_message* m, const PropertySpec& spec, PropertyValue& out) {
    const char signature[2] = {spec.signature, '\0'};
    if (sd_bus_message_enter_container(m, 'v', signature) <= 0) {
        sd_bus_message_skip(m, "v");
        return false;
    }
    int r = 0;
    if (spec.signature == 's') {
        const char* s = nullptr;
        r = sd_bus_message_read(m, "s", &s);
        out = std::string(s ? s : "");
    } else if (spec.signature == 'u') {
        std::uint32_t u = 0;
        r = sd_bus_message_read(m, "u", &u);
        out = u;
    } else {
        std::uint64_t t = 0;
        r = sd_bus_message_read(m, "t", &t);
        out = t;
    }
    return r >= 0 && sd_bus_message_exit_container(m) >= 0;
}

}  // namespace

int read_properties(sd_bus_message* m, PropertyMap& out) {
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    while (r > 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char* name = nullptr;
        if ((r = sd_bus_message_read(m, "s", &name)) < 0)
            break;
        PropertyValue value;
        if (const PropertySpec* spec = find_property(name); spec && read_variant(m, *spec, value))
            out[name] = value;
        else if (!spec)
            r = sd_bus_message_skip(m, "v");
        if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
            break;
        r = 1;
    }
    return r < 0 ? r : sd_bus_message_exit_container(m);
}

int get_all(sd_bus* bus, PropertyMap& out) {
    sd_bus_error error{};  // SD_BUS_ERROR_NULL, without the C compound literal
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus, kBusName, kObjectPath, "org.freedesktop.DBus.Properties",
                               "GetAll", &error, &reply, "s", kInterface);
    int code = kExitOk;
    if (r < 0)
        code = call_failed(error, r, "reading the status");
    else if ((r = read_properties(reply, out)) < 0)
        code = fail(kExitFailure, std::string("malformed status reply: ") + std::strerror(-r));
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    return code;
}

}  // namespace clat::dbus
