#include "adapters/tun.hpp"

#include <fcntl.h>
#include <net/if.h>  // before linux/if_tun.h
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include <cerrno>
#include <cstring>

namespace clat::tun {
namespace {

constexpr const char* kCloneDevice = "/dev/net/tun";

Error failed(const std::string& what, int error) {
    return make_error(what + ": " + std::strerror(error));
}

}  // namespace

Result<ApplyOutcome> create_persistent(const std::string& dev) {
    if (dev.empty() || dev.size() >= IFNAMSIZ)
        return make_error("invalid device name '" + dev + "'");
    const bool existed = ::if_nametoindex(dev.c_str()) != 0;
    const int fd = ::open(kCloneDevice, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        const int error = errno;
        if (error == ENOENT)
            return make_error(std::string(kCloneDevice) +
                              " is missing (the tun driver or its device node)");
        return failed(std::string("cannot open ") + kCloneDevice, error);
    }
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, dev.data(), dev.size());
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
        const int error = errno;
        ::close(fd);
        // EBUSY: a TUN device of that name is attached already (the translator holds it).
        if (existed && error == EBUSY)
            return ApplyOutcome::kAlreadyInPlace;
        if (existed && error == EINVAL)
            return make_error(dev + " exists and is not a TUN device");
        return failed("TUNSETIFF " + dev, error);
    }
    // Persistent: the device outlives this descriptor, so the translator can attach to it
    // and a restarted translator finds it again.
    if (::ioctl(fd, TUNSETPERSIST, 1) < 0) {
        const int error = errno;
        ::close(fd);
        return failed("TUNSETPERSIST " + dev, error);
    }
    ::close(fd);
    return existed ? ApplyOutcome::kAlreadyInPlace : ApplyOutcome::kApplied;
}

}  // namespace clat::tun
