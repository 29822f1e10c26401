#include "adapters/sysctl.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace clat::sysctl {
namespace {

const std::string kRoot = "/proc/sys/";

std::string normalise(const std::string& text) {
    return normalise_sysctl_value(text);
}

Error io_error(const char* what, const std::string& path, int error) {
    return make_error(std::string(what) + " " + kRoot + path + ": " + std::strerror(error));
}

Status write_value(const std::string& path, const std::string& value) {
    const int fd = ::open((kRoot + path).c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error("cannot open", path, errno);
    // One write(2): proc handlers parse each write from the start of the value.
    const ssize_t n = ::write(fd, value.data(), value.size());
    const int error = errno;
    ::close(fd);
    if (n < 0)
        return io_error("cannot write", path, error);
    if (static_cast<std::size_t>(n) != value.size())
        return make_error("short write to " + kRoot + path);
    return Ok{};
}

}  // namespace

Status validate_path(const std::string& path) {
    if (path.empty() || path.front() == '/' || path.back() == '/')
        return make_error("sysctl path '" + path + "' must be relative to /proc/sys");
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        const std::string part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == "..")
            return make_error("sysctl path '" + path + "' has an invalid component");
        start = end + 1;
    }
    for (const char c : path) {
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
            return make_error("sysctl path '" + path + "' contains a control character");
    }
    return Ok{};
}

Result<std::string> read(const std::string& path) {
    if (auto valid = validate_path(path); !valid)
        return valid.error();
    const int fd = ::open((kRoot + path).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error("cannot open", path, errno);
    std::string content;
    std::array<char, 512> buf{};
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int error = errno;
            ::close(fd);
            return io_error("cannot read", path, error);
        }
        if (n == 0)
            break;
        content.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    return normalise(content);
}

Result<ApplyOutcome> apply(const op::SetSysctl& given) {
    op::SetSysctl o = given;
    if (o.ifindex) {
        // The path names the device as it was called when the value was saved; write the
        // one it is called now. A device that has gone took its sysctls with it.
        std::array<char, IF_NAMESIZE> name{};
        if (::if_indextoname(*o.ifindex, name.data()) == nullptr)
            return ApplyOutcome::kAlreadyInPlace;
        o.path = sysctl_path_with_device(o.path, name.data());
    }
    auto current = read(o.path);
    if (!current)
        return current.error();
    const std::string wanted = normalise(o.value);
    if (*current == wanted)
        return ApplyOutcome::kAlreadyInPlace;
    // Undo restores a value only while the sysctl still holds what the agent wrote.
    if (o.if_current && *current != normalise(*o.if_current))
        return ApplyOutcome::kAlreadyInPlace;
    if (auto written = write_value(o.path, o.value); !written)
        return written.error();
    return ApplyOutcome::kApplied;
}

}  // namespace clat::sysctl
