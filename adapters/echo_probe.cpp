#include "adapters/echo_probe.hpp"

#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace clat {
namespace {

constexpr std::uint8_t kEchoRequest = 8;
constexpr std::uint8_t kEchoReply = 0;

std::uint16_t internet_checksum(const std::uint8_t* data, std::size_t size) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < size; i += 2)
        sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
    if (size % 2 != 0)
        sum += static_cast<std::uint32_t>(data[size - 1] << 8);
    while (sum >> 16 != 0)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

}  // namespace

EchoProbe::EchoProbe(boost::asio::io_context& io) : io_(io), socket_(io), timer_(io) {}

EchoProbe::~EchoProbe() {
    *alive_ = false;
}

void EchoProbe::cancel() {
    done_ = nullptr;
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
}

void EchoProbe::finish(bool answered, const std::string& detail) {
    auto done = std::move(done_);
    cancel();
    if (done)
        done(answered, detail);
}

void EchoProbe::send(const std::string& dev, Ipv4Address target, std::chrono::milliseconds timeout,
                     Done done) {
    cancel();
    done_ = std::move(done);
    target_ = target;
    // Report from the loop, never from inside send(): the caller may be in the middle of
    // its own bookkeeping.
    auto fail = [this, alive = alive_](std::string why) {
        boost::asio::post(io_, [this, alive, why = std::move(why)] {
            if (*alive)
                finish(false, why);
        });
    };
    boost::system::error_code ec;
    socket_.open(boost::asio::ip::icmp::v4(), ec);
    if (ec)
        return fail("cannot open an ICMP socket: " + ec.message());
    if (::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_BINDTODEVICE, dev.c_str(),
                     static_cast<socklen_t>(dev.size())) != 0)
        return fail("cannot bind the ICMP socket to " + dev + ": " + std::strerror(errno));
    id_ = static_cast<std::uint16_t>(::getpid() ^ 0xc1a7);
    ++seq_;
    std::array<std::uint8_t, 16> request{kEchoRequest, 0, 0, 0};
    request[4] = static_cast<std::uint8_t>(id_ >> 8);
    request[5] = static_cast<std::uint8_t>(id_);
    request[6] = static_cast<std::uint8_t>(seq_ >> 8);
    request[7] = static_cast<std::uint8_t>(seq_);
    std::memcpy(request.data() + 8, "clatd-ok", 8);
    const std::uint16_t sum = internet_checksum(request.data(), request.size());
    request[2] = static_cast<std::uint8_t>(sum >> 8);
    request[3] = static_cast<std::uint8_t>(sum);
    const boost::asio::ip::icmp::endpoint to(boost::asio::ip::address_v4(target.to_u32()), 0);
    socket_.send_to(boost::asio::buffer(request), to, 0, ec);
    if (ec)
        return fail("cannot send an echo request to " + target.to_string() + " out of " + dev +
                    ": " + ec.message());
    timer_.expires_after(timeout);
    timer_.async_wait([this, alive = alive_, timeout](const boost::system::error_code& e) {
        if (!e && *alive)
            finish(false, "no echo reply from " + target_.to_string() + " within " +
                              std::to_string(timeout.count()) + " ms");
    });
    receive();
}

void EchoProbe::receive() {
    socket_.async_receive(
        boost::asio::buffer(buffer_),
        [this, alive = alive_](const boost::system::error_code& ec, std::size_t n) {
            if (ec || !*alive || !done_)
                return;
            // A raw IPv4 socket hands over the IP header too.
            const std::size_t header = n > 0 ? static_cast<std::size_t>(buffer_[0] & 0x0f) * 4 : 0;
            const bool ours =
                n >= 20 && header >= 20 && n >= header + 8 && buffer_[9] == 1 &&
                Ipv4Address{{buffer_[12], buffer_[13], buffer_[14], buffer_[15]}} == target_ &&
                buffer_[header] == kEchoReply &&
                (buffer_[header + 4] << 8 | buffer_[header + 5]) == id_ &&
                (buffer_[header + 6] << 8 | buffer_[header + 7]) == seq_;
            if (ours)
                return finish(true, "");
            receive();
        });
}

}  // namespace clat
