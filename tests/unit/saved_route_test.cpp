// saved_route: a dumped RTM_NEWROUTE payload turned into a request, from raw bytes.
#include "adapters/saved_route.hpp"

#include <doctest/doctest.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace clat::test {
namespace {

using Bytes = std::vector<std::uint8_t>;

void put_attr(Bytes& b, unsigned type, const Bytes& data) {
    const std::uint16_t len = static_cast<std::uint16_t>(NLA_HDRLEN + data.size());
    const std::uint16_t t = static_cast<std::uint16_t>(type);
    const std::size_t at = b.size();
    b.resize(at + NLA_ALIGN(len), 0);
    std::memcpy(b.data() + at, &len, 2);
    std::memcpy(b.data() + at + 2, &t, 2);
    std::memcpy(b.data() + at + NLA_HDRLEN, data.data(), data.size());
}

Bytes u32(std::uint32_t v) {
    Bytes b(4);
    std::memcpy(b.data(), &v, 4);
    return b;
}

Bytes header(unsigned flags) {
    rtmsg rtm{};
    rtm.rtm_family = AF_INET;
    rtm.rtm_table = RT_TABLE_MAIN;
    rtm.rtm_protocol = RTPROT_STATIC;
    rtm.rtm_type = RTN_UNICAST;
    rtm.rtm_flags = flags;
    Bytes b(sizeof rtm);
    std::memcpy(b.data(), &rtm, sizeof rtm);
    return b;
}

/// One rtnexthop with an RTA_GATEWAY.
Bytes hop(int ifindex, unsigned flags, std::uint8_t last_octet) {
    Bytes gw;
    put_attr(gw, RTA_GATEWAY, {192, 0, 2, last_octet});
    rtnexthop h{};
    h.rtnh_len = static_cast<unsigned short>(sizeof h + gw.size());
    h.rtnh_flags = static_cast<unsigned char>(flags);
    h.rtnh_ifindex = ifindex;
    Bytes b(sizeof h + gw.size());
    std::memcpy(b.data(), &h, sizeof h);
    std::memcpy(b.data() + sizeof h, gw.data(), gw.size());
    return b;
}

TEST_CASE("state flags and output-only attributes are dropped, the rest kept as it was") {
    Bytes saved = header(RTNH_F_ONLINK | RTNH_F_LINKDOWN | RTNH_F_DEAD | RTM_F_OFFLOAD);
    put_attr(saved, RTA_TABLE, u32(RT_TABLE_MAIN));
    put_attr(saved, RTA_PRIORITY, u32(100));
    put_attr(saved, RTA_PREFSRC, {192, 0, 2, 1});
    put_attr(saved, RTA_GATEWAY, {203, 0, 113, 1});
    put_attr(saved, RTA_OIF, u32(7));
    put_attr(saved, RTA_CACHEINFO, Bytes(sizeof(rta_cacheinfo), 0xaa));

    Bytes want = header(RTNH_F_ONLINK);
    put_attr(want, RTA_TABLE, u32(RT_TABLE_MAIN));
    put_attr(want, RTA_PRIORITY, u32(100));
    put_attr(want, RTA_PREFSRC, {192, 0, 2, 1});
    put_attr(want, RTA_GATEWAY, {203, 0, 113, 1});
    put_attr(want, RTA_OIF, u32(7));
    auto request = saved_route::request(saved);
    REQUIRE(request.ok());
    CHECK(*request == want);
    CHECK_FALSE(saved_route::nexthop_id(saved).has_value());
}

TEST_CASE("every nexthop of a multipath route is kept, without its state flags") {
    Bytes saved = header(0);
    Bytes hops = hop(7, RTNH_F_DEAD | RTNH_F_LINKDOWN, 254);
    const Bytes second = hop(8, RTNH_F_ONLINK | RTNH_F_OFFLOAD, 253);
    hops.insert(hops.end(), second.begin(), second.end());
    put_attr(saved, RTA_MULTIPATH, hops);

    Bytes want = header(0);
    Bytes want_hops = hop(7, 0, 254);
    const Bytes want_second = hop(8, RTNH_F_ONLINK, 253);
    want_hops.insert(want_hops.end(), want_second.begin(), want_second.end());
    put_attr(want, RTA_MULTIPATH, want_hops);
    auto request = saved_route::request(saved);
    REQUIRE(request.ok());
    CHECK(*request == want);
}

TEST_CASE("a route via a nexthop object keeps its id and loses the compatibility copy") {
    Bytes saved = header(RTNH_F_ONLINK);
    put_attr(saved, RTA_TABLE, u32(RT_TABLE_MAIN));
    put_attr(saved, RTA_NH_ID, u32(4711));
    put_attr(saved, RTA_GATEWAY, {192, 0, 2, 254});
    put_attr(saved, RTA_OIF, u32(7));

    Bytes want = header(0);
    put_attr(want, RTA_TABLE, u32(RT_TABLE_MAIN));
    put_attr(want, RTA_NH_ID, u32(4711));
    auto request = saved_route::request(saved);
    REQUIRE(request.ok());
    CHECK(*request == want);
    CHECK(saved_route::nexthop_id(saved) == 4711U);
}

TEST_CASE("malformed or foreign saved messages are refused with a reason") {
    CHECK(saved_route::request(Bytes{2, 0, 0}).error().message.find("shorter than an rtmsg") !=
          std::string::npos);
    Bytes v6 = header(0);
    v6[0] = AF_INET6;
    CHECK(saved_route::request(v6).error().message.find("not an IPv4 route") != std::string::npos);
    Bytes truncated = header(0);
    put_attr(truncated, RTA_PRIORITY, u32(1));
    truncated.pop_back();
    CHECK(saved_route::request(truncated).error().message.find("malformed attribute") !=
          std::string::npos);
    Bytes bad_hops = header(0);
    put_attr(bad_hops, RTA_MULTIPATH, {40, 0, 0, 0, 0, 0, 0, 0});
    CHECK(saved_route::request(bad_hops).error().message.find("RTA_MULTIPATH") !=
          std::string::npos);
}

}  // namespace
}  // namespace clat::test
