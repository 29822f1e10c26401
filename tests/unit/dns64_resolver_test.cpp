#include <doctest/doctest.h>

#include <memory>

#include "adapters/dns64_resolver.hpp"
#include "tests/unit/fake_dns_server.hpp"
#include "tests/values.hpp"

using clat::test::p4;
using clat::test::p6;
using clat::test::v4;
using clat::test::v6;

using namespace std::chrono_literals;
using clat::Dns64Outcome;
using clat::Dns64OutcomeKind;
using clat::Dns64Resolver;
using clat::Ipv6Address;
using clat::Ipv6Prefix;
using clat::test::AaaaAnswer;
using clat::test::Bytes;
using clat::test::dns_reply;
using clat::test::FakeDnsServer;
using clat::test::Rcode;

namespace {

Ipv6Prefix prefix(const char* text) {
    auto p = Ipv6Prefix::parse(text);
    REQUIRE(p);
    return *p;
}

/// A loop, a fake server and a resolver pointed at it (300 ms timeout, one try).
struct Fixture {
    boost::asio::io_context io;
    FakeDnsServer server{io};
    std::unique_ptr<Dns64Resolver> resolver;

    Fixture() {
        auto created = Dns64Resolver::create(io, {{server.address()}, 300, 1});
        REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
        resolver = std::move(created).value();
    }

    /// Serves every query with reply(query), asks once, and returns the outcome.
    std::optional<Dns64Outcome> ask(FakeDnsServer::Responder responder) {
        server.respond(std::move(responder));
        std::optional<Dns64Outcome> outcome;
        resolver->query([&](const Dns64Outcome& o) { outcome = o; });
        CHECK(resolver->busy());
        clat::test::run_until(io, [&] { return outcome.has_value(); });
        CHECK_FALSE(resolver->busy());
        return outcome;
    }

    std::optional<Dns64Outcome> ask(Rcode rcode, std::vector<AaaaAnswer> answers) {
        return ask([=](const Bytes& q) { return dns_reply(q, rcode, answers); });
    }
};

}  // namespace

TEST_CASE("a synthesised /96 answer gives the prefix and the TTL") {
    Fixture f;
    auto o = f.ask(Rcode::kNoError,
                   {{v6("2001:db8:64::c000:aa"), 30}, {v6("2001:db8:64::c000:ab"), 45}});
    REQUIRE(o);
    CHECK(o->kind == Dns64OutcomeKind::kFound);
    REQUIRE(o->result);
    CHECK(o->result->prefix == prefix("2001:db8:64::/96"));
    CHECK_FALSE(o->result->ambiguous);
    CHECK(o->ttl_seconds == 30);
    CHECK(o->detail.find("2001:db8:64::/96") != std::string::npos);
    // The question really was AAAA ipv4only.arpa, class IN.
    const std::string q(f.server.last_query().begin(), f.server.last_query().end());
    CHECK(q.find(std::string("\x08ipv4only\x04"
                             "arpa\x00\x00\x1c\x00\x01",
                             19)) == 12);
}

TEST_CASE("synthesised answers at the /64 and /32 positions") {
    Fixture f;
    // /64: the IPv4 address sits in bytes 9..12, after the zero u-octet.
    auto o = f.ask(Rcode::kNoError, {{v6("2001:db8:1:2:c0:0:aa00:0"), 600}});
    REQUIRE(o);
    REQUIRE(o->result);
    CHECK(o->result->prefix == prefix("2001:db8:1:2::/64"));
    CHECK(o->ttl_seconds == 600);
    // /32: bytes 4..7.
    o = f.ask(Rcode::kNoError, {{v6("2001:db8:c000:ab::"), 7}});
    REQUIRE(o);
    REQUIRE(o->result);
    CHECK(o->result->prefix == prefix("2001:db8::/32"));
    CHECK(o->ttl_seconds == 7);
}

TEST_CASE("two different prefixes: the lowest wins, not the first, flagged ambiguous") {
    Fixture f;
    // The TTL is that of the answers giving the chosen prefix, not of the other one.
    auto o = f.ask(Rcode::kNoError, {{v6("2001:db8:65::c000:aa"), 20},
                                     {v6("2001:db8:64::c000:aa"), 100},
                                     {v6("2001:db8:64::c000:ab"), 80}});
    REQUIRE(o);
    CHECK(o->kind == Dns64OutcomeKind::kFound);
    REQUIRE(o->result);
    CHECK(o->result->prefix == prefix("2001:db8:64::/96"));
    CHECK(o->result->ambiguous);
    CHECK(o->result->all ==
          std::vector<Ipv6Prefix>{prefix("2001:db8:64::/96"), prefix("2001:db8:65::/96")});
    CHECK(o->ttl_seconds == 80);
    CHECK(o->detail.find("ambiguous, also 2001:db8:65::/96") != std::string::npos);
}

