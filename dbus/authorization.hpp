#pragma once
/// Who may call the methods of net.clatd.Agent1 (SPEC §8): root, or a member of the
/// configured admin group. Reading properties is open to everyone.

#include <systemd/sd-bus.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "states/result.hpp"

namespace clat::dbus {

/// A caller as the bus daemon knows it (GetConnectionCredentials): the UID and, when the bus
/// can tell, the complete list of its group IDs (primary and supplementary).
struct CallerCredentials {
    std::optional<std::uint32_t> uid;
    std::vector<std::uint32_t> gids;
};

/// True when the caller is root or belongs to admin_gid (unset = root only).
bool may_control(const CallerCredentials& caller, std::optional<std::uint32_t> admin_gid);

/// Reads the reply of org.freedesktop.DBus.GetConnectionCredentials (an a{sv}).
Result<CallerCredentials> read_credentials(sd_bus_message* reply);

/// The GID of a group name, or an error naming the group.
Result<std::uint32_t> group_id(const std::string& name);

}  // namespace clat::dbus
