#pragma once
/// The properties of net.clatd.Agent1, in one table: their D-Bus names, the JSON names clatctl
/// prints (documented in clatctl(8), stable), the human labels, and how each is read from a
/// snapshot. The service and clatctl both use it, so the two cannot drift apart.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dbus/status.hpp"

namespace clat::dbus {

/// A property's value: D-Bus type "s", "u" or "t".
using PropertyValue = std::variant<std::string, std::uint32_t, std::uint64_t>;

/// How a property is displayed by clatctl besides its plain value.
enum class PropertyKind { kPlain, kUnixSeconds, kUnixMicroseconds };

/// One property of net.clatd.Agent1.
struct PropertySpec {
    std::string_view dbus_name;  ///< "PlatPrefix"
    std::string_view json_name;  ///< "plat_prefix"
    std::string_view label;      ///< "PLAT prefix"
    char signature;              ///< 's', 'u' or 't'
    /// False for the device counters: they change continuously, so they are read on demand and
    /// never announced by PropertiesChanged (EmitsChangedSignal=false in the introspection).
    bool emits_change;
    PropertyKind kind;
    PropertyValue (*get)(const AgentStatus&, const Counters&);
};

/// Every property, in the order clatctl shows them.
std::span<const PropertySpec> properties();

/// The property with this D-Bus name, or nullptr.
const PropertySpec* find_property(std::string_view dbus_name);

/// D-Bus names of the properties that announce changes and differ between the two snapshots,
/// in table order.
std::vector<std::string> changed_properties(const AgentStatus& before, const AgentStatus& after);

}  // namespace clat::dbus
