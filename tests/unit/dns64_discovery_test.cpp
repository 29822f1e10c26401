#include <doctest/doctest.h>

#include <memory>

#include "adapters/dns64_resolver.hpp"
#include "tests/unit/fake_dns_server.hpp"

using namespace std::chrono_literals;
using clat::Dns64Discovery;
using clat::Dns64OutcomeKind;
using clat::Dns64Plat;
using clat::Dns64Resolver;
using clat::Dns64SchedulePolicy;
using clat::Ipv6Address;
using clat::Ipv6Prefix;
using clat::test::Bytes;
using clat::test::dns_reply;
using clat::test::FakeDnsServer;
using clat::test::Rcode;
using clat::test::run_for;
using clat::test::run_until;

namespace {

Ipv6Prefix prefix(const char* text) {
    auto p = Ipv6Prefix::parse(text);
    REQUIRE(p);
    return *p;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// The reply of a DNS64 with the given /96 and TTL.
std::optional<Bytes> synthesised(const Bytes& q, const char* p96, std::uint32_t ttl) {
    auto a = Ipv6Address::parse(std::string(p96) + "c000:aa");
    return dns_reply(q, Rcode::kNoError, {{*a, ttl}});
}

/// Shrunk so that every test runs in about a second.
Dns64SchedulePolicy fast_policy() {
    Dns64SchedulePolicy p;
    p.found_floor = 300ms;
    p.failure_first = 100ms;
    p.failure_cap = 400ms;
    p.no_dns64_first = 200ms;
    p.no_dns64_cap = 200ms;
    return p;
}

struct Fixture {
    boost::asio::io_context io;
    FakeDnsServer server{io};
    std::vector<Dns64Plat> published;
    std::vector<std::int64_t> published_at;
    std::unique_ptr<Dns64Discovery> discovery;

    explicit Fixture(Dns64SchedulePolicy policy = fast_policy()) {
        auto resolver = Dns64Resolver::create(io, {{server.address()}, 200, 1});
        REQUIRE(resolver.ok());
        discovery = std::make_unique<Dns64Discovery>(
            io, std::move(resolver).value(),
            [this](const Dns64Plat& plat) {
                published.push_back(plat);
                published_at.push_back(now_ms());
            },
            policy);
    }
    bool wait_published(std::size_t n, std::chrono::milliseconds limit = 5s) {
        return run_until(
            io, [&] { return published.size() >= n; }, limit);
    }
};

}  // namespace

TEST_CASE("TTL 12 with a 11 s margin: re-query after 1 s, a changed prefix is published") {
    auto policy = fast_policy();
    policy.refresh_margin = 11s;
    Fixture f(policy);
    f.server.respond([&](const Bytes& q) {
        return synthesised(q, f.server.queries() == 1 ? "2001:db8:64::" : "2001:db8:65::", 12);
    });
    f.discovery->rediscover_now();
    REQUIRE(f.wait_published(1));
    const Dns64Plat& first = f.published[0];
    CHECK(first.last_kind == Dns64OutcomeKind::kFound);
    REQUIRE(first.result);
    CHECK(first.result->prefix == prefix("2001:db8:64::/96"));
    CHECK(first.expires_at_ms - f.published_at[0] > 11900);
    CHECK(first.expires_at_ms - f.published_at[0] <= 12000);
    CHECK(Dns64Plat::kSource == "dns64");

    REQUIRE(f.wait_published(2));
    REQUIRE(f.server.queries() == 2);
    const auto gap = f.server.query_times()[1] - f.server.query_times()[0];
    CHECK(gap >= 950ms);
    CHECK(gap < 2s);
    REQUIRE(f.published[1].result);
    CHECK(f.published[1].result->prefix == prefix("2001:db8:65::/96"));
    CHECK(f.discovery->current().result->prefix == prefix("2001:db8:65::/96"));
}

TEST_CASE("a failed refresh keeps the prefix until expiry, then withdraws it") {
    // TTL 1 s: refresh at the 300 ms floor, hold 1 s; every refresh gets SERVFAIL.
    Fixture f;
    f.server.respond([&](const Bytes& q) -> std::optional<Bytes> {
        if (f.server.queries() == 1)
            return synthesised(q, "2001:db8:64::", 1);
        return dns_reply(q, Rcode::kServFail, {});
    });
    f.discovery->rediscover_now();
    REQUIRE(f.wait_published(3));
    REQUIRE(f.published.size() == 3);
    CHECK(f.published[0].last_kind == Dns64OutcomeKind::kFound);
    const std::int64_t expiry = f.published[0].expires_at_ms;
    CHECK(expiry - f.published_at[0] <= 1000);
    // First failed refresh: reported, prefix still held, same expiry.
    CHECK(f.published[1].last_kind == Dns64OutcomeKind::kFailed);
    REQUIRE(f.published[1].result);
    CHECK(f.published[1].expires_at_ms == expiry);
    CHECK(f.published_at[1] < expiry);
    // Withdrawn by the retry made at the expiry itself, not later.
    CHECK(f.published[2].last_kind == Dns64OutcomeKind::kFailed);
    CHECK_FALSE(f.published[2].result);
    CHECK(f.published_at[2] >= expiry);
    CHECK(f.published_at[2] < expiry + 400);
    // Retries in between (300 ms, +100, +200, then at expiry) published nothing.
    CHECK(f.server.queries() >= 4);
}

TEST_CASE("a negative answer withdraws the prefix at once") {
    Fixture f;
    f.server.respond([&](const Bytes& q) -> std::optional<Bytes> {
        if (f.server.queries() == 1)
            return synthesised(q, "2001:db8:64::", 300);
        return dns_reply(q, Rcode::kNxDomain, {});
    });
    f.discovery->rediscover_now();
    REQUIRE(f.wait_published(1));
    REQUIRE(f.published[0].result);
    f.discovery->rediscover_now();  // the 290 s refresh is not waited for
    REQUIRE(f.wait_published(2, 1s));
    CHECK(f.published[1].last_kind == Dns64OutcomeKind::kNoDns64);
    CHECK_FALSE(f.published[1].result);
    CHECK(f.published[1].expires_at_ms == 0);
    CHECK(f.published[1].detail.find("NXDOMAIN") != std::string::npos);
}

TEST_CASE("repeated failures without a prefix publish once and back off") {
    Fixture f;
    f.server.respond([](const Bytes& q) { return dns_reply(q, Rcode::kServFail, {}); });
    f.discovery->rediscover_now();
    run_for(f.io, 1300ms);
    CHECK(f.published.size() == 1);
    CHECK(f.published[0].last_kind == Dns64OutcomeKind::kFailed);
    // Queries at 0, 100, 300, 700, 1100 ms (back-off 100, 200, 400, 400 capped).
    CHECK(f.server.queries() >= 4);
    CHECK(f.server.queries() <= 6);
    const auto& t = f.server.query_times();
    CHECK(t[2] - t[1] >= 190ms);
    CHECK(t[3] - t[2] >= 390ms);
}

TEST_CASE("rediscover_now publishes its outcome even when unchanged; the detail is news") {
    // A new activation of the agent starts without a DNS64 verdict: it must hear the same
    // failure again, or it would wait "for DNS64" (and hold the fallback back) forever.
    Fixture f;
    f.server.respond([](const Bytes& q) { return dns_reply(q, Rcode::kServFail, {}); });
    f.discovery->rediscover_now();
    REQUIRE(f.wait_published(1));
    f.discovery->rediscover_now();
    REQUIRE(f.wait_published(2));
    CHECK(f.published[1].last_kind == Dns64OutcomeKind::kFailed);
    CHECK(f.published[1].detail == f.published[0].detail);
    // Another failure (REFUSED after SERVFAIL) is published on its own: the reason follows.
    f.server.respond([](const Bytes& q) { return dns_reply(q, Rcode::kRefused, {}); });
    REQUIRE(f.wait_published(3));
    CHECK(f.published[2].last_kind == Dns64OutcomeKind::kFailed);
    CHECK(f.published[2].detail.find("REFUSED") != std::string::npos);
    run_for(f.io, 500ms);
    CHECK(f.published.size() == 3);
}

TEST_CASE("stop() ends the querying; destroying with a query in flight is silent") {
    Fixture f;
    f.server.respond([](const Bytes& q) { return dns_reply(q, Rcode::kServFail, {}); });
    f.discovery->rediscover_now();
    REQUIRE(f.wait_published(1));
    f.discovery->stop();
    const int queries = f.server.queries();
    run_for(f.io, 600ms);
    CHECK(f.server.queries() == queries);

    f.server.respond([](const Bytes&) { return std::nullopt; });
    f.discovery->rediscover_now();
    REQUIRE(run_until(f.io, [&] { return f.server.queries() == queries + 1; }));
    f.discovery.reset();
    run_for(f.io, 400ms);
    CHECK(f.published.size() == 1);
}

TEST_CASE("several prefixes in random order: the one in use is kept over many refreshes") {
    // TTL 1 s: a refresh every 300 ms (the floor). The first answer holds 2001:db8:65:: only;
    // then both prefixes come, in an order that changes every answer (a BIND with two dns64
    // blocks), and the lower 2001:db8:64:: must not take over; when 65 goes, 64 is used.
    Fixture f;
    f.server.respond([&](const Bytes& q) -> std::optional<Bytes> {
        const int n = f.server.queries();
        auto a64 = *Ipv6Address::parse("2001:db8:64::c000:aa");
        auto a65 = *Ipv6Address::parse("2001:db8:65::c000:aa");
        if (n == 1)
            return dns_reply(q, Rcode::kNoError, {{a65, 1}});
        if (n <= 9)
            return dns_reply(q, Rcode::kNoError,
                             n % 2 ? std::vector<clat::test::AaaaAnswer>{{a64, 1}, {a65, 1}}
                                   : std::vector<clat::test::AaaaAnswer>{{a65, 1}, {a64, 1}});
        return dns_reply(q, Rcode::kNoError, {{a64, 1}});
    });
    f.discovery->rediscover_now();
    REQUIRE(run_until(f.io, [&] {
        return f.server.queries() >= 10 && !f.published.empty() && f.published.back().result &&
               f.published.back().result->prefix == prefix("2001:db8:64::/96");
    }));
    std::size_t on_65 = 0;
    for (const auto& p : f.published) {
        REQUIRE(p.result);
        if (p.result->prefix != prefix("2001:db8:65::/96"))
            break;
        ++on_65;
    }
    // At least one publication per answer (the expiry moves): 9 answers held 2001:db8:65::,
    // and once 2001:db8:64:: took over it stayed.
    CHECK(on_65 >= 9);
    for (std::size_t i = on_65; i < f.published.size(); ++i)
        CHECK(f.published[i].result->prefix == prefix("2001:db8:64::/96"));
    CHECK(f.published[8].result->ambiguous);
    CHECK(f.published[8].detail.find("prefix 2001:db8:65::/96 ttl=1 ambiguous, also "
                                     "2001:db8:64::/96") != std::string::npos);
}