TEST_CASE("NXDOMAIN, NODATA and answers without the well-known address mean no DNS64") {
    Fixture f;
    auto o = f.ask(Rcode::kNxDomain, {});
    REQUIRE(o);
    CHECK(o->kind == Dns64OutcomeKind::kNoDns64);
    CHECK_FALSE(o->result);
    CHECK(o->detail.find("NXDOMAIN") != std::string::npos);

    o = f.ask(Rcode::kNoError, {});
    REQUIRE(o);
    CHECK(o->kind == Dns64OutcomeKind::kNoDns64);
    CHECK(o->detail.find("NODATA") != std::string::npos);

    o = f.ask(Rcode::kNoError, {{v6("2001:db8::1"), 30}, {v6("2001:db8:64::c000:ac"), 30}});
    REQUIRE(o);
    CHECK(o->kind == Dns64OutcomeKind::kNoDns64);
    CHECK_FALSE(o->result);
}

TEST_CASE("an AAAA record with 4 bytes of RDATA is no AAAA: no DNS64, and the reason says so") {
    Fixture f;
    auto o = f.ask([](const Bytes& q) {
        Bytes reply = dns_reply(q, Rcode::kNoError, {{v6("2001:db8:64::c000:aa"), 30}});
        reply[reply.size() - 17] = 4;  // RDLENGTH 16 -> 4, and 4 bytes of RDATA
        reply.resize(reply.size() - 12);
        return std::optional<Bytes>(reply);
    });
    REQUIRE(o);
    INFO(o->detail);
    CHECK(o->kind == Dns64OutcomeKind::kNoDns64);
    CHECK_FALSE(o->result);
    CHECK(o->detail.find("1 answer record(s), none a valid AAAA") != std::string::npos);
}

TEST_CASE("SERVFAIL and REFUSED are failures, named as such, with the server") {
    Fixture f;
    for (auto [rcode, name] :
         {std::pair{Rcode::kServFail, "SERVFAIL"}, std::pair{Rcode::kRefused, "REFUSED"}}) {
        auto o = f.ask(rcode, {{v6("2001:db8:64::c000:aa"), 30}});
        REQUIRE(o);
        CHECK(o->kind == Dns64OutcomeKind::kFailed);
        CHECK_FALSE(o->result);
        INFO(o->detail);
        CHECK(o->detail.find("query failed") != std::string::npos);
        // c-ares 1.18 would report these as "connection refused" without NOCHECKRESP.
        CHECK(o->detail.find(name) != std::string::npos);
        CHECK(o->detail.find("DNS64 " + f.server.address() + ": ") == 0);
    }
}

TEST_CASE("with two servers, a SERVFAIL from the first fails over to the second") {
    boost::asio::io_context io;
    FakeDnsServer failing{io};
    FakeDnsServer good{io};
    failing.respond([](const Bytes& q) { return dns_reply(q, Rcode::kServFail, {}); });
    good.respond([](const Bytes& q) {
        return dns_reply(q, Rcode::kNoError, {{v6("2001:db8:64::c000:aa"), 30}});
    });
    auto created = Dns64Resolver::create(io, {{failing.address(), good.address()}, 300, 1});
    REQUIRE(created.ok());
    auto resolver = std::move(created).value();
    std::optional<Dns64Outcome> o;
    resolver->query([&](const Dns64Outcome& outcome) { o = outcome; });
    clat::test::run_until(io, [&] { return o.has_value(); });
    REQUIRE(o);
    INFO(o->detail);
    CHECK(o->kind == Dns64OutcomeKind::kFound);
    CHECK(failing.queries() == 1);
    CHECK(good.queries() == 1);
    CHECK(o->detail.find("DNS64 servers " + failing.address() + ", " + good.address()) == 0);
}

TEST_CASE("a reply to another question is dropped, not taken") {
    Fixture f;
    // ID echoed, but the question is ipv6only.arpa; its answer would give 2001:db8:bad::/96.
    auto o = f.ask([](const Bytes& q) {
        Bytes other = q;
        other[12 + 4] = '6';  // \x08ipv4only -> \x08ipv6only
        return std::optional<Bytes>(
            dns_reply(other, Rcode::kNoError, {{v6("2001:db8:bad::c000:aa"), 30}}));
    });
    REQUIRE(o);
    INFO(o->detail);
    CHECK(o->kind == Dns64OutcomeKind::kFailed);
    CHECK_FALSE(o->result);
    CHECK(o->detail.find("timeout") != std::string::npos);
}

TEST_CASE("a silent server fails after the c-ares timeout") {
    Fixture f;
    const auto start = std::chrono::steady_clock::now();
    auto o = f.ask([](const Bytes&) { return std::nullopt; });
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE(o);
    CHECK(o->kind == Dns64OutcomeKind::kFailed);
    CHECK(o->detail.find("timeout") != std::string::npos);
    CHECK(elapsed >= 250ms);
    CHECK(elapsed < 2s);
    CHECK(f.server.queries() == 1);
}

