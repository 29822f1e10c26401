#include "dbus/authorization.hpp"

#include <grp.h>
#include <systemd/sd-bus.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace clat::dbus {

bool may_control(const CallerCredentials& caller, std::optional<std::uint32_t> admin_gid) {
    if (!caller.uid)
        return false;
    if (*caller.uid == 0)
        return true;
    return admin_gid &&
           std::find(caller.gids.begin(), caller.gids.end(), *admin_gid) != caller.gids.end();
}

// Reads the a{sv} of org.freedesktop.DBus.GetConnectionCredentials: the caller's UID and its
// group IDs, which the bus daemon takes from the socket (SO_PEERCRED, SO_PEERGROUPS), so
// they are not subject to the PID-reuse races of reading /proc.
Result<CallerCredentials> read_credentials(sd_bus_message* reply) {
    CallerCredentials caller;
    int r = sd_bus_message_enter_container(reply, 'a', "{sv}");
    while (r > 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
        const char* key = nullptr;
        if ((r = sd_bus_message_read(reply, "s", &key)) < 0)
            break;
        if (std::strcmp(key, "UnixUserID") == 0) {
            std::uint32_t uid = 0;
            r = sd_bus_message_read(reply, "v", "u", &uid);
            caller.uid = uid;
        } else if (std::strcmp(key, "UnixGroupIDs") == 0) {
            const void* gids = nullptr;
            std::size_t size = 0;
            if ((r = sd_bus_message_enter_container(reply, 'v', "au")) < 0 ||
                (r = sd_bus_message_read_array(reply, 'u', &gids, &size)) < 0 ||
                (r = sd_bus_message_exit_container(reply)) < 0)
                break;
            const auto* first = static_cast<const std::uint32_t*>(gids);
            caller.gids.assign(first, first + size / sizeof(std::uint32_t));
        } else {
            r = sd_bus_message_skip(reply, "v");
        }
        if (r < 0 || (r = sd_bus_message_exit_container(reply)) < 0)
            break;
        r = 1;
    }
    if (r < 0)
        return make_error(std::string("cannot parse the caller's credentials: ") +
                          std::strerror(-r));
    return caller;
}

Result<std::uint32_t> group_id(const std::string& name) {
    std::vector<char> buffer(16384);
    group entry{};
    group* found = nullptr;
    int r = 0;
    while ((r = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE)
        buffer.resize(buffer.size() * 2);
    if (r != 0)
        return make_error("cannot look up group '" + name + "': " + std::strerror(r));
    if (found == nullptr)
        return make_error("group '" + name + "' does not exist");
    return static_cast<std::uint32_t>(found->gr_gid);
}

}  // namespace clat::dbus
