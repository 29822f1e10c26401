#pragma once
/// Notices that a file such as /etc/resolv.conf may have changed, on the Asio loop (inotify;
/// nothing blocks). Such files are rarely written in place: NetworkManager, resolvconf and
/// systemd-resolved write a new file and rename it over the old one, and resolv.conf is often
/// a symbolic link (e.g. to /run/systemd/resolve/stub-resolv.conf) that may itself be
/// re-pointed. So the watch is on directories, by name: the file's directory, and for each
/// symbolic link on the way the directory of its target, plus the final file itself (a write
/// in place through another path, e.g. a bind mount's source). A directory that does not
/// exist yet is waited for through its nearest existing parent. After every relevant event
/// the chain is resolved again and the watches follow it.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "agent/asio.hpp"
#include "states/result.hpp"

namespace clat {

class FileWatch {
  public:
    /// Called from the loop after events that may have changed what `path` reads as
    /// (coalesced: once per batch). The callee re-reads the file; it may destroy the watch.
    using Changed = std::function<void()>;

    /// Fails when inotify is unavailable (e.g. out of instances); the caller then has to
    /// rely on re-reading the file at other times.
    static Result<std::unique_ptr<FileWatch>> create(boost::asio::io_context& io, std::string path,
                                                     Changed changed);
    ~FileWatch();
    FileWatch(const FileWatch&) = delete;
    FileWatch& operator=(const FileWatch&) = delete;

    /// The directories (and the file) watched now, for tests and logs.
    std::set<std::string> watched() const;

  private:
    FileWatch(boost::asio::io_context& io, std::string path, Changed changed);
    void rearm();
    void add(const std::string& place, const std::string& name, bool is_file);
    void wait();
    void on_readable();

    std::string path_;
    Changed changed_;
    boost::asio::posix::stream_descriptor inotify_;
    /// watch descriptor -> (place watched, names in it that matter; empty: any event)
    std::map<int, std::pair<std::string, std::set<std::string>>> watches_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace clat
