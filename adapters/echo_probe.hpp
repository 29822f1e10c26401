#pragma once
/// One ICMP echo through the CLAT device to an IPv4 address that answers by itself (TAYGA's
/// own tayga-v4-addr): the proof that a translator is not only alive but reading and writing
/// its tun. The raw socket (CAP_NET_RAW) is bound to the device and open only while a probe
/// runs, so that the host's other ICMP traffic costs nothing in between.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/asio.hpp"
#include "states/ip.hpp"
#include "states/result.hpp"

namespace clat {

class EchoProbe {
  public:
    /// answered: an echo reply with our identifier and sequence came back in time. detail:
    /// why not (a timeout, or the error that kept the probe from being sent).
    using Done = std::function<void(bool answered, const std::string& detail)>;

    explicit EchoProbe(boost::asio::io_context& io);
    ~EchoProbe();
    EchoProbe(const EchoProbe&) = delete;
    EchoProbe& operator=(const EchoProbe&) = delete;

    /// Sends one echo request to target out of dev and calls done once (from the loop).
    void send(const std::string& dev, Ipv4Address target, std::chrono::milliseconds timeout,
              Done done);
    /// Ends a probe in flight without calling its handler.
    void cancel();

  private:
    void finish(bool answered, const std::string& detail);
    void receive();

    boost::asio::io_context& io_;
    boost::asio::ip::icmp::socket socket_;
    boost::asio::steady_timer timer_;
    std::array<std::uint8_t, 1500> buffer_{};
    Ipv4Address target_;
    std::uint16_t id_ = 0;
    std::uint16_t seq_ = 0;
    Done done_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace clat