TEST_CASE("garbage answers fail without crashing") {
    Fixture f;
    // Bytes that are no DNS message at all: c-ares drops them and the query times out.
    auto o = f.ask([](const Bytes&) { return Bytes{'g', 'a', 'r', 'b', 'a', 'g', 'e'}; });
    REQUIRE(o);
    CHECK(o->kind == Dns64OutcomeKind::kFailed);

    // The right ID and question, but the answer record is cut off in its RDATA.
    o = f.ask([](const Bytes& q) {
        Bytes reply = dns_reply(q, Rcode::kNoError, {{Ipv6Address{}, 30}});
        reply.resize(reply.size() - 9);
        return std::optional<Bytes>(reply);
    });
    REQUIRE(o);
    CHECK(o->kind == Dns64OutcomeKind::kFailed);
    CHECK(o->detail.find("malformed") != std::string::npos);
}

TEST_CASE("cancel with a query in flight, then destroy: no callback") {
    Fixture f;
    f.server.respond([](const Bytes&) { return std::nullopt; });
    bool called = false;
    f.resolver->query([&](const Dns64Outcome&) { called = true; });
    REQUIRE(clat::test::run_until(f.io, [&] { return f.server.queries() == 1; }));
    f.resolver->cancel();
    CHECK_FALSE(f.resolver->busy());
    clat::test::run_for(f.io, 500ms);  // past the 300 ms timeout
    f.resolver.reset();
    clat::test::run_for(f.io, 100ms);
    CHECK_FALSE(called);
}

TEST_CASE("destroy with a query in flight and an answer already queued: no callback") {
    Fixture f;
    f.server.respond([](const Bytes& q) {
        return dns_reply(q, Rcode::kNoError, {{v6("2001:db8:64::c000:aa"), 30}});
    });
    bool called = false;
    f.resolver->query([&](const Dns64Outcome&) { called = true; });
    REQUIRE(clat::test::run_until(f.io, [&] { return f.server.queries() == 1; }));
    f.resolver.reset();
    clat::test::run_for(f.io, 400ms);
    CHECK_FALSE(called);
}

TEST_CASE("a new query replaces the running one; a callback may destroy the resolver") {
    Fixture f;
    int answered = 0;
    f.server.respond([&](const Bytes& q) -> std::optional<Bytes> {
        if (++answered == 1)
            return std::nullopt;  // the first query stays unanswered
        return dns_reply(q, Rcode::kNoError, {{v6("2001:db8:64::c000:aa"), 30}});
    });
    int first = 0;
    int second = 0;
    f.resolver->query([&](const Dns64Outcome&) { ++first; });
    REQUIRE(clat::test::run_until(f.io, [&] { return f.server.queries() == 1; }));
    f.resolver->query([&](const Dns64Outcome& o) {
        ++second;
        CHECK(o.kind == Dns64OutcomeKind::kFound);
        f.resolver.reset();
    });
    REQUIRE(clat::test::run_until(f.io, [&] { return second == 1; }));
    clat::test::run_for(f.io, 500ms);
    CHECK(first == 0);
    CHECK(second == 1);
    CHECK_FALSE(f.resolver);
}

TEST_CASE("dns64-servers entries parse with and without a port") {
    using clat::parse_dns_server;
    auto s = parse_dns_server("192.0.2.53");
    REQUIRE(s);
    CHECK(s->port == 53);
    CHECK(std::get<clat::Ipv4Address>(s->address).to_string() == "192.0.2.53");
    s = parse_dns_server("192.0.2.53:5353");
    REQUIRE(s);
    CHECK(s->port == 5353);
    s = parse_dns_server("2001:db8::53");
    REQUIRE(s);
    CHECK(s->port == 53);
    CHECK(std::get<Ipv6Address>(s->address) == v6("2001:db8::53"));
    s = parse_dns_server("[2001:db8::53]:10053");
    REQUIRE(s);
    CHECK(s->port == 10053);
    CHECK(std::get<Ipv6Address>(s->address) == v6("2001:db8::53"));
    s = parse_dns_server("[::1]");
    REQUIRE(s);
    CHECK(s->port == 53);
    for (const char* bad :
         {"", "dns.example", "192.0.2.53:", "192.0.2.53:0", "192.0.2.53:65536", "192.0.2.53:x",
          "[2001:db8::53", "[2001:db8::53]5353", "[192.0.2.1]:53", "2001:db8::zz"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_dns_server(bad));
    }
}

TEST_CASE("a bad dns64-servers entry is refused at creation") {
    boost::asio::io_context io;
    auto created = Dns64Resolver::create(io, {{"192.0.2.53", "resolver.example"}, {}, {}});
    REQUIRE_FALSE(created.ok());
    CHECK(created.error().message.find("resolver.example") != std::string::npos);
    auto system = Dns64Resolver::create(io, {});
    CHECK(system.ok());
}
