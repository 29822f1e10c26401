#include "dbus/ctl_format.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <string>
#include <variant>

namespace clat::dbus {

ExitCode exit_code_for_error(std::string_view error_name) {
    if (error_name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
        error_name == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
        error_name == "org.freedesktop.DBus.Error.UnknownObject" ||
        error_name == "org.freedesktop.DBus.Error.NoServer" ||
        error_name == "org.freedesktop.DBus.Error.Disconnected")
        return kExitNotRunning;
    if (error_name == "org.freedesktop.DBus.Error.AccessDenied" ||
        error_name == "org.freedesktop.DBus.Error.AuthFailed")
        return kExitAccessDenied;
    if (error_name == "net.clatd.Error.ReloadRejected")
        return kExitRejected;
    return kExitFailure;
}

ExitCode exit_code_for_errno(int error) {
    switch (error < 0 ? -error : error) {
        case ENOENT:
        case ECONNREFUSED:
        case ECONNRESET:
        case ENOTCONN:
        case EPIPE:
        case EHOSTUNREACH:
        case ENXIO:
            return kExitNotRunning;
        case EACCES:
        case EPERM:
            return kExitAccessDenied;
        default:
            return kExitFailure;
    }
}

std::string json_string(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (byte < 0x20) {
            out += "\\u00";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xf];
        } else {
            out += c;
        }
    }
    return out + '"';
}

std::string json_value(const PropertyValue& value) {
    if (const auto* s = std::get_if<std::string>(&value))
        return json_string(*s);
    if (const auto* u = std::get_if<std::uint32_t>(&value))
        return std::to_string(*u);
    return std::to_string(std::get<std::uint64_t>(value));
}

std::string json_object(const PropertyMap& values, std::uint64_t timestamp_us) {
    std::string out = "{";
    if (timestamp_us != 0)
        out += "\"timestamp\":" + std::to_string(timestamp_us);
    for (const auto& spec : properties()) {
        const auto it = values.find(spec.dbus_name);
        if (it == values.end())
            continue;
        if (out.size() > 1)
            out += ',';
        out += json_string(spec.json_name) + ':' + json_value(it->second);
    }
    return out + '}';
}

std::string human_duration(std::uint64_t seconds) {
    static constexpr std::pair<std::uint64_t, const char*> kUnits[] = {
        {86400, "d"}, {3600, "h"}, {60, "min"}, {1, "s"}};
    if (seconds == 0)
        return "0s";
    std::string out;
    for (const auto& [size, unit] : kUnits) {
        if (seconds >= size) {
            if (!out.empty())
                out += ' ';
            out += std::to_string(seconds / size) + unit;
            seconds %= size;
        }
    }
    return out;
}

namespace {

std::string local_time(std::int64_t unix_s) {
    const auto t = static_cast<std::time_t>(unix_s);
    std::tm tm{};
    char buffer[64];
    if (localtime_r(&t, &tm) == nullptr ||
        std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
        return std::to_string(unix_s);
    return buffer;
}

std::string relative_time(std::int64_t unix_s, std::int64_t now_s) {
    if (unix_s == now_s)
        return local_time(unix_s) + " (now)";
    if (unix_s > now_s)
        return local_time(unix_s) + " (in " + human_duration(unix_s - now_s) + ")";
    return local_time(unix_s) + " (" + human_duration(now_s - unix_s) + " ago)";
}

}  // namespace

std::string human_value(const PropertySpec& spec, const PropertyValue& value, std::int64_t now_s) {
    if (const auto* s = std::get_if<std::string>(&value))
        return s->empty() ? "-" : *s;
    const std::uint64_t number = std::holds_alternative<std::uint32_t>(value)
                                     ? std::get<std::uint32_t>(value)
                                     : std::get<std::uint64_t>(value);
    switch (spec.kind) {
        case PropertyKind::kUnixSeconds:
            return number == 0 ? "never" : relative_time(static_cast<std::int64_t>(number), now_s);
        case PropertyKind::kUnixMicroseconds:
            return number == 0 ? "-"
                               : relative_time(static_cast<std::int64_t>(number / 1000000), now_s);
        case PropertyKind::kPlain:
            break;
    }
    return std::to_string(number);
}

std::string human_status(const PropertyMap& values, std::int64_t now_s) {
    std::size_t width = 0;
    for (const auto& spec : properties())
        width = std::max(width, spec.label.size());
    std::string out;
    for (const auto& spec : properties()) {
        const auto it = values.find(spec.dbus_name);
        if (it == values.end())
            continue;
        // "PLAT expiry: never" only makes sense when there is a prefix.
        std::string shown = human_value(spec, it->second, now_s);
        if (spec.dbus_name == "PlatExpiry") {
            const auto prefix = values.find("PlatPrefix");
            if (prefix != values.end() && prefix->second == PropertyValue(std::string()))
                shown = "-";
        }
        out += std::string(spec.label) + ':' + std::string(width + 1 - spec.label.size(), ' ') +
               shown + '\n';
    }
    return out;
}

std::string human_change(const PropertySpec& spec, const PropertyValue* before,
                         const PropertyValue& after, std::int64_t now_s) {
    std::string out = std::string(spec.label) + ": ";
    if (before != nullptr)
        out += human_value(spec, *before, now_s) + " -> ";
    return out + human_value(spec, after, now_s);
}

}  // namespace clat::dbus
