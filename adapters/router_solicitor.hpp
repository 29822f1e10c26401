#pragma once
/// Router Solicitations (RFC 4861 §6.3.7) on the uplink, so that a router answers at once with
/// an RA and its PREF64 option (RFC 8781) reaches the observer: the kernel passes RA options to
/// user space (RTM_NEWNDUSEROPT) only as RAs arrive and keeps none of them, so an agent that
/// starts after the uplink came up would otherwise wait for the next periodic RA (up to
/// MaxRtrAdvInterval, 600 s by default in radvd).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "agent/asio.hpp"
#include "ports/router_solicitor.hpp"
#include "states/result.hpp"

namespace clat {

/// Sends rounds of up to Options::max_solicitations RS to ff02::2 on one link, on the agent's
/// io_context. Failures (no CAP_NET_RAW, link down, no link-local address yet) are logged at
/// warn, once per round and once for the socket, and never stop the agent. Not thread-safe.
class RouterSolicitor final : public RouterSolicitorPort {
  public:
    struct Options {
        int max_solicitations = 3;                 ///< RFC 4861 §10 MAX_RTR_SOLICITATIONS
        std::chrono::milliseconds interval{4000};  ///< RFC 4861 §10 RTR_SOLICITATION_INTERVAL
    };

    explicit RouterSolicitor(boost::asio::io_context& io) : RouterSolicitor(io, Options{}) {}
    RouterSolicitor(boost::asio::io_context& io, Options options);
    ~RouterSolicitor();
    RouterSolicitor(const RouterSolicitor&) = delete;
    RouterSolicitor& operator=(const RouterSolicitor&) = delete;

    /// Starts a round on the link: the first RS now, the others an interval apart. A round
    /// already running is replaced. The raw socket is opened on first use.
    void solicit(int ifindex, std::string ifname) override;
    /// Stops the round (a PREF64 was heard, or discovery stopped). Idempotent.
    void cancel() override;

    /// True while a round has RS left to send.
    bool active() const { return active_; }
    /// RS the kernel accepted in the current (or last) round.
    int sent() const { return sent_; }
    /// The last failure (opening the socket or sending), naming the device and the reason.
    const std::optional<Error>& last_error() const { return last_error_; }

  private:
    void send_one(std::uint64_t round);
    Status open_socket();
    Status send_rs();
    void fail(Error error);

    boost::asio::steady_timer timer_;
    Options options_;
    int fd_ = -1;
    bool open_warned_ = false;
    bool round_warned_ = false;
    bool active_ = false;
    int ifindex_ = 0;
    std::string ifname_;
    int attempts_ = 0;
    int sent_ = 0;
    std::uint64_t round_ = 0;  ///< bumped by solicit() and cancel(): stale timer waits drop out
    std::optional<Error> last_error_;
};

}  // namespace clat
