#include "adapters/instance_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>

namespace clat {
namespace {

constexpr const char* kLockFile = "clatd.lock";

Error failed(const std::string& what, int error) {
    return make_error(what + ": " + std::strerror(error));
}

/// The pid written in a lock file, if it holds one.
std::optional<long> read_pid(int fd) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return std::nullopt;
    long pid = 0;
    const auto [end, ec] = std::from_chars(buf, buf + n, pid);
    if (ec != std::errc() || pid <= 0)
        return std::nullopt;
    return pid;
}

sockaddr_un abstract_address(const std::string& name, socklen_t& length) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    // sun_path[0] stays NUL: the abstract namespace (unix(7)); the name is not terminated.
    std::memcpy(address.sun_path + 1, name.data(), name.size());
    length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    return address;
}

/// The credentials of the process listening on the abstract name, if it answers.
std::optional<ucred> holder_of(const std::string& name) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return std::nullopt;
    socklen_t length = 0;
    const sockaddr_un address = abstract_address(name, length);
    std::optional<ucred> holder;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0) {
        ucred cred{};
        socklen_t size = sizeof cred;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) == 0 && cred.pid > 0)
            holder = cred;
    }
    ::close(fd);
    return holder;
}

std::string pid_text(std::optional<long> pid) {
    return pid ? "pid " + std::to_string(*pid) : "pid unknown";
}

}  // namespace

Status ensure_private_directory(const std::string& directory) {
    if (directory.empty() || directory.front() != '/')
        return make_error("runtime directory '" + directory + "' is not an absolute path");
    for (std::size_t pos = 1; pos <= directory.size(); ++pos) {
        if (pos != directory.size() && directory[pos] != '/')
            continue;
        const std::string prefix = directory.substr(0, pos);
        if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
            return failed("cannot create runtime directory " + prefix, errno);
    }
    struct stat st {};
    if (::lstat(directory.c_str(), &st) != 0)
        return failed("runtime directory " + directory, errno);
    const std::string where = "runtime directory " + directory;
    if (S_ISLNK(st.st_mode))
        return make_error(where + " is a symbolic link; refusing to keep the journal there");
    if (!S_ISDIR(st.st_mode))
        return make_error(where + " is not a directory");
    if (st.st_uid != ::geteuid())
        return make_error(where + " is owned by uid " + std::to_string(st.st_uid) +
                          ", not by clatd's uid " + std::to_string(::geteuid()));
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return make_error(where + " is writable by group or others (mode " +
                          std::to_string((st.st_mode >> 6) & 7) +
                          std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) +
                          "); make it 0700");
    return Ok{};
}

Result<RuntimeDirectoryLock> RuntimeDirectoryLock::acquire(const std::string& directory) {
    if (auto safe = ensure_private_directory(directory); !safe)
        return safe.error();
    std::string path = directory + (directory.back() == '/' ? "" : "/") + kLockFile;
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return failed("cannot open lock file " + path, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error("lock file " + path + " is not a regular file");
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        const auto pid = read_pid(fd);
        ::close(fd);
        if (error == EWOULDBLOCK)
            return make_error("another clatd (" + pid_text(pid) + ") runs with runtime directory " +
                              directory + " (it holds " + path + ")");
        return failed("cannot lock " + path, error);
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        const int error = errno;
        ::close(fd);
        return failed("cannot write lock file " + path, error);
    }
    return RuntimeDirectoryLock(fd, std::move(path));
}

RuntimeDirectoryLock::RuntimeDirectoryLock(RuntimeDirectoryLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

RuntimeDirectoryLock& RuntimeDirectoryLock::operator=(RuntimeDirectoryLock&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        path_ = std::move(other.path_);
    }
    return *this;
}

RuntimeDirectoryLock::~RuntimeDirectoryLock() {
    // The file stays: unlinking it would let a third instance lock a new inode while a
    // second one waits on the old. Closing releases the lock.
    if (fd_ >= 0)
        ::close(fd_);
}

std::string device_claim_name(const std::string& dev) {
    return "clatd/clat-dev/" + dev;
}

Status DeviceClaim::claim(const std::string& dev) {
    if (dev == device_ && acceptor_.is_open())
        return Ok{};
    const std::string name = device_claim_name(dev);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return failed("cannot claim clat-dev " + dev, errno);
    socklen_t length = 0;
    const sockaddr_un address = abstract_address(name, length);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
        const int error = errno;
        ::close(fd);
        if (error != EADDRINUSE)
            return failed("cannot claim clat-dev " + dev, error);
        const auto holder = holder_of(name);
        if (holder && holder->uid != ::geteuid()) {
            // Abstract names carry no permissions: anyone in the namespace can bind one. A
            // process of another user is not a clatd of ours and must not stop us.
            spdlog::warn(
                "clat-dev {}: the name @{} is held by pid {} of uid {}, not by a "
                "clatd; going on without the guard against a second instance",
                dev, name, holder->pid, holder->uid);
            release();
            return Ok{};
        }
        return make_error("clat-dev " + dev + " is in use by another clatd (" +
                          pid_text(holder ? std::optional<long>(holder->pid) : std::nullopt) + ")");
    }
    if (::listen(fd, 8) != 0) {
        const int error = errno;
        ::close(fd);
        return failed("cannot claim clat-dev " + dev, error);
    }
    release();
    boost::system::error_code ec;
    acceptor_.assign(boost::asio::local::stream_protocol(), fd, ec);
    if (ec) {
        ::close(fd);
        return make_error("cannot claim clat-dev " + dev + ": " + ec.message());
    }
    device_ = dev;
    accept_next();
    return Ok{};
}

void DeviceClaim::release() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    device_.clear();
}

void DeviceClaim::accept_next() {
    // Another instance only connects to read our pid (SO_PEERCRED); close what it opened.
    acceptor_.async_accept([this](const boost::system::error_code& ec,
                                  boost::asio::local::stream_protocol::socket peer) {
        if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open())
            return;
        if (ec) {
            // Out of descriptors, say: stop answering rather than spin; the claim still holds.
            spdlog::warn("clat-dev {}: no longer answering pid queries: {}", device_, ec.message());
            return;
        }
        boost::system::error_code ignored;
        peer.close(ignored);
        accept_next();
    });
}

}  // namespace clat
