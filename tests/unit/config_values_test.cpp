#include <doctest/doctest.h>

#include "config/values.hpp"

using namespace clat::config;

TEST_CASE("booleans accept 1/0, yes/no, true/false, on/off in any case") {
    for (const char* t : {"1", "yes", "true", "on", "YES", "True", "ON", "yEs"}) {
        CAPTURE(t);
        auto r = parse_bool(t);
        REQUIRE(r.ok());
        CHECK(*r);
    }
    for (const char* f : {"0", "no", "false", "off", "NO", "False", "Off"}) {
        CAPTURE(f);
        auto r = parse_bool(f);
        REQUIRE(r.ok());
        CHECK_FALSE(*r);
    }
    for (const char* bad : {"", "2", "y", "n", "enable", "yes please", "-1"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_bool(bad).ok());
    }
    CHECK(parse_bool("maybe").error().message ==
          "'maybe' is not a boolean (use 1/0, yes/no, true/false or on/off)");
}

TEST_CASE("integers are decimal or 0x-hexadecimal, non-negative and range-checked") {
    CHECK(*parse_uint("0") == 0);
    CHECK(*parse_uint("2048") == 2048);
    CHECK(*parse_uint("010") == 10);  // no octal
    CHECK(*parse_uint("0xc1a7") == 0xc1a7);
    CHECK(*parse_uint("0XC1A7") == 0xc1a7);
    CHECK(*parse_uint("4294967295") == 4294967295u);
    CHECK(*parse_uint("0xffffffff") == 0xffffffffu);
    CHECK(parse_uint("4294967296").error().message ==
          "'4294967296' is out of range (0 to "
          "4294967295)");
    CHECK(parse_uint("0x100000000").error().message ==
          "'0x100000000' is out of range (0 to 4294967295)");
    CHECK(parse_uint("3", 2).error().message == "'3' is out of range (0 to 2)");
    CHECK(*parse_uint("2", 2) == 2);
    for (const char* bad : {"", "-1", "+1", "abc", "0x", "0xg", "1.5", "1 2", "12a"}) {
        CAPTURE(bad);
        auto r = parse_uint(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == "'" + std::string(bad) + "' is not an integer");
    }
}

TEST_CASE("all six RFC 6052 prefix lengths are accepted") {
    for (const char* p :
         {"2001:db8::/32", "2001:db8:100::/40", "2001:db8:122::/48", "2001:db8:122:300::/56",
          "2001:db8:122:344::/64", "64:ff9b::/96", "2001:db8:64::/96"}) {
        CAPTURE(p);
        auto r = parse_rfc6052_prefix(p);
        REQUIRE(r.ok());
        CHECK(r->to_string() == p);
    }
}

TEST_CASE("other prefix lengths, host bits and non-prefixes are rejected with the reason") {
    CHECK(parse_rfc6052_prefix("2001:db8::/33").error().message ==
          "2001:db8::/33 is not an RFC 6052 prefix length (32, 40, 48, 56, 64 or 96)");
    CHECK(parse_rfc6052_prefix("2001:db8::/128").error().message ==
          "2001:db8::/128 is not an RFC 6052 prefix length (32, 40, 48, 56, 64 or 96)");
    CHECK(parse_rfc6052_prefix("2001:db8::1/96").error().message ==
          "2001:db8::1/96 has bits set beyond the prefix length");
    CHECK(parse_rfc6052_prefix("2001:db8::").error().message ==
          "'2001:db8::' is not an IPv6 prefix (ADDRESS/LENGTH)");
    CHECK(parse_rfc6052_prefix("192.0.2.0/24").error().message ==
          "'192.0.2.0/24' is not an IPv6 prefix (ADDRESS/LENGTH)");
    CHECK(parse_rfc6052_prefix("2001:db8::/abc").error().message ==
          "'2001:db8::/abc' is not an IPv6 prefix (ADDRESS/LENGTH)");
    // RFC 6052 §2.2: the "u" octet (bits 64..71) must be zero.
    CHECK(parse_rfc6052_prefix("2001:db8:0:0:100::/96").error().message ==
          "2001:db8:0:0:100::/96 has bits 64 to 71 set, which RFC 6052 section 2.2 reserves");
}

TEST_CASE("addresses and address lists") {
    CHECK(parse_ipv4("192.0.2.1")->to_string() == "192.0.2.1");
    CHECK(parse_ipv4("192.0.2").error().message == "'192.0.2' is not an IPv4 address");
    CHECK(parse_ipv6_unicast("2001:DB8::1")->to_string() == "2001:db8::1");
    CHECK(parse_ipv6_unicast("ff02::1").error().message == "ff02::1 is not a unicast address");
    CHECK_FALSE(parse_ipv6_unicast("::").ok());
    CHECK_FALSE(parse_ipv6_unicast("::1").ok());
    CHECK(parse_ipv6_unicast("192.0.2.1").error().message == "'192.0.2.1' is not an IPv6 address");

    auto list = parse_address_list("2001:DB8::53, 192.0.2.53 ,2001:db8::1:53");
    REQUIRE(list.ok());
    CHECK(*list == std::vector<std::string>{"2001:db8::53", "192.0.2.53", "2001:db8::1:53"});
    CHECK(parse_address_list("2001:db8::53,,192.0.2.1").error().message ==
          "'2001:db8::53,,192.0.2.1' has an empty item");
    CHECK(parse_address_list("2001:db8::53,dns.example")
              .error()
              .message.find("'dns.example' is not a DNS server") == 0);
    list = parse_address_list("[2001:db8::53]:53,fe80::1%eth0 , [FE80::2%eth1]:5353");
    REQUIRE(list.ok());
    CHECK(*list == std::vector<std::string>{"2001:db8::53", "fe80::1%eth0", "[fe80::2%eth1]:5353"});
    CHECK(parse_address_list("192.0.2.53,192.0.2.53:53").error().message ==
          "'192.0.2.53:53' repeats the address and port of '192.0.2.53'");
}

