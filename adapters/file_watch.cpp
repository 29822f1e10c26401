#include "adapters/file_watch.hpp"

#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace clat {
namespace {

// Entries appearing, going or being rewritten, and the directory itself going away (its
// watch is then dropped by the kernel: IN_IGNORED).
constexpr std::uint32_t kDirectoryMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                         IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF |
                                         IN_ONLYDIR;
// The file's own inode: written in place through any path.
constexpr std::uint32_t kFileMask = IN_CLOSE_WRITE;
constexpr int kMaxLinks = 16;  // like the kernel's MAXSYMLINKS (40), with less patience

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string joined(const std::string& directory, const std::string& name) {
    return directory == "/" ? "/" + name : directory + "/" + name;
}

}  // namespace

Result<std::unique_ptr<FileWatch>> FileWatch::create(boost::asio::io_context& io, std::string path,
                                                     Changed changed) {
    std::unique_ptr<FileWatch> watch(new FileWatch(io, std::move(path), std::move(changed)));
    const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        return make_error("inotify: " + std::string(std::strerror(errno)));
    watch->inotify_.assign(fd);
    watch->rearm();
    watch->wait();
    return watch;
}

FileWatch::FileWatch(boost::asio::io_context& io, std::string path, Changed changed)
    : path_(std::move(path)), changed_(std::move(changed)), inotify_(io) {}

FileWatch::~FileWatch() {
    alive_.reset();
}

std::set<std::string> FileWatch::watched() const {
    std::set<std::string> out;
    for (const auto& [wd, entry] : watches_)
        out.insert(entry.first);
    return out;
}

void FileWatch::add(const std::string& place, const std::string& name, bool is_file) {
    const int fd = inotify_.native_handle();
    // A directory that does not exist (yet) is waited for in its parent, by name.
    std::string at = place;
    std::string wanted = name;
    for (;;) {
        // Watched and shown by its real name ("/etc/../run" is "/run").
        std::unique_ptr<char, decltype(&std::free)> real(realpath(at.c_str(), nullptr), &std::free);
        if (real) {
            const int wd = inotify_add_watch(fd, real.get(), is_file ? kFileMask : kDirectoryMask);
            if (wd < 0) {
                spdlog::warn("file-watch path={} cannot watch {}: {}", path_, real.get(),
                             std::strerror(errno));
            } else {
                watches_[wd].first = real.get();
                if (!is_file)
                    watches_[wd].second.insert(wanted);
            }
            return;
        }
        if (is_file || (errno != ENOENT && errno != ENOTDIR) || at == "/" || at == ".")
            return;
        wanted = name_of(at);
        at = directory_of(at);
    }
}

void FileWatch::rearm() {
    // The new watches are added before the old ones are removed, so no moment goes unwatched;
    // adding an inode that is already watched returns its descriptor again.
    auto old = std::move(watches_);
    watches_.clear();
    std::string current = path_;
    for (int hop = 0; hop < kMaxLinks; ++hop) {
        add(directory_of(current), name_of(current), false);
        struct stat st {};
        if (lstat(current.c_str(), &st) != 0)
            break;
        if (!S_ISLNK(st.st_mode)) {
            add(current, {}, true);
            break;
        }
        std::array<char, PATH_MAX> target{};
        const ssize_t n = readlink(current.c_str(), target.data(), target.size() - 1);
        if (n <= 0)
            break;
        const std::string next(target.data(), static_cast<std::size_t>(n));
        current = next.front() == '/' ? next : joined(directory_of(current), next);
    }
    for (const auto& [wd, entry] : old) {
        if (watches_.count(wd) == 0)
            inotify_rm_watch(inotify_.native_handle(), wd);
    }
}

void FileWatch::wait() {
    inotify_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                        [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
                            if (alive.expired() || ec == boost::asio::error::operation_aborted)
                                return;
                            if (ec) {
                                spdlog::error("file-watch path={} stopped: {}", path_,
                                              ec.message());
                                return;
                            }
                            on_readable();
                        });
}

void FileWatch::on_readable() {
    alignas(inotify_event) std::array<char, 16 * (sizeof(inotify_event) + NAME_MAX + 1)> buffer{};
    bool relevant = false;
    for (;;) {
        const ssize_t n = read(inotify_.native_handle(), buffer.data(), buffer.size());
        if (n <= 0)
            break;  // EAGAIN: all read
        for (ssize_t at = 0; at < n;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + at);
            at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
            if ((event->mask & IN_Q_OVERFLOW) != 0) {
                relevant = true;
                continue;
            }
            const auto it = watches_.find(event->wd);
            if (it == watches_.end())
                continue;  // a watch removed by rearm()
            const auto& names = it->second.second;
            if (names.empty() || (event->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) ||
                (event->len > 0 && names.count(event->name) > 0))
                relevant = true;
        }
    }
    if (relevant)
        rearm();
    wait();
    if (relevant && changed_)
        changed_();  // last: it may destroy this watch
}

}  // namespace clat
