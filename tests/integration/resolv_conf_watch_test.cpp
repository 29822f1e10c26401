#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "adapters/dns64_resolver.hpp"
#include "adapters/file_watch.hpp"
#include "tests/unit/fake_dns_server.hpp"

// The system resolver list followed (SPEC §5): real files in a private directory changed the
// ways resolvers change /etc/resolv.conf (a new file renamed over it, a write in place, a
// symbolic link to systemd-resolved's stub file re-pointed, its directory appearing later),
// seen through inotify by FileWatch, and Dns64Discovery asking the new server at once.

using namespace std::chrono_literals;
using clat::Dns64Discovery;
using clat::Dns64OutcomeKind;
using clat::Dns64Plat;
using clat::Dns64Resolver;
using clat::Dns64SchedulePolicy;
using clat::FileWatch;
using clat::test::Bytes;
using clat::test::dns_reply;
using clat::test::FakeDnsServer;
using clat::test::Rcode;
using clat::test::run_for;
using clat::test::run_until;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        std::string pattern = "/tmp/clat-kernel-resolv.XXXXXX";
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path = pattern;
        fs::create_directories(path + "/etc");
    }
    ~TempDir() { fs::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

/// What resolvconf and NetworkManager do: write a new file beside it, rename it over.
void replace(const std::string& file, const std::string& text) {
    std::ofstream(file + ".new") << text;
    fs::rename(file + ".new", file);
}

/// Re-points a symbolic link atomically (ln -sf would unlink first).
void relink(const std::string& link, const std::string& target) {
    fs::create_symlink(target, link + ".new");
    fs::rename(link + ".new", link);
}

std::optional<Bytes> synthesised(const Bytes& q, const char* p96, std::uint32_t ttl) {
    return dns_reply(q, Rcode::kNoError,
                     {{*clat::Ipv6Address::parse(std::string(p96) + "c000:aa"), ttl}});
}

/// Counts FileWatch callbacks.
struct Watched {
    boost::asio::io_context io;
    int changes = 0;
    std::unique_ptr<FileWatch> watch;
    explicit Watched(const std::string& path) {
        auto created = FileWatch::create(io, path, [this] { ++changes; });
        REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
        watch = std::move(created).value();
    }
    /// Waits for a callback after `before`; true if one came.
    bool changed_since(int before) {
        return run_until(
            io, [&] { return changes > before; }, 2s);
    }
    /// Runs the loop for 300 ms; true if no callback came.
    bool quiet_since(int before) {
        run_for(io, 300ms);
        return changes == before;
    }
};

}  // namespace

TEST_CASE("FileWatch: replaced by rename, written in place, deleted; other files ignored") {
    TempDir dir;
    const std::string file = dir.path + "/etc/resolv.conf";
    replace(file, "nameserver 192.0.2.53\n");
    Watched w(file);
    CHECK(w.watch->watched() == std::set<std::string>{dir.path + "/etc", file});

    int n = w.changes;
    replace(file, "nameserver 192.0.2.54\n");
    CHECK(w.changed_since(n));
    n = w.changes;
    std::ofstream(file) << "nameserver 192.0.2.55\n";  // truncated and written in place
    CHECK(w.changed_since(n));
    n = w.changes;
    replace(dir.path + "/etc/hosts", "192.0.2.1 example\n");
    std::ofstream(dir.path + "/etc/resolv.conf.bak") << "x\n";
    CHECK(w.quiet_since(n));
    fs::remove(file);
    CHECK(w.changed_since(n));
    n = w.changes;
    replace(file, "nameserver 192.0.2.56\n");
    CHECK(w.changed_since(n));
}

TEST_CASE("FileWatch: a link to systemd-resolved's stub, its directory created later, re-pointed") {
    TempDir dir;
    const std::string link = dir.path + "/etc/resolv.conf";
    const std::string stub_dir = dir.path + "/run/systemd/resolve";
    fs::create_symlink("../run/systemd/resolve/stub-resolv.conf", link);
    Watched w(link);
    // The link's directory, and (its target's directory missing) the nearest existing parent.
    CHECK(w.watch->watched() == std::set<std::string>{dir.path + "/etc", dir.path});

    int n = w.changes;
    fs::create_directories(stub_dir);
    CHECK(w.changed_since(n));
    run_until(
        w.io, [&] { return w.watch->watched().count(stub_dir) > 0; }, 2s);
    CHECK(w.watch->watched().count(stub_dir) == 1);
    n = w.changes;
    replace(stub_dir + "/stub-resolv.conf", "nameserver 127.0.0.53\n");
    CHECK(w.changed_since(n));
    n = w.changes;
    replace(stub_dir + "/stub-resolv.conf", "nameserver 127.0.0.53\noptions edns0\n");
    CHECK(w.changed_since(n));
    CHECK(w.watch->watched() ==
          std::set<std::string>{dir.path + "/etc", stub_dir, stub_dir + "/stub-resolv.conf"});

    // resolvconf takes over: the link now points at a file beside it.
    replace(dir.path + "/etc/resolv.conf.resolvconf", "nameserver 192.0.2.53\n");
    n = w.changes;
    relink(link, "resolv.conf.resolvconf");
    CHECK(w.changed_since(n));
    n = w.changes;
    replace(dir.path + "/etc/resolv.conf.resolvconf", "nameserver 192.0.2.54\n");
    CHECK(w.changed_since(n));
    // The old target no longer matters.
    n = w.changes;
    replace(stub_dir + "/stub-resolv.conf", "nameserver 127.0.0.54\n");
    CHECK(w.quiet_since(n));
}

