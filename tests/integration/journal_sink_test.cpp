// The journal sink against a stand-in journald: in a private mount namespace a tmpfs hides
// /run, and a datagram socket at /run/systemd/journal/socket (the path libsystemd sends to)
// receives what sd_journal_sendv() writes, in the journal's native protocol.

#include <doctest/doctest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "agent/logging.hpp"

namespace clat::test {
namespace {

/// One journal entry: native protocol fields, `KEY=value\n`, or `KEY\n` + le64 size + value +
/// `\n` for values with newlines (sd_journal_sendv picks the latter when needed).
std::multimap<std::string, std::string> parse_entry(const std::string& data) {
    std::multimap<std::string, std::string> out;
    std::size_t at = 0;
    while (at < data.size()) {
        const auto nl = data.find('\n', at);
        const auto eq = data.find('=', at);
        if (nl == std::string::npos)
            break;
        if (eq != std::string::npos && eq < nl) {
            out.emplace(data.substr(at, eq - at), data.substr(eq + 1, nl - eq - 1));
            at = nl + 1;
            continue;
        }
        std::uint64_t size = 0;
        std::memcpy(&size, data.data() + nl + 1, sizeof size);
        out.emplace(data.substr(at, nl - at), data.substr(nl + 1 + sizeof size, size));
        at = nl + 1 + sizeof size + size + 1;
    }
    return out;
}

/// The stand-in journald: set up once for the test process, which keeps it to itself.
struct FakeJournal {
    FakeJournal() {
        if (::unshare(CLONE_NEWNS) != 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount("clat-test", "/run", "tmpfs", 0, "mode=0755") != 0) {
            error = std::string("private /run: ") + std::strerror(errno);
            return;
        }
        ::mkdir("/run/systemd", 0755);
        ::mkdir("/run/systemd/journal", 0755);
        fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strcpy(address.sun_path, "/run/systemd/journal/socket");
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
            error = std::string("journal socket: ") + std::strerror(errno);
        timeval timeout{2, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    }
    ~FakeJournal() {
        if (fd >= 0)
            ::close(fd);
    }
    std::multimap<std::string, std::string> receive() const {
        std::string buffer(64 * 1024, '\0');
        const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
        return n <= 0 ? std::multimap<std::string, std::string>{}
                      : parse_entry(buffer.substr(0, static_cast<std::size_t>(n)));
    }
    int fd = -1;
    std::string error;
};

/// Makes stderr the "journal stream" systemd would have set up: JOURNAL_STREAM names it.
void pretend_stderr_is_journal() {
    struct stat st {};
    REQUIRE(::fstat(2, &st) == 0);
    const std::string value = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    ::setenv("JOURNAL_STREAM", value.c_str(), 1);
}

std::string field(const std::multimap<std::string, std::string>& entry, const std::string& key) {
    auto it = entry.find(key);
    return it == entry.end() ? "<none>" : it->second;
}

TEST_CASE("under systemd, log lines reach the journal with their key=value pairs as fields") {
    FakeJournal journal;
    REQUIRE_MESSAGE(journal.error.empty(), journal.error);
    pretend_stderr_is_journal();
    setup_logging(0, 1);

    spdlog::info("state Idle->ProbeV4 reason=uplink usable");
    auto entry = journal.receive();
    CHECK(field(entry, "MESSAGE") == "state Idle->ProbeV4 reason=uplink usable");
    CHECK(field(entry, "PRIORITY") == "6");
    CHECK(field(entry, "SYSLOG_IDENTIFIER") == "clatd");
    CHECK(field(entry, "CLATD_EVENT") == "state");
    CHECK(field(entry, "CLATD_REASON") == "uplink usable");

    spdlog::warn(R"(dbus unavailable address="unix:path=/nowhere" error="No such file")");
    entry = journal.receive();
    CHECK(field(entry, "PRIORITY") == "4");
    CHECK(field(entry, "CLATD_ADDRESS") == "unix:path=/nowhere");
    CHECK(field(entry, "CLATD_ERROR") == "No such file");

    // A value with a newline travels in the binary-safe form.
    spdlog::error("tayga: exited detail=line1\nline2");
    entry = journal.receive();
    CHECK(field(entry, "PRIORITY") == "3");
    CHECK(field(entry, "MESSAGE") == "tayga: exited detail=line1\nline2");
    CHECK(field(entry, "CLATD_DETAIL") == "line1\nline2");

    spdlog::debug("reconcile done rx-us=1 done-us=2 messages=3");
    entry = journal.receive();
    CHECK(field(entry, "PRIORITY") == "7");
    CHECK(field(entry, "CLATD_MESSAGES") == "3");

    // Without JOURNAL_STREAM (run by hand) the lines go to stderr, not to the journal.
    ::unsetenv("JOURNAL_STREAM");
    setup_logging(0, 0);
    spdlog::info("start version=x");
    CHECK(journal.receive().empty());
}

}  // namespace
}  // namespace clat::test
