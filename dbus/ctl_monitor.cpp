#include "dbus/ctl_monitor.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>

#include "dbus/ctl_bus.hpp"
#include "dbus/names.hpp"

namespace clat::dbus {

namespace {

struct Monitor {
    sd_bus* bus = nullptr;
    bool json = false;
    PropertyMap known;  ///< last values seen, to print "old -> new"
};

std::string clock_prefix() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    char buffer[16];
    if (localtime_r(&now, &tm) == nullptr || std::strftime(buffer, sizeof buffer, "%T", &tm) == 0)
        return "";
    return std::string(buffer) + ' ';
}

/// Prints the values that differ from what was known, then remembers them. The counters are
/// left out: they change continuously and are never announced.
void print_changes(Monitor& monitor, const PropertyMap& announced) {
    PropertyMap changed;
    for (const auto& [name, value] : announced) {
        const PropertySpec* spec = find_property(name);
        const auto it = monitor.known.find(name);
        if (spec && spec->emits_change && (it == monitor.known.end() || it->second != value))
            changed.emplace(name, value);
    }
    if (changed.empty())
        return;
    if (monitor.json) {
        std::cout << json_object(changed, now_microseconds()) << '\n';
    } else {
        const auto now = now_seconds();
        for (const auto& spec : properties()) {
            // Each line carries the time already; LastTransition would only repeat it.
            const auto it = changed.find(spec.dbus_name);
            if (it == changed.end() || spec.kind == PropertyKind::kUnixMicroseconds)
                continue;
            const auto before = monitor.known.find(spec.dbus_name);
            std::cout << clock_prefix()
                      << human_change(spec,
                                      before == monitor.known.end() ? nullptr : &before->second,
                                      it->second, now)
                      << '\n';
        }
    }
    std::cout.flush();
    for (const auto& [name, value] : changed)
        monitor.known[name] = value;
}

void print_agent_event(const Monitor& monitor, const char* event) {
    if (monitor.json)
        std::cout << R"({"timestamp":)" << now_microseconds() << R"(,"agent":")" << event
                  << "\"}\n";
    else
        std::cout << clock_prefix() << "clatd " << event << '\n';
    std::cout.flush();
}

int on_properties_changed(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/) {
    auto& monitor = *static_cast<Monitor*>(userdata);
    const char* interface = nullptr;
    if (sd_bus_message_read(m, "s", &interface) < 0 || std::strcmp(interface, kInterface) != 0)
        return 0;
    PropertyMap announced;
    if (const int r = read_properties(m, announced); r < 0) {
        fail(kExitFailure, std::string("malformed PropertiesChanged: ") + std::strerror(-r));
        return 0;
    }
    print_changes(monitor, announced);
    return 0;
}

int on_owner_changed(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/) {
    auto& monitor = *static_cast<Monitor*>(userdata);
    const char* name = nullptr;
    const char* old_owner = nullptr;
    const char* new_owner = nullptr;
    if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 ||
        std::strcmp(name, kBusName) != 0)
        return 0;
    if (*new_owner == '\0') {
        print_agent_event(monitor, "stopped");
        return 0;
    }
    print_agent_event(monitor, "started");
    // The object is exported before the name is taken, so it can be read right away.
    PropertyMap current;
    if (get_all(monitor.bus, current) == kExitOk)
        print_changes(monitor, current);
    return 0;
}

int add_matches(Monitor& monitor) {
    int r = sd_bus_match_signal(monitor.bus, nullptr, kBusName, kObjectPath,
                                "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                on_properties_changed, &monitor);
    if (r >= 0)
        r = sd_bus_add_match(monitor.bus, nullptr,
                             "type='signal',sender='org.freedesktop.DBus',"
                             "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
                             "member='NameOwnerChanged',arg0='net.clatd'",
                             on_owner_changed, &monitor);
    if (r < 0) {
        const sd_bus_error none{};
        return call_failed(none, r, "subscribing to changes");
    }
    return kExitOk;
}

}  // namespace

int run_monitor(bool json) {
    Bus bus;
    if (const int code = bus.open(); code != kExitOk)
        return code;
    Monitor monitor{bus.get(), json, {}};
    // Subscribe first, then read: no change falls between the two.
    if (const int code = add_matches(monitor); code != kExitOk)
        return code;
    if (const int code = get_all(bus.get(), monitor.known); code != kExitOk)
        return code;
    for (;;) {
        int r = sd_bus_process(bus.get(), nullptr);
        if (r > 0)
            continue;
        if (r >= 0)
            r = sd_bus_wait(bus.get(), UINT64_MAX);
        if (r < 0 && r != -EINTR)
            return fail(kExitNotRunning,
                        "lost the system bus at " + bus_address() + ": " + std::strerror(-r));
    }
}

}  // namespace clat::dbus
