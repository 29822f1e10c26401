#include <doctest/doctest.h>
#include <net/if.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "adapters/dns64_resolver.hpp"
#include "tests/integration/harness.hpp"
#include "tests/unit/fake_dns_server.hpp"

// A DNS64 reached by its link-local address (a home router announcing itself by RDNSS), in
// this test's private network namespace: a veth pair whose one end (the "router", lnkrtrN)
// holds fe80::53 and serves DNS on it, the other (the host's uplink, lnkhostN) is where the
// scope sends the queries. c-ares 1.18 has no scope in its server list; without our connect()
// hook the socket's connect() fails with EINVAL and every query ends as "unreachable".

using namespace std::chrono_literals;
using clat::Dns64Outcome;
using clat::Dns64OutcomeKind;
using clat::Dns64Resolver;
using clat::Dns64ResolverOptions;
using clat::test::Bytes;
using clat::test::dns_reply;
using clat::test::FakeDnsServer;
using clat::test::Rcode;
using clat::test::sh;
using clat::test::sh_status;

namespace {

/// A veth pair with fe80::1 on the host end and fe80::53 on the router end, both without DAD
/// or other addresses; deleted on destruction.
struct LinkLocalPair {
    std::string host;
    std::string router;
    explicit LinkLocalPair(int n)
        : host("lnkhost" + std::to_string(n)), router("lnkrtr" + std::to_string(n)) {
        create();
    }
    ~LinkLocalPair() { (void)sh_status("ip link del " + host + " 2>/dev/null"); }
    LinkLocalPair(const LinkLocalPair&) = delete;
    LinkLocalPair& operator=(const LinkLocalPair&) = delete;

    void create() const {
        sh("ip link add " + host + " type veth peer name " + router + " && ip link set " + host +
           " addrgenmode none && ip link set " + router + " addrgenmode none && ip link set " +
           host + " up && ip link set " + router + " up && ip addr add fe80::1/64 dev " + host +
           " nodad && ip addr add fe80::53/64 dev " + router + " nodad");
    }
    /// Deletes and creates the pair again: same names, new interface indexes.
    void recreate() const {
        sh("ip link del " + host);
        // Deleting a link is synchronous for its name, but make sure before re-using it.
        for (int i = 0; i < 50 && sh_status("ip link show " + host + " >/dev/null 2>&1") == 0; ++i)
            sh("sleep 0.1");
        create();
    }
    /// The router end's address as a server socket binds it.
    boost::asio::ip::udp::endpoint dns_endpoint(std::uint16_t port) const {
        auto address = boost::asio::ip::make_address_v6("fe80::53");
        address.scope_id(if_nametoindex(router.c_str()));
        return {address, port};
    }
};

std::optional<Bytes> synthesised(const Bytes& q) {
    return dns_reply(q, Rcode::kNoError, {{*clat::Ipv6Address::parse("2001:db8:64::c000:aa"), 60}});
}

Dns64Outcome ask(boost::asio::io_context& io, Dns64ResolverOptions options) {
    auto created = Dns64Resolver::create(io, options);
    REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
    std::optional<Dns64Outcome> outcome;
    created.value()->query([&](const Dns64Outcome& o) { outcome = o; });
    REQUIRE(clat::test::run_until(
        io, [&] { return outcome.has_value(); }, 5s));
    return *outcome;
}

void check_found(const Dns64Outcome& o, const std::string& label) {
    INFO(o.detail);
    CHECK(o.kind == Dns64OutcomeKind::kFound);
    REQUIRE(o.result);
    CHECK(o.result->prefix.to_string() == "2001:db8:64::/96");
    CHECK(o.detail.find("DNS64 " + label + ": ") == 0);
}

}  // namespace

TEST_CASE("dns64-servers fe80::53%dev, by name and by index, with and without a port") {
    LinkLocalPair pair(1);
    boost::asio::io_context io;
    FakeDnsServer on53(io, pair.dns_endpoint(53));
    FakeDnsServer on5353(io, pair.dns_endpoint(5353));
    on53.respond(synthesised);
    on5353.respond(synthesised);
    const std::string index = std::to_string(if_nametoindex(pair.host.c_str()));
    check_found(ask(io, {{"fe80::53%" + pair.host}, 1000, 1, {}}), "fe80::53%" + pair.host);
    check_found(ask(io, {{"fe80::53%" + index}, 1000, 1, {}}), "fe80::53%" + index);
    check_found(ask(io, {{"[fe80::53%" + pair.host + "]:5353"}, 1000, 1, {}}),
                "[fe80::53%" + pair.host + "]:5353");
    CHECK(on53.queries() == 2);
    CHECK(on5353.queries() == 1);
}

TEST_CASE("nameserver fe80::53%dev in resolv.conf; the interface re-created keeps working") {
    LinkLocalPair pair(2);
    boost::asio::io_context io;
    auto server = std::make_unique<FakeDnsServer>(io, pair.dns_endpoint(53));
    server->respond(synthesised);
    std::string dir = "/tmp/clat-kernel-lla.XXXXXX";
    REQUIRE(mkdtemp(dir.data()) != nullptr);
    struct Cleanup {
        std::string dir;
        ~Cleanup() { std::filesystem::remove_all(dir); }
    } cleanup{dir};
    std::ofstream(dir + "/resolv.conf") << "nameserver fe80::53%" << pair.host << "\n";

    auto created = Dns64Resolver::create(io, {{}, 1000, 1, dir + "/resolv.conf"});
    REQUIRE(created.ok());
    auto resolver = std::move(created).value();
    auto once = [&] {
        std::optional<Dns64Outcome> outcome;
        resolver->query([&](const Dns64Outcome& o) { outcome = o; });
        REQUIRE(clat::test::run_until(
            io, [&] { return outcome.has_value(); }, 5s));
        return *outcome;
    };
    check_found(once(), "fe80::53%" + pair.host);

    // A USB NIC unplugged and plugged in again: same name, another index. The scope is looked
    // up at each connect, so the same resolver reaches the router on the new interface.
    const unsigned old_index = if_nametoindex(pair.host.c_str());
    server.reset();
    pair.recreate();
    REQUIRE(if_nametoindex(pair.host.c_str()) != old_index);
    server = std::make_unique<FakeDnsServer>(io, pair.dns_endpoint(53));
    server->respond(synthesised);
    check_found(once(), "fe80::53%" + pair.host);
    CHECK(server->queries() == 1);
}
