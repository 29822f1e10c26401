#include "adapters/bpf_programs.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstring>

// clang-format off: the skeleton needs the shared types first.
#include "adapters/bpf/clat_bpf.h"
#include "clat.skel.h"
// clang-format on

namespace clat {
namespace {

constexpr std::array<std::pair<int, const char*>, 10> kLeftReasons = {{
    {CLAT_LEFT_FRAGMENT, "fragment"},
    {CLAT_LEFT_OPTIONS, "options"},
    {CLAT_LEFT_ICMP, "icmp"},
    {CLAT_LEFT_PROTOCOL, "protocol"},
    {CLAT_LEFT_UDP_ZERO, "udp-zero-checksum"},
    {CLAT_LEFT_ADDRESS, "address"},
    {CLAT_LEFT_TTL, "ttl"},
    {CLAT_LEFT_SIZE, "size"},
    {CLAT_LEFT_UNSUPPORTED, "unsupported"},
    {CLAT_LEFT_ICMP_INNER, "icmp-inner"},
}};

int libbpf_log(enum libbpf_print_level level, const char* format, va_list args) {
    if (level == LIBBPF_DEBUG)
        return 0;
    std::array<char, 512> line{};
    const int n = std::vsnprintf(line.data(), line.size(), format, args);
    std::string text(line.data());
    while (!text.empty() && text.back() == '\n')
        text.pop_back();
    spdlog::debug("libbpf: {}", text);
    return n;
}

bool valid_prefix_length(int length) {
    return length == 32 || length == 40 || length == 48 || length == 56 || length == 64 ||
           length == 96;
}

/// The link-layer header the programs skip on the uplink: ARPHRD_ETHER has 14 bytes;
/// ARPHRD_NONE (tun), ARPHRD_PPP and ARPHRD_RAWIP have none.
/// (SIOCGIFHWADDR, not /sys/class/net: sysfs shows the network namespace it was mounted in.)
Result<std::uint8_t> l2_length(const std::string& dev) {
    const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return make_error("uplink " + dev + ": socket: " + std::strerror(errno));
    ifreq request{};
    std::strncpy(request.ifr_name, dev.c_str(), IFNAMSIZ - 1);
    const int rc = ::ioctl(fd, SIOCGIFHWADDR, &request);
    const int saved = errno;
    ::close(fd);
    if (rc != 0)
        return make_error("uplink " + dev + ": link type: " + std::strerror(saved));
    const int type = request.ifr_hwaddr.sa_family;
    if (type == 1)
        return static_cast<std::uint8_t>(14);
    if (type == 65534 || type == 512 || type == 519)
        return static_cast<std::uint8_t>(0);
    return make_error("uplink " + dev + ": link type " + std::to_string(type) +
                      " is neither Ethernet nor raw IP");
}

Result<std::uint32_t> ifindex_of(const std::string& dev) {
    const unsigned index = if_nametoindex(dev.c_str());
    if (index == 0)
        return make_error("device " + dev + ": " + std::strerror(errno));
    return static_cast<std::uint32_t>(index);
}

std::uint32_t network_order(const Ipv4Address& a) {
    std::uint32_t out = 0;
    std::memcpy(&out, a.bytes.data(), 4);
    return out;
}

/// 64:ff9b::/96 (RFC 6052 §2.1).
bool is_well_known(const Ipv6Prefix& p) {
    const auto wkp = Ipv6Prefix::parse("64:ff9b::/96");
    return wkp && p == *wkp;
}

}  // namespace

Result<std::unique_ptr<BpfPrograms>> BpfPrograms::load() {
    libbpf_set_print(libbpf_log);
    clat_bpf* skeleton = clat_bpf__open();
    if (skeleton == nullptr)
        return make_error(std::string("eBPF open: ") + std::strerror(errno));
    if (const int rc = clat_bpf__load(skeleton); rc != 0) {
        clat_bpf__destroy(skeleton);
        return make_error(std::string("eBPF load: ") + std::strerror(-rc));
    }
    return std::unique_ptr<BpfPrograms>(new BpfPrograms(skeleton));
}

BpfPrograms::~BpfPrograms() {
    clat_bpf__destroy(skeleton_);
}

Status BpfPrograms::configure(const BpfTranslation& t) {
    if (!valid_prefix_length(t.plat_prefix.length))
        return make_error("eBPF data path: PLAT prefix " + t.plat_prefix.to_string() +
                          ": length must be 32, 40, 48, 56, 64 or 96 (RFC 6052)");
    auto clat_index = ifindex_of(t.clat_dev);
    if (!clat_index)
        return clat_index.error();
    auto uplink_index = ifindex_of(t.uplink_dev);
    if (!uplink_index)
        return uplink_index.error();
    auto l2 = l2_length(t.uplink_dev);
    if (!l2)
        return l2.error();
    clat_config c{};
    std::memcpy(c.prefix, t.plat_prefix.address.bytes.data(), 16);
    std::memcpy(c.clat_v6, t.clat_v6.bytes.data(), 16);
    c.clat_v4 = network_order(t.clat_v4);
    c.tayga_v4 = t.tayga_v4 ? network_order(*t.tayga_v4) : 0;
    c.uplink_ifindex = *uplink_index;
    c.clat_ifindex = *clat_index;
    c.prefix_len = static_cast<std::uint8_t>(t.plat_prefix.length);
    c.uplink_l2_len = *l2;
    c.enabled = 1;
    c.well_known = is_well_known(t.plat_prefix) ? 1 : 0;
    auto* bss = skeleton_->bss;
    std::atomic_ref<std::uint32_t> active(bss->clat_active);
    const std::uint32_t next = (active.load() + 1) & 1;
    bss->clat_cfg[next] = c;
    active.store(next, std::memory_order_release);
    return Ok{};
}

void BpfPrograms::disable() {
    auto* bss = skeleton_->bss;
    std::atomic_ref<std::uint32_t> active(bss->clat_active);
    const std::uint32_t next = (active.load() + 1) & 1;
    bss->clat_cfg[next] = clat_config{};
    active.store(next, std::memory_order_release);
}

int BpfPrograms::program_fd(bpf_tc::Hook hook) const {
    return bpf_program__fd(hook == bpf_tc::Hook::kIngress ? skeleton_->progs.clat_ingress
                                                          : skeleton_->progs.clat_egress);
}

BpfCounters BpfPrograms::counters() const {
    const int cpus = libbpf_num_possible_cpus();
    std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(cpus > 0 ? cpus : 1));
    const int fd = bpf_map__fd(skeleton_->maps.clat_counters);
    auto total = [&](int slot) {
        std::uint32_t key = static_cast<std::uint32_t>(slot);
        std::uint64_t sum = 0;
        if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) == 0) {
            for (auto v : per_cpu)
                sum += v;
        }
        return sum;
    };
    BpfCounters c;
    c.egress_packets = total(CLAT_EGRESS_PACKETS);
    c.egress_bytes = total(CLAT_EGRESS_BYTES);
    c.ingress_packets = total(CLAT_INGRESS_PACKETS);
    c.ingress_bytes = total(CLAT_INGRESS_BYTES);
    for (const auto& [slot, name] : kLeftReasons)
        c.left.emplace_back(name, total(slot));
    c.dropped.emplace_back("store", total(CLAT_DROP_STORE));
    return c;
}

std::string to_string(const BpfCounters& c) {
    std::string out =
        "egress=" + std::to_string(c.egress_packets) + "/" + std::to_string(c.egress_bytes) +
        " ingress=" + std::to_string(c.ingress_packets) + "/" + std::to_string(c.ingress_bytes);
    for (const auto& [name, n] : c.left) {
        if (n > 0)
            out += " left-" + name + "=" + std::to_string(n);
    }
    for (const auto& [name, n] : c.dropped) {
        if (n > 0)
            out += " dropped-" + name + "=" + std::to_string(n);
    }
    return out;
}

}  // namespace clat
