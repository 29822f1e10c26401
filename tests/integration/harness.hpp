#pragma once
/// Helpers for kernel tests. Every kernel test binary runs in a private network namespace
/// (tests/integration/in_netns.sh), so tests may use iproute2, nft and ip6tables freely to set
/// up and inspect; only the product itself must not shell out.

#include <sys/types.h>
#include <string>

namespace clat::test {

/// Runs a shell command; returns its stdout. Throws std::runtime_error (with the command and
/// its output) when it exits non-zero.
std::string sh(const std::string& command);
/// Runs a shell command; returns its exit status, stdout ignored.
int sh_status(const std::string& command);

/// A text snapshot of everything the agent may change in the current network namespace:
/// links, addresses, routes (all tables), rules, neighbour proxies, the sysctls it touches,
/// nftables and ip6tables rules. Two snapshots compare equal iff the host looks the same.
/// Volatile fields (counters, lifetimes, link-layer addresses of re-created links) are removed.
std::string snapshot();

/// A peer network namespace held by a child process; the namespace disappears with it. The
/// child is killed when this object is destroyed or when the test process dies.
class PeerNetns {
  public:
    PeerNetns();
    ~PeerNetns();
    PeerNetns(const PeerNetns&) = delete;
    PeerNetns& operator=(const PeerNetns&) = delete;
    pid_t pid() const { return pid_; }
    /// Runs a shell command inside the peer namespace (nsenter --net).
    std::string sh(const std::string& command) const;

  private:
    pid_t pid_ = -1;
};

}  // namespace clat::test
