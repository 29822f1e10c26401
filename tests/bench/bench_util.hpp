#pragma once
/// Helpers shared by the subcommands of clat_bench (scripts/bench): the steady clock in µs
/// (the clock clatd stamps its "reconcile done" lines with), option parsing, percentiles,
/// and a raw rtnetlink socket for requests sent without waiting for acknowledgements.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

struct nlmsghdr;

namespace clat::test {

/// CLOCK_MONOTONIC in µs: std::chrono::steady_clock on Linux, as clatd uses.
std::int64_t steady_us();

/// `--key value` options after the subcommand; a bare `--flag` maps to "1".
class Options {
  public:
    Options(int argc, char** argv);
    std::string text(const std::string& key, const std::string& fallback = "") const;
    long long number(const std::string& key, long long fallback) const;
    bool has(const std::string& key) const { return values_.contains(key); }

  private:
    std::map<std::string, std::string> values_;
};

/// Nearest-rank percentile (p in 0..100) of samples; 0 for none.
std::int64_t percentile(std::vector<std::int64_t> samples, double p);

/// Prints `name median=… p99=… min=… max=… n=…` (µs) to stdout.
void print_summary(const std::string& name, const std::vector<std::int64_t>& samples);

/// A NETLINK_ROUTE socket without libnl: batched requests, raw reads, optional groups.
class RawNetlink {
  public:
    /// groups: RTMGRP_* bit mask to subscribe to (0 for none). Throws on failure.
    explicit RawNetlink(std::uint32_t groups = 0, int receive_buffer = 4 << 20);
    ~RawNetlink();
    RawNetlink(const RawNetlink&) = delete;
    RawNetlink& operator=(const RawNetlink&) = delete;

    int fd() const { return fd_; }
    /// Sends buffer (one or more whole messages) in one datagram. Throws on failure.
    void send(const std::vector<std::uint8_t>& buffer);
    /// Reads one datagram (waiting up to timeout_ms, -1 for ever) and calls visit for each
    /// message in it. False when nothing arrived in time.
    template <typename Visit>
    bool receive(int timeout_ms, Visit&& visit);
    /// Drains the queue without waiting; returns the number of NLMSG_ERROR messages with a
    /// non-zero error in it (requests sent without NLM_F_ACK are answered only on failure).
    int drain_errors();

  private:
    bool read_datagram(int timeout_ms);
    std::vector<const nlmsghdr*> messages() const;

    int fd_ = -1;
    std::vector<std::uint8_t> buffer_;
    std::size_t length_ = 0;
};

template <typename Visit>
bool RawNetlink::receive(int timeout_ms, Visit&& visit) {
    if (!read_datagram(timeout_ms))
        return false;
    for (const nlmsghdr* message : messages())
        visit(message);
    return true;
}

/// Appends one netlink message (header + fixed part + attributes added later) to buffer;
/// returns the offset of its header. add_attribute appends to the message at that offset.
std::size_t begin_message(std::vector<std::uint8_t>& buffer, std::uint16_t type,
                          std::uint16_t flags, const void* fixed, std::size_t fixed_size);
void add_attribute(std::vector<std::uint8_t>& buffer, std::size_t message, std::uint16_t type,
                   const void* data, std::size_t size);

/// Subcommands (each returns the process exit code).
int run_events(const Options& options);
int run_probe(const Options& options);
int run_storm(const Options& options);

}  // namespace clat::test
