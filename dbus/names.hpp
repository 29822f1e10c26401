#pragma once
/// The names of clatd's D-Bus API (SPEC §8), shared by the agent's service and clatctl.

namespace clat::dbus {

inline constexpr const char* kBusName = "net.clatd";
inline constexpr const char* kObjectPath = "/net/clatd";
inline constexpr const char* kInterface = "net.clatd.Agent1";
/// Reload() found the new configuration invalid; the message says why.
inline constexpr const char* kErrorReloadRejected = "net.clatd.Error.ReloadRejected";

}  // namespace clat::dbus
