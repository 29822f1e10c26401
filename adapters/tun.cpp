#include "adapters/tun.hpp"

#include <fcntl.h>
#include <net/if.h>  // before linux/if_tun.h
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace clat::tun {
namespace {

constexpr const char* kCloneDevice = "/dev/net/tun";

Error failed(const std::string& what, int error) {
    return make_error(what + ": " + std::strerror(error));
}

/// True if dev's driver is the tun driver (ETHTOOL_GDRVINFO), asked without attaching to it.
Result<bool> is_tun(const std::string& dev) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return failed("cannot ask the driver of " + dev, errno);
    ethtool_drvinfo info{};
    info.cmd = ETHTOOL_GDRVINFO;
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, dev.data(), dev.size());
    ifr.ifr_data = reinterpret_cast<char*>(&info);
    const int rc = ::ioctl(fd, SIOCETHTOOL, &ifr);
    const int error = errno;
    ::close(fd);
    if (rc < 0)
        return error == EOPNOTSUPP ? Result<bool>(false)
                                   : Result<bool>(failed("driver of " + dev, error));
    return std::strncmp(info.driver, "tun", sizeof info.driver) == 0;
}

}  // namespace

Result<ApplyOutcome> create_persistent(const std::string& dev) {
    if (dev.empty() || dev.size() >= IFNAMSIZ)
        return make_error("invalid device name '" + dev + "'");
    // An existing device is never attached to, not even for a moment: a single-queue TUN
    // takes one descriptor, and a translator attaching at that moment would get EBUSY.
    if (::if_nametoindex(dev.c_str()) != 0) {
        auto tun = is_tun(dev);
        if (!tun)
            return tun.error();
        if (!*tun)
            return make_error(dev + " exists and is not a TUN device");
        return ApplyOutcome::kAlreadyInPlace;
    }
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
    return ApplyOutcome::kApplied;
}

}  // namespace clat::tun
