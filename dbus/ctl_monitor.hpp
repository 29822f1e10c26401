#pragma once
/// `clatctl monitor`: follows the agent's PropertiesChanged signals and prints each change.

namespace clat::dbus {

/// Prints every change of net.clatd.Agent1's properties as it happens, human-readable
/// ("State: Provision -> Running") or as one JSON object per line with a "timestamp" (UNIX
/// microseconds). Also reports the agent leaving and rejoining the bus, and keeps going.
/// Returns only on failure: 3 when the agent is not running at the start or the bus is lost.
int run_monitor(bool json);

}  // namespace clat::dbus
