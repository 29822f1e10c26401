#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "adapters/dns64_resolver.hpp"
#include "tests/unit/fake_dns_server.hpp"
#include "tests/values.hpp"

// Which servers the resolver asks (resolv.conf, read before every query; scoped link-local
// servers) and which prefix it takes from answers holding several.

using namespace std::chrono_literals;
using clat::Dns64Outcome;
using clat::Dns64OutcomeKind;
using clat::Dns64Resolver;
using clat::Dns64ResolverOptions;
using clat::Ipv6Prefix;
using clat::test::AaaaAnswer;
using clat::test::Bytes;
using clat::test::dns_reply;
using clat::test::FakeDnsServer;
using clat::test::p6;
using clat::test::Rcode;
using clat::test::v6;

namespace {

/// A private directory under /tmp, removed with everything in it.
struct TempDir {
    std::string path;
    TempDir() {
        std::string pattern = "/tmp/clat-unit-dns.XXXXXX";
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    /// Writes `name` as resolvers do: a new file renamed over the old one.
    std::string replace(const std::string& name, const std::string& text) const {
        const std::string target = path + "/" + name;
        std::ofstream(target + ".new") << text;
        std::filesystem::rename(target + ".new", target);
        return target;
    }
};

/// The reply of a DNS64 synthesising 192.0.0.170 under each /96, in that order.
std::optional<Bytes> synthesised(const Bytes& q, std::vector<std::pair<const char*, int>> p96s) {
    std::vector<AaaaAnswer> answers;
    for (auto [p, ttl] : p96s)
        answers.push_back(
            {v6((std::string(p) + "c000:aa").c_str()), static_cast<std::uint32_t>(ttl)});
    return dns_reply(q, Rcode::kNoError, answers);
}

std::unique_ptr<Dns64Resolver> make(boost::asio::io_context& io, Dns64ResolverOptions options) {
    auto created = Dns64Resolver::create(io, options);
    REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
    return std::move(created).value();
}

Dns64Outcome ask(boost::asio::io_context& io, Dns64Resolver& resolver,
                 std::optional<Ipv6Prefix> keep = std::nullopt) {
    std::optional<Dns64Outcome> outcome;
    resolver.query([&](const Dns64Outcome& o) { outcome = o; }, keep);
    REQUIRE(clat::test::run_until(io, [&] { return outcome.has_value(); }));
    return *outcome;
}

}  // namespace

TEST_CASE("resolv.conf's nameserver is asked, and the file is read again before each query") {
    boost::asio::io_context io;
    TempDir dir;
    FakeDnsServer a{io};
    FakeDnsServer b{io};
    a.respond([](const Bytes& q) { return synthesised(q, {{"2001:db8:64::", 60}}); });
    b.respond([](const Bytes& q) { return synthesised(q, {{"2001:db8:65::", 60}}); });
    const auto file = dir.replace(
        "resolv.conf", "search example.org\nnameserver " + a.address() + "\noptions edns0\n");
    auto resolver = make(io, {{}, 300, 1, file});
    CHECK(resolver->followed_file() == file);
    CHECK(resolver->label() == "DNS64 " + a.address());
    auto o = ask(io, *resolver);
    INFO(o.detail);
    CHECK(o.kind == Dns64OutcomeKind::kFound);
    REQUIRE(o.result);
    CHECK(o.result->prefix == p6("2001:db8:64::/96"));
    CHECK(o.detail.find("DNS64 " + a.address() + ": ") == 0);

    // A new lease: the file now names b (written elsewhere and renamed, as resolvers do).
    dir.replace("resolv.conf", "nameserver " + b.address() + "\n");
    o = ask(io, *resolver);
    INFO(o.detail);
    REQUIRE(o.result);
    CHECK(o.result->prefix == p6("2001:db8:65::/96"));
    CHECK(a.queries() == 1);
    CHECK(b.queries() == 1);
    CHECK(resolver->label() == "DNS64 " + b.address());
    // Nothing that matters changed: no rebuild.
    dir.replace("resolv.conf", "# rewritten\nnameserver " + b.address() + "\n");
    CHECK_FALSE(resolver->reload());
    dir.replace("resolv.conf", "nameserver " + a.address() + "\n");
    CHECK(resolver->reload());
}

TEST_CASE("an unscoped link-local nameserver is skipped; with no other, nothing is asked") {
    boost::asio::io_context io;
    TempDir dir;
    FakeDnsServer good{io};
    good.respond([](const Bytes& q) { return synthesised(q, {{"2001:db8:64::", 60}}); });
    auto file = dir.replace("resolv.conf", "nameserver fe80::1\nnameserver " + good.address());
    auto resolver = make(io, {{}, 300, 1, file});
    CHECK(resolver->label() == "DNS64 " + good.address());
    CHECK(ask(io, *resolver).kind == Dns64OutcomeKind::kFound);

    // c-ares 1.18 would drop the line it cannot parse and ask 127.0.0.1 instead.
    file = dir.replace("resolv.conf", "nameserver fe80::1\n");
    auto o = ask(io, *resolver);
    INFO(o.detail);
    CHECK(o.kind == Dns64OutcomeKind::kFailed);
    CHECK(o.detail == "DNS64 (no server): " + file +
                          " has no usable nameserver (line 1: 'fe80::1' is a link-local address "
                          "without an interface; write it as fe80::1%INTERFACE, e.g. "
                          "fe80::1%eth0)");
    CHECK(good.queries() == 1);
}

TEST_CASE("no resolv.conf, or one without nameserver lines: 127.0.0.1, as glibc") {
    boost::asio::io_context io;
    TempDir dir;
    auto resolver = make(io, {{}, 300, 1, dir.path + "/missing.conf"});
    CHECK(resolver->label() == "DNS64 127.0.0.1");
    auto file = dir.replace("resolv.conf", "search example.org\n");
    resolver = make(io, {{}, 300, 1, file});
    CHECK(resolver->label() == "DNS64 127.0.0.1");
}

TEST_CASE("a scoped link-local server is sent to its interface; a missing one is named") {
    boost::asio::io_context io;
    // No interface of that name exists here: our connect() says so. Without it, c-ares'
    // connect() fails with EINVAL (no scope) and the query ends as "unreachable".
    for (const char* server : {"fe80::53%clatnosuch0", "[fe80::53%clatnosuch0]:5353"}) {
        CAPTURE(server);
        auto resolver = make(io, {{server}, 300, 1, {}});
        CHECK(resolver->followed_file().empty());
        auto o = ask(io, *resolver);
        INFO(o.detail);
        CHECK(o.kind == Dns64OutcomeKind::kFailed);
        CHECK(o.detail.find(std::string("DNS64 ") + server + ": ") == 0);
        CHECK(o.detail.find("cannot reach " + std::string(server) + ": no interface clatnosuch0") !=
              std::string::npos);
    }
    // The same from resolv.conf.
    TempDir dir;
    const auto file = dir.replace("resolv.conf", "nameserver fe80::53%clatnosuch0\n");
    auto resolver = make(io, {{}, 300, 1, file});
    auto o = ask(io, *resolver);
    INFO(o.detail);
    CHECK(o.detail.find("no interface clatnosuch0") != std::string::npos);
}

TEST_CASE("an unscoped link-local dns64-servers entry is refused at creation") {
    boost::asio::io_context io;
    auto created = Dns64Resolver::create(io, {{"fe80::53"}, {}, {}, {}});
    REQUIRE_FALSE(created.ok());
    CHECK(created.error().message.find("dns64-servers: 'fe80::53' is a link-local address "
                                       "without an interface") == 0);
}

TEST_CASE("two prefixes in random order: the lowest, or the one kept, never the first") {
    boost::asio::io_context io;
    FakeDnsServer server{io};
    int n = 0;
    // BIND with two dns64 blocks: both prefixes, in an order that changes every answer.
    server.respond([&](const Bytes& q) {
        return ++n % 2 ? synthesised(q, {{"2001:db8:65::", 40}, {"2001:db8:64::", 20}})
                       : synthesised(q, {{"2001:db8:64::", 20}, {"2001:db8:65::", 40}});
    });
    auto resolver = make(io, {{server.address()}, 300, 1, {}});
    for (int i = 0; i < 4; ++i) {
        auto o = ask(io, *resolver);
        INFO(o.detail);
        REQUIRE(o.result);
        CHECK(o.result->prefix == p6("2001:db8:64::/96"));
        CHECK(o.ttl_seconds == 20);
        CHECK(o.result->ambiguous);
        CHECK(o.detail.find("prefix 2001:db8:64::/96 ttl=20 ambiguous, also 2001:db8:65::/96") !=
              std::string::npos);
    }
    for (int i = 0; i < 4; ++i) {
        auto o = ask(io, *resolver, p6("2001:db8:65::/96"));
        INFO(o.detail);
        REQUIRE(o.result);
        CHECK(o.result->prefix == p6("2001:db8:65::/96"));
        CHECK(o.ttl_seconds == 40);
        CHECK(o.detail.find("prefix 2001:db8:65::/96 ttl=40 ambiguous, also 2001:db8:64::/96") !=
              std::string::npos);
    }
    // The kept prefix gone from the answers: the lowest of what is there.
    auto o = ask(io, *resolver, p6("2001:db8:66::/96"));
    REQUIRE(o.result);
    CHECK(o.result->prefix == p6("2001:db8:64::/96"));
}
