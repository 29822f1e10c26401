#pragma once
/// One clatd per runtime directory and per CLAT device (issue "never harm the host", finding
/// 1). Two claims, both taken before clatd reads its journal or touches the host:
/// - the runtime directory: an exclusive flock(2) on `<dir>/clatd.lock`, which holds the
///   owner's pid. The journal lives there, so a second instance on the same directory can no
///   longer replay a live instance's journal;
/// - the CLAT device name: an abstract unix socket `@clatd/clat-dev/<dev>` bound and listening.
///   Abstract names live in the network namespace, as device names do, so a second instance on
///   another runtime directory but the same device (and namespace) is refused too, and the
///   owner's pid comes from SO_PEERCRED. The kernel releases both when the process dies, even
///   by kill -9: a stale lock file or socket can never block a restart.
/// The runtime directory itself is checked first (finding 11): it must be a real directory
/// (not a symlink), owned by clatd's user and writable by nobody else; a missing one is made
/// with mode 0700.

#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "states/result.hpp"

namespace clat {

/// Creates the directory (and its parents, mode 0700) if missing and checks that it is safe
/// to keep journals in: a directory reached without a symlink in its last component, owned by
/// the effective user, with no write permission for group or others. The error names the
/// directory and what is wrong with it.
Status ensure_private_directory(const std::string& directory);

/// The claim on a runtime directory. Movable; released by the destructor (or by death).
class RuntimeDirectoryLock {
  public:
    /// Fails with a message naming the lock file and the other instance's pid when it is held.
    static Result<RuntimeDirectoryLock> acquire(const std::string& directory);
    RuntimeDirectoryLock(RuntimeDirectoryLock&& other) noexcept;
    RuntimeDirectoryLock& operator=(RuntimeDirectoryLock&& other) noexcept;
    RuntimeDirectoryLock(const RuntimeDirectoryLock&) = delete;
    RuntimeDirectoryLock& operator=(const RuntimeDirectoryLock&) = delete;
    ~RuntimeDirectoryLock();
    const std::string& path() const { return path_; }

  private:
    RuntimeDirectoryLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    int fd_ = -1;
    std::string path_;
};

/// The claim on a CLAT device name in this network namespace. It accepts (and at once closes)
/// the connections other instances make to learn its pid, on the io_context.
class DeviceClaim {
  public:
    DeviceClaim(boost::asio::io_context& io) : acceptor_(io) {}
    /// Claims dev, releasing the previous claim only once the new one is held; fails with a
    /// message naming dev and the holder's pid (nothing changes then). Claiming the device
    /// already held is a no-op.
    Status claim(const std::string& dev);
    void release();
    const std::string& device() const { return device_; }

  private:
    void accept_next();
    boost::asio::local::stream_protocol::acceptor acceptor_;
    std::string device_;
};

/// The abstract socket name for dev (without the leading NUL), for tests and messages.
std::string device_claim_name(const std::string& dev);

}  // namespace clat
