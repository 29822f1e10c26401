#pragma once
/// clatd's eBPF translator (adapters/bpf/clat.bpf.c) loaded into the kernel through its libbpf
/// skeleton: the two programs, their configuration (global data, rewritten in place) and the
/// per-CPU counters. Loading needs CAP_BPF (and CAP_NET_ADMIN for the packet helpers); what
/// fails is returned with the kernel's reason. Attaching is bpf_tc's business.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adapters/bpf_tc.hpp"
#include "states/ip.hpp"
#include "states/result.hpp"

struct clat_bpf;

namespace clat {

/// What the programs translate between.
struct BpfTranslation {
    Ipv6Prefix plat_prefix;  ///< length 32, 40, 48, 56, 64 or 96 (RFC 6052)
    Ipv6Address clat_v6;
    Ipv4Address clat_v4;
    std::optional<Ipv4Address> tayga_v4;  ///< left to TAYGA (it answers for itself)
    std::string clat_dev;
    std::string uplink_dev;
};

/// Counters summed over the CPUs. Fast path: packets and bytes the programs translated;
/// left: packets they handed to the normal path (TAYGA), by reason; dropped: by reason.
struct BpfCounters {
    std::uint64_t egress_packets = 0;
    std::uint64_t egress_bytes = 0;
    std::uint64_t ingress_packets = 0;
    std::uint64_t ingress_bytes = 0;
    std::vector<std::pair<std::string, std::uint64_t>> left;
    std::vector<std::pair<std::string, std::uint64_t>> dropped;
};

class BpfPrograms {
  public:
    /// Opens and loads the programs (they translate nothing until configure()).
    static Result<std::unique_ptr<BpfPrograms>> load();
    ~BpfPrograms();
    BpfPrograms(const BpfPrograms&) = delete;
    BpfPrograms& operator=(const BpfPrograms&) = delete;

    /// Checks and installs a new configuration without detaching: the programs switch to it
    /// between two packets. Fails (changing nothing) on an unsupported prefix length, a
    /// missing device or an uplink that is neither Ethernet nor raw IP.
    Status configure(const BpfTranslation& translation);
    /// Every packet takes the normal path again.
    void disable();
    int program_fd(bpf_tc::Hook hook) const;
    BpfCounters counters() const;

  private:
    explicit BpfPrograms(clat_bpf* skeleton) : skeleton_(skeleton) {}
    clat_bpf* skeleton_;
};

/// "4 packets 560 bytes out, ..." for logs.
std::string to_string(const BpfCounters& counters);

}  // namespace clat
