#include <doctest/doctest.h>

#include "tests/integration/harness.hpp"

using clat::test::PeerNetns;
using clat::test::sh;
using clat::test::snapshot;

TEST_CASE("the snapshot sees every kind of change and nothing else") {
    const auto before = snapshot();
    CHECK(snapshot() == before);
    sh("ip link add h0 type veth peer name h0p");
    auto with_link = snapshot();
    CHECK(with_link != before);
    sh("ip link set h0 up && ip addr add 192.0.2.1/24 dev h0");
    CHECK(snapshot() != with_link);
    sh("ip -6 neigh add proxy 2001:db8::5 dev h0");
    sh("echo 1 > /proc/sys/net/ipv6/conf/h0/proxy_ndp");
    auto changed = snapshot();
    sh("ip -6 neigh del proxy 2001:db8::5 dev h0");
    sh("echo 0 > /proc/sys/net/ipv6/conf/h0/proxy_ndp");
    CHECK(snapshot() != changed);
    sh("ip link del h0");
    CHECK(snapshot() == before);
}

TEST_CASE("a peer namespace is separate and goes away with its holder") {
    std::string peer_ns;
    {
        PeerNetns peer;
        peer_ns = "/proc/" + std::to_string(peer.pid()) + "/ns/net";
        sh("ip link add hv0 type veth peer name hv1");
        sh("ip link set hv1 netns " + std::to_string(peer.pid()));
        CHECK(peer.sh("ip -o link show hv1").find("hv1") != std::string::npos);
        CHECK(clat::test::sh_status("ip link show hv1") != 0);
    }
    CHECK(clat::test::sh_status("test -e " + peer_ns) != 0);
    // Deleting the namespace deletes the veth peer, and with it our end; the kernel dismantles
    // a namespace asynchronously (its cleanup work queue), so allow it a moment.
    CHECK(clat::test::sh_status("for i in $(seq 50); do ip link show hv0 >/dev/null 2>&1 || "
                                "exit 0; sleep 0.1; done; exit 1") == 0);
}
