#pragma once
/// Address and prefix literals for tests: parsed, and a test failure when they do not parse.

#include <doctest/doctest.h>

#include "states/ip.hpp"

namespace clat::test {

inline Ipv4Address v4(const char* text) {
    auto a = Ipv4Address::parse(text);
    REQUIRE_MESSAGE(a, text);
    return *a;
}

inline Ipv6Address v6(const char* text) {
    auto a = Ipv6Address::parse(text);
    REQUIRE_MESSAGE(a, text);
    return *a;
}

inline Ipv4Prefix p4(const char* text) {
    auto p = Ipv4Prefix::parse(text);
    REQUIRE_MESSAGE(p, text);
    return *p;
}

inline Ipv6Prefix p6(const char* text) {
    auto p = Ipv6Prefix::parse(text);
    REQUIRE_MESSAGE(p, text);
    return *p;
}

}  // namespace clat::test
