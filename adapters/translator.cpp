#include "adapters/translator.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace clat {
namespace {

// Writes a file atomically (temporary file and rename), so that a TAYGA reading it never sees
// half of it.
Status write_file(const std::string& path, const std::string& content) {
    const std::string tmp = path + ".tmp";
    // Never through a name someone planted: a fresh file, not following a symlink.
    ::unlink(tmp.c_str());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return make_error("cannot write " + tmp + ": " + strerror(errno));
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            return make_error("cannot write " + tmp + ": " + strerror(e));
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return make_error("cannot rename " + tmp + " to " + path + ": " + strerror(e));
    }
    return Ok{};
}

}  // namespace

Translator::Translator(boost::asio::io_context& io, ChildReaper& reaper, Options options,
                       ChildProcess::LineHandler on_line)
    : options_(std::move(options)), child_(io, reaper), on_line_(std::move(on_line)) {}

Translator::~Translator() {
    remove_temporary_conf();
}

Result<pid_t> Translator::start(const TaygaSettings& settings, ChildProcess::ExitHandler on_exit) {
    auto conf = render_tayga_conf(settings);
    if (!conf)
        return conf.error();
    if (options_.conf_file) {
        conf_path_ = *options_.conf_file;
    } else {
        if (::mkdir(options_.runtime_dir.c_str(), 0700) != 0 && errno != EEXIST) {
            return make_error("cannot create " + options_.runtime_dir + ": " + strerror(errno));
        }
        conf_path_ = options_.runtime_dir + "/tayga-" + settings.tun_device + ".conf";
    }
    if (auto written = write_file(conf_path_, *conf); !written)
        return written.error();
    // TAYGA chdirs to / with -p only; the path is absolute anyway when it comes from here.
    SpawnOptions spawn{{options_.command, "-d", "-c", conf_path_}, {}, true, {}};
    return child_.start(spawn, on_line_, std::move(on_exit));
}

void Translator::stop(std::chrono::milliseconds grace) {
    child_.stop(grace);
    remove_temporary_conf();
}

void Translator::remove_temporary_conf() {
    if (!options_.conf_file && !conf_path_.empty()) {
        ::unlink(conf_path_.c_str());
        conf_path_.clear();
    }
}

}  // namespace clat