TEST_CASE("interface names follow the kernel's rules") {
    CHECK(*parse_ifname("clat0") == "clat0");
    CHECK(*parse_ifname("abcdefghijklmno") == "abcdefghijklmno");
    CHECK(parse_ifname("abcdefghijklmnop").error().message ==
          "'abcdefghijklmnop' is longer than 15 characters");
    for (const char* bad : {"a/b", "a:b", "a b", ".", ".."}) {
        CAPTURE(bad);
        CHECK(parse_ifname(bad).error().message ==
              "'" + std::string(bad) + "' is not a valid interface name");
    }
}

TEST_CASE("interface names that would break sysctl paths, tayga.conf or the firewall tools") {
    // The kernel accepts these, but each one failed later, in provisioning and in its undo.
    for (const std::string& bad : {std::string("a\"b"), std::string("a'b"), std::string("a\\b"),
                                   std::string("a%b"), std::string("%s"),
                                   std::string("a\x01"
                                               "b"),
                                   std::string("a\x7f")}) {
        CAPTURE(bad);
        CHECK(parse_ifname(bad).error().message ==
              "'" + bad +
                  "' is not a usable interface name (it has a quote, a backslash, '%' or a "
                  "control character)");
    }
    CHECK(parse_ifname("a\tb").error().message == "'a\tb' is not a valid interface name");
    CHECK(parse_ifname("").error().message == "an interface name cannot be empty");
    // What real names look like stays valid: VLANs, bridges, dashes, underscores, '@'-free.
    for (const char* good : {"eth0.100", "br-lan", "wlp2s0", "veth_1a2b", "clat+", "a=b"}) {
        CAPTURE(good);
        CHECK(parse_ifname(good).ok());
    }
}

TEST_CASE("a script must fit into one execve() argument and environment string") {
    CHECK(kMaxScriptBytes == 131059);
    const std::string longest(kMaxScriptBytes, 'x');
    CHECK(*parse_script(longest) == longest);
    CHECK(parse_script(std::string(kMaxScriptBytes + 1, 'x')).error().message ==
          "the script is 131060 bytes long, more than the 131059 that execve() accepts in one "
          "argument (MAX_ARG_STRLEN)");
    CHECK(parse_script(std::string("echo a\0b", 8)).error().message == "the script has a NUL byte");
}

TEST_CASE("trim removes blanks at both ends only") {
    CHECK(trim("  a b \t\r\n") == "a b");
    CHECK(trim("") == "");
    CHECK(trim(" \t ") == "");
}

TEST_CASE("durations are decimal seconds with at most 3 decimals, in milliseconds") {
    CHECK(*parse_seconds_ms("1", 10, 60'000) == 1'000);
    CHECK(*parse_seconds_ms("0.05", 10, 60'000) == 50);
    CHECK(*parse_seconds_ms("2.5", 10, 60'000) == 2'500);
    CHECK(*parse_seconds_ms("0.010", 10, 60'000) == 10);
    CHECK(*parse_seconds_ms("60", 10, 60'000) == 60'000);
    CHECK(*parse_seconds_ms("060.000", 10, 60'000) == 60'000);
    for (const char* bad : {"", ".5", "5.", "1e3", "-1", "0x10", "1,5", "1 s", "a"}) {
        CAPTURE(bad);
        CHECK(parse_seconds_ms(bad, 10, 60'000).error().message ==
              "'" + std::string(bad) + "' is not a number of seconds");
    }
    CHECK(parse_seconds_ms("0.0005", 10, 60'000).error().message ==
          "'0.0005' has more than 3 decimals (milliseconds)");
    CHECK(parse_seconds_ms("0.009", 10, 60'000).error().message ==
          "'0.009' is out of range (0.01 to 60 seconds)");
    CHECK(parse_seconds_ms("60.001", 10, 60'000).error().message ==
          "'60.001' is out of range (0.01 to 60 seconds)");
    CHECK(parse_seconds_ms("99999999999999999999", 10, 60'000).error().message ==
          "'99999999999999999999' is out of range (0.01 to 60 seconds)");
}

TEST_CASE("seconds_text is the shortest form that reads back") {
    for (std::uint32_t ms : {10u, 50u, 125u, 999u, 1'000u, 1'500u, 60'000u}) {
        CAPTURE(ms);
        CHECK(*parse_seconds_ms(seconds_text(ms), 10, 60'000) == ms);
    }
    CHECK(seconds_text(50) == "0.05");
    CHECK(seconds_text(1'000) == "1");
    CHECK(seconds_text(1'500) == "1.5");
    CHECK(seconds_text(10) == "0.01");
}
