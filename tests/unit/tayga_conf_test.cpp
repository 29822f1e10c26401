#include <doctest/doctest.h>

#include "states/tayga_conf.hpp"

namespace {

clat::TaygaSettings settings(const char* prefix) {
    return clat::TaygaSettings{"clat",
                               *clat::Ipv4Address::parse("192.0.0.2"),
                               *clat::Ipv6Prefix::parse(prefix),
                               *clat::Ipv4Address::parse("192.0.0.1"),
                               *clat::Ipv6Address::parse("2001:db8:1::c1a7"),
                               {}};
}

}  // namespace

TEST_CASE("tayga.conf carries the device, addresses, prefix and the CLAT mapping") {
    auto s = settings("2001:db8:64::/96");
    s.extra_lines = {"data-dir /var/lib/tayga", "strict-frag-hdr 1"};
    auto conf = clat::render_tayga_conf(s);
    REQUIRE(conf.ok());
    CHECK(*conf ==
          "# Written by clatd; regenerated on every translator start.\n"
          "tun-device clat\n"
          "ipv4-addr 192.0.0.2\n"
          "prefix 2001:db8:64::/96\n"
          "map 192.0.0.1 2001:db8:1::c1a7\n"
          "data-dir /var/lib/tayga\n"
          "strict-frag-hdr 1\n");
}

TEST_CASE("tayga.conf accepts every RFC 6052 length and nothing else") {
    for (const char* p :
         {"2001:db8::/32", "2001:db8:100::/40", "2001:db8:122::/48", "2001:db8:122:300::/56",
          "2001:db8:122:344::/64", "2001:db8:122:344::/96"}) {
        CAPTURE(p);
        CHECK(clat::render_tayga_conf(settings(p)).ok());
    }
    auto bad = clat::render_tayga_conf(settings("2001:db8:64::/80"));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("RFC 6052") != std::string::npos);
}

TEST_CASE("tayga-extra lines cannot smuggle in extra directives") {
    auto s = settings("2001:db8:64::/96");
    s.extra_lines = {"offlink-mtu 1400\nmap 192.0.2.1 2001:db8::1"};
    auto conf = clat::render_tayga_conf(s);
    REQUIRE_FALSE(conf.ok());
    CHECK(conf.error().message.find("tayga-extra") != std::string::npos);
}
