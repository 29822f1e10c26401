#pragma once
/// Duplicate Address Detection (RFC 4862 §5.4) of the CLAT address from user space. The CLAT
/// address is not assigned to the uplink: the kernel answers for it by proxy ND and forwards
/// its packets to the CLAT device. Assigned to the uplink for the kernel's own DAD, it would
/// not be answered for while tentative (the first packets wait for DAD), and as an optimistic
/// address (RFC 4429, IFA_F_OPTIMISTIC) it gets a local route that delivers the translated
/// traffic to the host instead of the CLAT, once more when DAD completes. So clatd probes as
/// the kernel would, with the kernel's DAD settings of the device, while the address is
/// already in use (the proxy's answers carry no Override flag, RFC 4861 §7.2.8, like an
/// optimistic node's, RFC 4429 §3.3).

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "agent/asio.hpp"
#include "ports/dad_prober.hpp"

namespace clat {

/// The kernel's DAD settings for one device: net/ipv6/conf/{all,<dev>}/accept_dad,
/// conf/<dev>/dad_transmits and neigh/<dev>/retrans_time_ms (RetransTimer, which an RA may
/// have set). Unreadable values fall back to the kernel's defaults (1, 1, 1000 ms).
struct DadTiming {
    bool enabled = true;  ///< accept_dad >= 1 on all or the device, and dad_transmits > 0
    int transmits = 1;
    std::chrono::milliseconds retrans{1000};
    static DadTiming of_device(const std::string& dev);
};

/// Sends DupAddrDetectTransmits Neighbor Solicitations from the unspecified address to the
/// address's solicited-node group, RetransTimer apart (no initial random delay: these are not
/// the first packets after the interface came up, RFC 4862 §5.4.2), each with a nonce
/// (RFC 7527) so that a looped-back copy is not taken for another node's probe. The address
/// is a duplicate when a Neighbor Advertisement for it arrives, or a probe for it from
/// another node (RFC 4862 §5.4.3, §5.4.4); it passed RetransTimer after the last solicitation.
/// Needs CAP_NET_RAW; the sockets are open only while a probe runs. Not thread-safe.
class DadProber final : public DadProberPort {
  public:
    explicit DadProber(boost::asio::io_context& io);
    ~DadProber() override;
    DadProber(const DadProber&) = delete;
    DadProber& operator=(const DadProber&) = delete;

    void subscribe(EventSink sink) override { sink_ = std::move(sink); }
    Status probe(int ifindex, const std::string& dev, const Ipv6Address& address) override;
    void cancel() override;

    /// Solicitations sent in the current (or last) probe.
    int sent() const { return sent_; }

  private:
    Status open_sockets(int ifindex, const std::string& dev, const Ipv6Address& address);
    void close_sockets();
    void send_next(std::uint64_t round);
    void wait_packet(std::uint64_t round);
    void read_packets();
    void finish(bool duplicate, std::string detail);

    boost::asio::io_context& io_;
    boost::asio::posix::stream_descriptor listen_;
    boost::asio::steady_timer timer_;
    EventSink sink_;
    int send_fd_ = -1;
    int ifindex_ = 0;
    std::string dev_;
    Ipv6Address address_;
    DadTiming timing_;
    std::array<std::uint8_t, 6> nonce_{};
    int sent_ = 0;
    bool running_ = false;
    std::uint64_t round_ = 0;  ///< bumped by probe() and cancel(): stale waits drop out
};

}  // namespace clat
