#pragma once
/// Prometheus metrics for node_exporter's textfile collector (SPEC §10, `metrics-file`): a
/// plain snapshot of the agent, its rendering in the text exposition format (version 0.0.4),
/// and a writer that replaces the file atomically so that a scrape never reads half of it.
/// clatd opens no socket for this: the collector reads the file.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "states/result.hpp"

#include "ports/data_path.hpp"

namespace clat::metrics {

/// The leaf states, in the order their gauges are written (states/machine.hpp state_name()).
inline constexpr std::array<std::string_view, 8> kStateNames{
    "Idle", "ProbeV4", "DiscoverPLAT", "Provision", "Running", "Failed", "Teardown", "Stopped"};

/// What the metrics show: plain values the agent fills in from its status view.
struct Snapshot {
    /// One of kStateNames; any other text sets every state gauge to 0.
    std::string state;
    /// The PLAT prefix in use ("2001:db8:64::/96") and where it came from ("config",
    /// "pref64", "dns64", "fallback"); no prefix: no clatd_plat_info sample.
    std::optional<std::string> plat_prefix;
    std::string plat_source;
    /// When the prefix lapses unless refreshed, in milliseconds since the Unix epoch (wall
    /// clock); unset (a configured prefix, or none): no expiry sample.
    std::optional<std::int64_t> plat_expiry_unix_ms;
    /// The CLAT in use: its device, IPv4 and IPv6 addresses and the PLAT-facing device; no
    /// IPv6 address (nothing provisioned): no clatd_clat_info sample.
    std::string clat_device;
    std::string clat_ipv4;
    std::optional<std::string> clat_ipv6;
    std::string plat_device;
    std::uint64_t translator_restarts = 0;
    /// The data path carrying the translated packets ("tayga").
    std::string data_path = "tayga";
    /// Counters of the CLAT device. in: translated from IPv6 and delivered to the host (the
    /// device's RX); out: sent by the host towards the PLAT (its TX).
    std::uint64_t packets_in = 0;
    std::uint64_t packets_out = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    /// The eBPF fast path's counters (data path bpf); unset: no fast-path samples.
    std::optional<DataPathCounters> fast;
    /// The last state transition, in microseconds since the Unix epoch; 0: none yet (no
    /// sample).
    std::int64_t last_transition_unix_us = 0;
};

/// A label value escaped as the text format wants it: backslash, double quote and line feed
/// become \\, \" and \n.
std::string escape_label_value(std::string_view value);

/// The whole exposition: HELP and TYPE lines and the samples of every metric, ending in a line
/// feed. Deterministic: the same snapshot always gives the same text.
std::string render(const Snapshot& snapshot);

/// Replaces the file at path with text: writes a new file in the same directory (created with
/// O_EXCL|O_NOFOLLOW under a name the collector ignores, mode 0644 whatever the umask, so that
/// an unprivileged collector can read it) and renames it over path. On error the old file is
/// left as it was and the temporary file is removed; the message names the path and the cause.
Status write_file(const std::string& path, std::string_view text);

/// Removes the file at path (on stop); a file that is not there is not an error.
Status remove_file(const std::string& path);

}  // namespace clat::metrics
