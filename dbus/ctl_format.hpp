#pragma once
/// clatctl's output: JSON and human renderings of the agent's properties, and the mapping of
/// D-Bus errors to clatctl's exit codes (both documented in clatctl(8)).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dbus/properties.hpp"

namespace clat::dbus {

/// Property values keyed by D-Bus name.
using PropertyMap = std::map<std::string, PropertyValue, std::less<>>;

/// clatctl's exit codes.
enum ExitCode : int {
    kExitOk = 0,
    kExitFailure = 1,
    kExitUsage = 2,
    kExitNotRunning = 3,
    kExitAccessDenied = 4,
    kExitRejected = 5,
};

/// The exit code for a D-Bus error name (e.g. org.freedesktop.DBus.Error.ServiceUnknown → 3).
ExitCode exit_code_for_error(std::string_view error_name);
/// The exit code for a failure to reach or keep the bus (negative errno).
ExitCode exit_code_for_errno(int error);

/// A JSON string literal, quotes included.
std::string json_string(std::string_view text);
/// A value as JSON: strings quoted, numbers bare.
std::string json_value(const PropertyValue& value);
/// One JSON object (one line, no newline) with the JSON names of the known properties in
/// `values`, in table order, preceded by "timestamp" when timestamp_us is not zero.
std::string json_object(const PropertyMap& values, std::uint64_t timestamp_us = 0);

/// A value as a human reads it: "-" for empty, times as local time with a relative part.
/// now_s is the current UNIX time in seconds.
std::string human_value(const PropertySpec& spec, const PropertyValue& value, std::int64_t now_s);
/// `Key: value` lines, values aligned in one column, in table order.
std::string human_status(const PropertyMap& values, std::int64_t now_s);
/// "State: Provision -> Running" for one changed property.
std::string human_change(const PropertySpec& spec, const PropertyValue* before,
                         const PropertyValue& after, std::int64_t now_s);
/// "1h 2min 3s".
std::string human_duration(std::uint64_t seconds);

}  // namespace clat::dbus
