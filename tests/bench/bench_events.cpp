// clat_bench events: netlink event → reconcile done. Adds and removes a secondary global IPv6
// address on the uplink (through the project's NetlinkKernel, no `ip` spawned), stamping the
// steady clock right before each request, and matches each with the first
// "reconcile done rx-us=… done-us=…" line of clatd's debug log whose rx-us is not earlier.

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <thread>

#include "adapters/netlink_kernel.hpp"
#include "tests/bench/bench_util.hpp"

namespace clat::test {
namespace {

struct DoneLine {
    std::int64_t rx_us = 0;
    std::int64_t done_us = 0;
    std::int64_t messages = 0;
};

/// Follows a growing log file from its current end and yields the "reconcile done" lines.
class DoneLog {
  public:
    explicit DoneLog(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
        if (fd_ < 0)
            throw std::runtime_error("cannot open " + path);
        ::lseek(fd_, 0, SEEK_END);
    }
    ~DoneLog() { ::close(fd_); }
    DoneLog(const DoneLog&) = delete;
    DoneLog& operator=(const DoneLog&) = delete;

    /// The first done line with rx_us >= t0 (older ones are dropped), waiting until deadline.
    std::optional<DoneLine> wait_after(std::int64_t t0, std::int64_t deadline_us) {
        for (;;) {
            while (!lines_.empty() && lines_.front().rx_us < t0)
                lines_.erase(lines_.begin());
            if (!lines_.empty()) {
                DoneLine line = lines_.front();
                lines_.erase(lines_.begin());
                return line;
            }
            if (steady_us() > deadline_us)
                return std::nullopt;
            if (!read_more())
                std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    }

  private:
    bool read_more() {
        char chunk[8192];
        const ssize_t n = ::read(fd_, chunk, sizeof chunk);
        if (n <= 0)
            return false;
        partial_.append(chunk, static_cast<std::size_t>(n));
        for (std::size_t end; (end = partial_.find('\n')) != std::string::npos;) {
            parse(partial_.substr(0, end));
            partial_.erase(0, end + 1);
        }
        return true;
    }

    void parse(const std::string& line) {
        const auto at = line.find("reconcile done rx-us=");
        if (at == std::string::npos)
            return;
        DoneLine d;
        long long rx = 0;
        long long done = 0;
        long long messages = 0;
        if (std::sscanf(line.c_str() + at, "reconcile done rx-us=%lld done-us=%lld messages=%lld",
                        &rx, &done, &messages) == 3) {
            d.rx_us = rx;
            d.done_us = done;
            d.messages = messages;
            lines_.push_back(d);
        }
    }

    int fd_;
    std::string partial_;
    std::vector<DoneLine> lines_;
};

void apply_or_throw(NetlinkKernel& kernel, const Operation& op) {
    auto applied = kernel.apply(op);
    if (!applied)
        throw std::runtime_error(applied.error().message);
}

}  // namespace

int run_events(const Options& options) {
    const std::string dev = options.text("dev", "eth0");
    const long long count = options.number("count", 200);
    const long long timeout_us = options.number("timeout-ms", 2000) * 1000;
    const long long gap_us = options.number("gap-ms", 5) * 1000;
    const auto address = Ipv6Address::parse(options.text("address", "2001:db8:ffee::1"));
    if (!address)
        throw std::runtime_error("bad --address");
    auto kernel = NetlinkKernel::open();
    if (!kernel)
        throw std::runtime_error(kernel.error().message);
    DoneLog log(options.text("log"));

    const Operation add = op::AddAddressV6{dev, *address, 128, false};
    const Operation remove = op::RemoveAddressV6{dev, *address, 128};
    std::vector<std::int64_t> total;
    std::vector<std::int64_t> internal;
    std::vector<std::int64_t> messages;
    long long missed = 0;
    for (long long i = 0; i < count; ++i) {
        // A pause lets the previous batch end, so that each change is a batch of its own.
        std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
        const std::int64_t t0 = steady_us();
        apply_or_throw(**kernel, i % 2 == 0 ? add : remove);
        const auto done = log.wait_after(t0, t0 + timeout_us);
        if (!done) {
            ++missed;
            continue;
        }
        total.push_back(done->done_us - t0);
        internal.push_back(done->done_us - done->rx_us);
        messages.push_back(done->messages);
    }
    apply_or_throw(**kernel, remove);
    print_summary("event_to_done_us", total);
    print_summary("agent_internal_us", internal);
    print_summary("messages_per_batch", messages);
    std::printf("missed=%lld events=%lld\n", missed, count);
    return total.empty() ? 1 : 0;
}

}  // namespace clat::test
