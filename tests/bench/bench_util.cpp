#include "tests/bench/bench_util.hpp"

#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace clat::test {

std::int64_t steady_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

Options::Options(int argc, char** argv) {
    for (int i = 0; i < argc; ++i) {
        std::string key = argv[i];
        if (key.rfind("--", 0) != 0)
            throw std::runtime_error("unexpected argument " + key);
        key.erase(0, 2);
        if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0)
            values_[key] = argv[++i];
        else
            values_[key] = "1";
    }
}

std::string Options::text(const std::string& key, const std::string& fallback) const {
    auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
}

long long Options::number(const std::string& key, long long fallback) const {
    auto it = values_.find(key);
    return it == values_.end() ? fallback : std::stoll(it->second);
}

std::int64_t percentile(std::vector<std::int64_t> samples, double p) {
    if (samples.empty())
        return 0;
    std::sort(samples.begin(), samples.end());
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * samples.size()));
    return samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
}

void print_summary(const std::string& name, const std::vector<std::int64_t>& samples) {
    const auto [low, high] = std::minmax_element(samples.begin(), samples.end());
    std::printf("%s median=%lld p99=%lld min=%lld max=%lld n=%zu\n", name.c_str(),
                static_cast<long long>(percentile(samples, 50)),
                static_cast<long long>(percentile(samples, 99)),
                static_cast<long long>(samples.empty() ? 0 : *low),
                static_cast<long long>(samples.empty() ? 0 : *high), samples.size());
}

RawNetlink::RawNetlink(std::uint32_t groups, int receive_buffer) : buffer_(1 << 16) {
    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0)
        throw std::runtime_error(std::string("netlink socket: ") + std::strerror(errno));
    // SO_RCVBUFFORCE: root may exceed net.core.rmem_max.
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof receive_buffer);
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    local.nl_groups = groups;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        ::close(fd_);
        throw std::runtime_error(std::string("netlink bind: ") + std::strerror(errno));
    }
}

RawNetlink::~RawNetlink() {
    ::close(fd_);
}

void RawNetlink::send(const std::vector<std::uint8_t>& buffer) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
        const ssize_t n = ::sendto(fd_, buffer.data(), buffer.size(), 0,
                                   reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
        if (n >= 0)
            return;
        if (errno != EINTR)
            throw std::runtime_error(std::string("netlink send: ") + std::strerror(errno));
    }
}

bool RawNetlink::read_datagram(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0)
        return false;
    const ssize_t n = ::recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (n < 0) {
        length_ = 0;
        // ENOBUFS: our own subscription overran; the caller sees no messages this time.
        return errno == ENOBUFS;
    }
    length_ = static_cast<std::size_t>(n);
    return true;
}

std::vector<const nlmsghdr*> RawNetlink::messages() const {
    std::vector<const nlmsghdr*> out;
    int remaining = static_cast<int>(length_);
    for (auto* m = reinterpret_cast<const nlmsghdr*>(buffer_.data()); NLMSG_OK(m, remaining);
         m = NLMSG_NEXT(m, remaining)) {
        out.push_back(m);
    }
    return out;
}

int RawNetlink::drain_errors() {
    int errors = 0;
    while (read_datagram(0)) {
        for (const nlmsghdr* m : messages()) {
            if (m->nlmsg_type != NLMSG_ERROR)
                continue;
            const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(m));
            if (e->error != 0)
                ++errors;
        }
    }
    return errors;
}

std::size_t begin_message(std::vector<std::uint8_t>& buffer, std::uint16_t type,
                          std::uint16_t flags, const void* fixed, std::size_t fixed_size) {
    const std::size_t offset = buffer.size();
    nlmsghdr header{};
    header.nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(fixed_size));
    header.nlmsg_type = type;
    header.nlmsg_flags = flags;
    header.nlmsg_seq = static_cast<std::uint32_t>(offset);
    buffer.resize(offset + NLMSG_ALIGN(header.nlmsg_len));
    std::memcpy(buffer.data() + offset, &header, sizeof header);
    std::memcpy(buffer.data() + offset + NLMSG_HDRLEN, fixed, fixed_size);
    return offset;
}

void add_attribute(std::vector<std::uint8_t>& buffer, std::size_t message, std::uint16_t type,
                   const void* data, std::size_t size) {
    nlattr attribute{};
    attribute.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + size);
    attribute.nla_type = type;
    const std::size_t at = buffer.size();
    buffer.resize(at + NLA_ALIGN(attribute.nla_len));
    std::memcpy(buffer.data() + at, &attribute, sizeof attribute);
    std::memcpy(buffer.data() + at + NLA_HDRLEN, data, size);
    auto* header = reinterpret_cast<nlmsghdr*>(buffer.data() + message);
    header->nlmsg_len = static_cast<std::uint32_t>(buffer.size() - message);
}

}  // namespace clat::test
