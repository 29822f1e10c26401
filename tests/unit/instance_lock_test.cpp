#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <boost/asio/io_context.hpp>

#include "adapters/instance_lock.hpp"

namespace clat::test {
namespace {

namespace fs = std::filesystem;

class TempDir {
  public:
    TempDir() {
        std::string templ = (fs::temp_directory_path() / "clat-lock-XXXXXX").string();
        REQUIRE(::mkdtemp(templ.data()) != nullptr);
        path_ = templ;
    }
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string pid_of(pid_t pid) {
    return "pid " + std::to_string(pid);
}

/// A device name no other test (or test run) uses: abstract names are per network namespace.
std::string unique_dev(const char* tag) {
    return std::string(tag) + std::to_string(::getpid() % 100000);
}

}  // namespace

TEST_CASE("runtime directory lock: one holder, named in the refusal, released on close") {
    TempDir tmp;
    const std::string dir = (tmp.path() / "run" / "clatd").string();
    auto first = RuntimeDirectoryLock::acquire(dir);
    REQUIRE_MESSAGE(first, first.error().message);
    CHECK(first->path() == dir + "/clatd.lock");
    CHECK(read_text(first->path()) == std::to_string(::getpid()) + "\n");
    struct stat st {};
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    const auto second = RuntimeDirectoryLock::acquire(dir);
    REQUIRE_FALSE(second);
    CHECK(second.error().message == "another clatd (" + pid_of(::getpid()) +
                                        ") runs with runtime directory " + dir + " (it holds " +
                                        dir + "/clatd.lock)");
    { auto released = std::move(*first); }
    CHECK(RuntimeDirectoryLock::acquire(dir));
}

TEST_CASE("runtime directory lock: a holder killed with SIGKILL leaves nothing that blocks") {
    TempDir tmp;
    const std::string dir = tmp.path().string();
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        auto lock = RuntimeDirectoryLock::acquire(dir);
        const char byte = lock ? 'y' : 'n';
        (void)!::write(ready[1], &byte, 1);
        ::pause();
        ::_exit(0);
    }
    ::close(ready[1]);
    char byte = 0;
    REQUIRE(::read(ready[0], &byte, 1) == 1);
    ::close(ready[0]);
    REQUIRE(byte == 'y');
    const auto refused = RuntimeDirectoryLock::acquire(dir);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find("another clatd (" + pid_of(child) + ")") == 0);
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    // The lock file stays with the dead pid in it; only the kernel's lock counted.
    CHECK(fs::exists(tmp.path() / "clatd.lock"));
    const auto after = RuntimeDirectoryLock::acquire(dir);
    CHECK_MESSAGE(after.ok(), (after ? std::string() : after.error().message));
}

TEST_CASE("runtime directory: symlinks, foreign owners and open modes are refused") {
    TempDir tmp;
    const fs::path real = tmp.path() / "real";
    fs::create_directory(real);
    ::chmod(real.c_str(), 0700);
    SUBCASE("a symlink to a directory") {
        const fs::path link = tmp.path() / "link-dir";
        fs::create_directory_symlink(real, link);
        const auto refused = RuntimeDirectoryLock::acquire(link.string());
        REQUIRE_FALSE(refused);
        CHECK(refused.error().message == "runtime directory " + link.string() +
                                             " is a symbolic link; refusing to keep the journal "
                                             "there");
    }
    SUBCASE("writable by others") {
        const fs::path open_dir = tmp.path() / "open-dir";
        fs::create_directory(open_dir);
        REQUIRE(::chmod(open_dir.c_str(), 01777) == 0);
        const auto refused = RuntimeDirectoryLock::acquire(open_dir.string());
        REQUIRE_FALSE(refused);
        CHECK(refused.error().message == "runtime directory " + open_dir.string() +
                                             " is writable by group or others (mode 777); make "
                                             "it 0700");
    }
    SUBCASE("a plain file") {
        const fs::path file = tmp.path() / "a-file";
        std::ofstream(file) << "x";
        const auto refused = RuntimeDirectoryLock::acquire(file.string());
        REQUIRE_FALSE(refused);
        CHECK(refused.error().message ==
              "runtime directory " + file.string() + " is not a directory");
    }
    SUBCASE("owned by another user") {
        if (::geteuid() != 0)
            return;  // only root can give a directory away
        const fs::path foreign = tmp.path() / "foreign-dir";
        fs::create_directory(foreign);
        ::chmod(foreign.c_str(), 0700);
        REQUIRE(::chown(foreign.c_str(), 65534, 65534) == 0);
        const auto refused = RuntimeDirectoryLock::acquire(foreign.string());
        REQUIRE_FALSE(refused);
        CHECK(refused.error().message == "runtime directory " + foreign.string() +
                                             " is owned by uid 65534, not by clatd's uid 0");
    }
    SUBCASE("a planted symlink as the lock file") {
        const fs::path target = tmp.path() / "victim";
        std::ofstream(target) << "precious\n";
        fs::create_symlink(target, real / "clatd.lock");
        const auto refused = RuntimeDirectoryLock::acquire(real.string());
        REQUIRE_FALSE(refused);
        CHECK(refused.error().message.find("cannot open lock file " + real.string() +
                                           "/clatd.lock: ") == 0);
        CHECK(read_text(target) == "precious\n");
    }
    SUBCASE("a relative path") {
        const auto refused = RuntimeDirectoryLock::acquire("run/clatd");
        REQUIRE_FALSE(refused);
        CHECK(refused.error().message == "runtime directory 'run/clatd' is not an absolute path");
    }
}

TEST_CASE("device claim: one instance per clat-dev, the holder's pid in the refusal") {
    boost::asio::io_context io;
    const std::string dev = unique_dev("tclaim");
    const std::string other = unique_dev("tclaimb");
    DeviceClaim first(io);
    REQUIRE(first.claim(dev));
    CHECK(first.device() == dev);
    CHECK(first.claim(dev));  // held already: a no-op
    DeviceClaim second(io);
    const auto refused = second.claim(dev);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message ==
          "clat-dev " + dev + " is in use by another clatd (" + pid_of(::getpid()) + ")");
    CHECK(second.device().empty());
    // Queries are accepted and closed on the loop, so many refusals never fill the backlog.
    for (int i = 0; i < 20; ++i) {
        CHECK_FALSE(second.claim(dev));
        io.poll();
    }
    // Moving to another name frees the old one only once the new one is held.
    REQUIRE(first.claim(other));
    CHECK(first.device() == other);
    CHECK(second.claim(dev));
    CHECK_FALSE(second.claim(other));
    CHECK(second.device() == dev);  // a failed claim keeps what was held
    first.release();
    CHECK(second.claim(other));
}

}  // namespace clat::test
