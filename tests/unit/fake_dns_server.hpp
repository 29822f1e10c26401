#pragma once
/// A fake DNS server for unit tests: a UDP socket on 127.0.0.1 (ephemeral port; kernel tests
/// may give another endpoint) served by the test's own io_context, answering each query with
/// whatever the test's responder returns.
/// Replies are built by hand in wire format (RFC 1035 §4.1), so tests control every byte.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/asio.hpp"
#include "states/ip.hpp"

namespace clat::test {

using Bytes = std::vector<std::uint8_t>;

/// RFC 1035 §4.1.1 RCODEs used by the tests.
enum class Rcode : std::uint8_t { kNoError = 0, kServFail = 2, kNxDomain = 3, kRefused = 5 };

struct AaaaAnswer {
    Ipv6Address address;
    std::uint32_t ttl = 0;
};

/// Where the question section of a query ends (12-byte header + QNAME + QTYPE + QCLASS);
/// nullopt if the query is too short to have one.
inline std::optional<std::size_t> question_end(const Bytes& query) {
    std::size_t at = 12;
    while (at < query.size() && query[at] != 0) {
        if ((query[at] & 0xc0) != 0)
            return std::nullopt;  // queries do not compress their question
        at += 1 + query[at];
    }
    if (at + 5 > query.size())
        return std::nullopt;
    return at + 5;
}

/// A reply to `query`: its ID and question echoed, the given RCODE, and one AAAA record per
/// answer (owner name: a pointer to the question's name, TYPE 28, CLASS IN, RDLENGTH 16).
inline Bytes dns_reply(const Bytes& query, Rcode rcode, const std::vector<AaaaAnswer>& answers) {
    const std::size_t end = question_end(query).value_or(12);
    Bytes out;
    auto u16 = [&](unsigned v) {
        out.push_back(static_cast<std::uint8_t>(v >> 8));
        out.push_back(static_cast<std::uint8_t>(v));
    };
    out.insert(out.end(), query.begin(), query.begin() + 2);  // ID
    const unsigned rd = query.size() > 2 ? (query[2] & 0x01) : 0;
    out.push_back(static_cast<std::uint8_t>(0x80 | rd));  // QR=1, opcode 0, RD echoed
    out.push_back(static_cast<std::uint8_t>(0x80 | static_cast<unsigned>(rcode)));  // RA
    u16(end > 12 ? 1 : 0);                                                          // QDCOUNT
    u16(static_cast<unsigned>(answers.size()));                                     // ANCOUNT
    u16(0);                                                                         // NSCOUNT
    u16(0);                                                                         // ARCOUNT
    out.insert(out.end(), query.begin() + 12, query.begin() + static_cast<long>(end));
    for (const auto& a : answers) {
        u16(0xc00c);  // name: pointer to offset 12, the question's QNAME
        u16(28);      // TYPE AAAA
        u16(1);       // CLASS IN
        u16(a.ttl >> 16);
        u16(a.ttl & 0xffff);
        u16(16);  // RDLENGTH
        out.insert(out.end(), a.address.bytes.begin(), a.address.bytes.end());
    }
    return out;
}

/// The fake server. The responder sees each query and returns the reply, or nullopt to stay
/// silent.
class FakeDnsServer {
  public:
    using Responder = std::function<std::optional<Bytes>(const Bytes& query)>;

    explicit FakeDnsServer(boost::asio::io_context& io)
        : FakeDnsServer(
              io, boost::asio::ip::udp::endpoint(boost::asio::ip::address_v4::loopback(), 0)) {}
    FakeDnsServer(boost::asio::io_context& io, const boost::asio::ip::udp::endpoint& at)
        : socket_(io, at) {
        receive();
    }

    /// "127.0.0.1:port" (or "[address]:port"), as dns64-servers takes it.
    std::string address() const {
        const auto at = socket_.local_endpoint();
        const std::string host = at.address().to_string();
        return (at.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port());
    }
    std::uint16_t port() const { return socket_.local_endpoint().port(); }
    void respond(Responder responder) { responder_ = std::move(responder); }
    int queries() const { return static_cast<int>(query_times_.size()); }
    const std::vector<std::chrono::steady_clock::time_point>& query_times() const {
        return query_times_;
    }
    const Bytes& last_query() const { return last_query_; }

  private:
    void receive() {
        buffer_.resize(4096);
        socket_.async_receive_from(
            boost::asio::buffer(buffer_), peer_,
            [this](boost::system::error_code ec, std::size_t n) {
                if (ec)
                    return;
                last_query_.assign(buffer_.begin(), buffer_.begin() + n);
                query_times_.push_back(std::chrono::steady_clock::now());
                if (auto reply = responder_ ? responder_(last_query_) : std::nullopt) {
                    boost::system::error_code ignored;
                    socket_.send_to(boost::asio::buffer(*reply), peer_, 0, ignored);
                }
                receive();
            });
    }

    boost::asio::ip::udp::socket socket_;
    boost::asio::ip::udp::endpoint peer_;
    Bytes buffer_;
    Bytes last_query_;
    std::vector<std::chrono::steady_clock::time_point> query_times_;
    Responder responder_;
};

/// Steps the loop until done() or the time limit; returns done().
template <typename Predicate>
bool run_until(boost::asio::io_context& io, Predicate done,
               std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.run_one_for(std::chrono::milliseconds(10));
        if (io.stopped())
            io.restart();
    }
    return done();
}

/// Steps the loop for `span`, whatever happens.
inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds span) {
    run_until(
        io, [] { return false; }, span);
}

}  // namespace clat::test
