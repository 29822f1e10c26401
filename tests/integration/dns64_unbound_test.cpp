#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "adapters/dns64_resolver.hpp"
#include "tests/integration/harness.hpp"
#include "tests/integration/loop.hpp"

// RFC 7050 discovery against a real unbound acting as DNS64, inside this test's private
// network namespace. unbound never sends a query out (do-not-query-address everything):
// ipv4only.arpa comes from a local auth-zone, which must be for-upstream (not local-data) so
// that the dns64 module synthesises AAAA from its A records.

using namespace std::chrono_literals;
using clat::Dns64Discovery;
using clat::Dns64Outcome;
using clat::Dns64OutcomeKind;
using clat::Dns64Plat;
using clat::Dns64Resolver;
using clat::test::sh;
using clat::test::sh_status;

namespace {

// The zone's TTL is short so that the refresh can be watched.
constexpr const char* kZone = R"($ORIGIN ipv4only.arpa.
$TTL 5
@ SOA ns.ipv4only.arpa. hostmaster.ipv4only.arpa. 1 3600 600 86400 5
@ NS ns
@ A 192.0.0.170
@ A 192.0.0.171
ns A 192.0.2.53
)";

constexpr const char* kConf = R"(server:
  interface: ::1@@PORT@
  port: @PORT@
  do-ip4: no
  access-control: ::1/128 allow
  username: ""
  chroot: ""
  directory: "@DIR@"
  pidfile: ""
  use-syslog: no
  verbosity: 1
  module-config: "@MODULES@"
  dns64-prefix: 2001:db8:64::/96
  do-not-query-address: 0.0.0.0/0
  do-not-query-address: ::/0
auth-zone:
  name: "ipv4only.arpa"
  zonefile: "@DIR@/ipv4only.arpa.zone"
  for-upstream: yes
  for-downstream: no
)";

void replace(std::string& text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
}

/// One unbound on [::1]:port, killed (and its directory removed) on destruction, also when
/// the test fails; `timeout` bounds its life should this process crash first.
class Unbound {
  public:
    Unbound(int port, bool dns64) : port_(port) {
        dir_ = sh("mktemp -d /tmp/clat-unbound.XXXXXX");
        dir_.erase(dir_.find_last_not_of('\n') + 1);
        std::string conf = kConf;
        replace(conf, "@DIR@", dir_);
        replace(conf, "@PORT@", std::to_string(port));
        replace(conf, "@MODULES@", dns64 ? "dns64 iterator" : "iterator");
        std::ofstream(dir_ + "/ipv4only.arpa.zone") << kZone;
        std::ofstream(dir_ + "/unbound.conf") << conf;
        pid_ = sh("timeout 120 unbound -d -c " + dir_ + "/unbound.conf >" + dir_ +
                  "/log 2>&1 & echo $!");
        pid_.erase(pid_.find_last_not_of('\n') + 1);
    }
    /// Waits until it answers; fails with its log if it does not within 5 s.
    void wait_ready() const {
        const std::string probe = "dig @::1 -p " + std::to_string(port_) +
                                  " ipv4only.arpa A +short +tries=1 +time=1 | grep -q 192.0.0";
        for (int i = 0; i < 50 && sh_status(probe) != 0; ++i)
            sh("sleep 0.1");
        REQUIRE_MESSAGE(sh_status(probe) == 0, sh("cat " + dir_ + "/log"));
    }
    ~Unbound() {
        // pid_ is timeout(1)'s, which passes SIGTERM on to unbound and exits after it. A
        // process reparented to PID 1 may linger as a zombie: state Z counts as gone.
        (void)sh_status("kill " + pid_ + "; for i in $(seq 50); do kill -0 " + pid_ +
                        " 2>/dev/null || break; ps -o stat= -p " + pid_ +
                        " | grep -q Z && break; sleep 0.1; done; rm -rf " + dir_);
    }
    Unbound(const Unbound&) = delete;
    Unbound& operator=(const Unbound&) = delete;
    std::string server() const { return "[::1]:" + std::to_string(port_); }

  private:
    int port_;
    std::string dir_;
    std::string pid_;
};

std::optional<Dns64Outcome> ask(boost::asio::io_context& io, const std::string& server) {
    auto resolver = Dns64Resolver::create(io, {{server}, 1000, 2});
    REQUIRE(resolver.ok());
    std::optional<Dns64Outcome> outcome;
    resolver.value()->query([&](const Dns64Outcome& o) { outcome = o; });
    clat::test::run_until(
        io, [&] { return outcome.has_value(); }, 10s);
    return outcome;
}

}  // namespace

TEST_CASE("unbound as DNS64: the prefix and the zone's TTL are found") {
    if (sh_status("command -v unbound && command -v dig") != 0) {
        MESSAGE("unbound or dig not installed: skipped");
        return;
    }
    Unbound dns64(10053, true);
    Unbound plain(10054, false);
    dns64.wait_ready();
    plain.wait_ready();
    boost::asio::io_context io;

    auto o = ask(io, dns64.server());
    REQUIRE(o);
    INFO(o->detail);
    CHECK(o->kind == Dns64OutcomeKind::kFound);
    REQUIRE(o->result);
    CHECK(o->result->prefix.to_string() == "2001:db8:64::/96");
    CHECK_FALSE(o->result->ambiguous);
    CHECK(o->ttl_seconds > 0);
    CHECK(o->ttl_seconds <= 5);

    // Without the dns64 module ipv4only.arpa has A records only: NODATA, no DNS64 here.
    o = ask(io, plain.server());
    REQUIRE(o);
    CHECK(o->kind == Dns64OutcomeKind::kNoDns64);
    CHECK_FALSE(o->result);

    // The driver refreshes before the 5 s TTL runs out (margin 4 s → after about 1 s).
    auto resolver = Dns64Resolver::create(io, {{dns64.server()}, 1000, 2});
    REQUIRE(resolver.ok());
    clat::Dns64SchedulePolicy policy;
    policy.refresh_margin = 4s;
    policy.found_floor = 500ms;
    std::vector<Dns64Plat> published;
    std::vector<std::int64_t> published_at_ms;
    Dns64Discovery discovery(
        io, std::move(resolver).value(),
        [&](const Dns64Plat& p) {
            published.push_back(p);
            published_at_ms.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
        },
        policy);
    discovery.rediscover_now();
    CHECK(clat::test::run_until(
        io, [&] { return published.size() >= 2; }, 5s));
    for (const auto& p : published) {
        REQUIRE(p.result);
        CHECK(p.result->prefix.to_string() == "2001:db8:64::/96");
    }
    // unbound answers from its cache with a TTL that counts down, so the refreshed expiry
    // need not be later than the first one; what matters is that the refresh came before
    // the first answer lapsed and that its own answer is still live.
    if (published.size() >= 2) {
        CHECK(published_at_ms[1] < published[0].expires_at_ms);
        CHECK(published[1].expires_at_ms > published_at_ms[1]);
    }
}