namespace {

/// A Dns64Discovery following DIR/etc/resolv.conf, with retries so slow (20 s) that only the
/// watch can explain a quick change of server.
struct Following {
    TempDir dir;
    boost::asio::io_context io;
    FakeDnsServer a{io};
    FakeDnsServer b{io};
    std::vector<Dns64Plat> published;
    std::unique_ptr<Dns64Discovery> discovery;
    std::string file = dir.path + "/etc/resolv.conf";

    explicit Following(const std::string& resolv_conf_text) {
        replace(file, resolv_conf_text);
        auto resolver = Dns64Resolver::create(io, {{}, 200, 1, file});
        REQUIRE(resolver.ok());
        Dns64SchedulePolicy policy;
        policy.failure_first = 20s;
        policy.no_dns64_first = 20s;
        discovery = std::make_unique<Dns64Discovery>(
            io, std::move(resolver).value(),
            [this](const Dns64Plat& plat) { published.push_back(plat); }, policy);
    }
    bool wait_published(std::size_t n, std::chrono::milliseconds limit) {
        return run_until(
            io, [&] { return published.size() >= n; }, limit);
    }
};

}  // namespace

TEST_CASE("waiting on a silent DNS64: the file names another, which is asked at once") {
    Following f("");
    f.a.respond([](const Bytes&) { return std::nullopt; });
    f.b.respond([](const Bytes& q) { return synthesised(q, "2001:db8:64::", 300); });
    replace(f.file, "nameserver " + f.a.address() + "\n");
    f.discovery->rediscover_now();
    REQUIRE(f.wait_published(1, 3s));
    CHECK(f.published[0].last_kind == Dns64OutcomeKind::kFailed);
    CHECK(f.published[0].detail.find("timeout") != std::string::npos);

    const auto changed = std::chrono::steady_clock::now();
    replace(f.file, "# new lease\nnameserver " + f.b.address() + "\n");
    REQUIRE(f.wait_published(2, 3s));
    const auto took = std::chrono::steady_clock::now() - changed;
    REQUIRE(f.published[1].result);
    CHECK(f.published[1].result->prefix.to_string() == "2001:db8:64::/96");
    CHECK(f.published[1].detail.find("DNS64 " + f.b.address() + ": ") == 0);
    CHECK(took < 1s);  // not the 20 s retry
    CHECK(f.a.queries() == 1);
    CHECK(f.b.queries() == 1);
}

TEST_CASE("running: the file names a DNS64 with another prefix, which is followed at once") {
    Following f("");
    f.a.respond([](const Bytes& q) { return synthesised(q, "2001:db8:64::", 300); });
    f.b.respond([](const Bytes& q) { return synthesised(q, "2001:db8:65::", 300); });
    replace(f.file, "nameserver " + f.a.address() + "\n");
    f.discovery->rediscover_now();
    REQUIRE(f.wait_published(1, 3s));
    REQUIRE(f.published[0].result);
    CHECK(f.published[0].result->prefix.to_string() == "2001:db8:64::/96");

    replace(f.file, "nameserver " + f.b.address() + "\n");
    REQUIRE(f.wait_published(2, 1s));  // the refresh would come after 290 s
    REQUIRE(f.published[1].result);
    CHECK(f.published[1].result->prefix.to_string() == "2001:db8:65::/96");

    // A rewrite that changes no server asks nobody.
    replace(f.file, "# same\nnameserver " + f.b.address() + "\n");
    run_for(f.io, 300ms);
    CHECK(f.b.queries() == 1);
    CHECK(f.published.size() == 2);
}

TEST_CASE("stopped: a change is not acted on until discovery starts again") {
    Following f("");
    f.a.respond([](const Bytes& q) { return synthesised(q, "2001:db8:64::", 300); });
    f.b.respond([](const Bytes& q) { return synthesised(q, "2001:db8:65::", 300); });
    replace(f.file, "nameserver " + f.a.address() + "\n");
    f.discovery->rediscover_now();
    REQUIRE(f.wait_published(1, 3s));
    f.discovery->stop();
    replace(f.file, "nameserver " + f.b.address() + "\n");
    run_for(f.io, 300ms);
    CHECK(f.b.queries() == 0);
    f.discovery->rediscover_now();
    REQUIRE(f.wait_published(2, 2s));
    REQUIRE(f.published[1].result);
    CHECK(f.published[1].result->prefix.to_string() == "2001:db8:65::/96");
    CHECK(f.a.queries() == 1);
}
