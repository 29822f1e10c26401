#include "agent/control_plane.hpp"

#include <chrono>
#include <utility>

namespace clat {

std::string counts_text(const std::vector<std::pair<std::string, std::uint64_t>>& counts) {
    std::string out;
    for (const auto& [name, n] : counts) {
        if (n > 0)
            out += (out.empty() ? "" : " ") + name + "=" + std::to_string(n);
    }
    return out;
}

dbus::Counters to_dbus_counters(const DeviceCounters& device,
                                const std::optional<DataPathCounters>& fast) {
    dbus::Counters c;
    c.rx_packets = device.rx_packets;
    c.tx_packets = device.tx_packets;
    c.rx_bytes = device.rx_bytes;
    c.tx_bytes = device.tx_bytes;
    if (fast) {
        c.fast_egress_packets = fast->egress_packets;
        c.fast_egress_bytes = fast->egress_bytes;
        c.fast_ingress_packets = fast->ingress_packets;
        c.fast_ingress_bytes = fast->ingress_bytes;
        c.fast_slow_path = counts_text(fast->slow_path);
        c.fast_dropped = counts_text(fast->dropped);
    }
    return c;
}

dbus::AgentStatus to_dbus_status(const AgentView& view, const Config& config,
                                 std::int64_t now_monotonic_ms, std::int64_t now_unix_ms) {
    dbus::AgentStatus s;
    s.state = view.machine.state;
    s.reason = view.machine.reason;
    if (view.machine.plat) {
        s.plat_prefix = view.machine.plat->prefix.to_string();
        s.plat_source = std::string(to_string(view.machine.plat->source));
        if (view.machine.plat->expires_at_ms) {
            // In ms, rounded once at the end: truncating both the time now and the time left
            // made the expiry up to 2 s early and jitter between publications.
            const auto left_ms = *view.machine.plat->expires_at_ms - now_monotonic_ms;
            s.plat_expiry = static_cast<std::uint64_t>(
                std::max<std::int64_t>(0, (now_unix_ms + left_ms + 500) / 1000));
        }
    }
    s.plat_dev = view.machine.binding ? view.machine.binding->plat_dev : std::string();
    s.clat_dev = config.clat_dev;
    s.clat_v4 = config.clat_v4_addr.to_string();
    s.clat_v6 = view.machine.binding ? view.machine.binding->clat_v6.to_string() : std::string();
    s.translator_pid = static_cast<std::uint32_t>(view.data_path.process_id.value_or(0));
    s.translator_restarts = static_cast<std::uint32_t>(view.machine.translator_restarts);
    s.data_path = view.data_path.backend;
    s.data_path_reason = view.data_path.reason;
    for (const op::FirewallBackend backend : view.firewall)
        s.firewall += (s.firewall.empty() ? "" : ",") + std::string(op::to_string(backend));
    s.last_transition = static_cast<std::uint64_t>(view.last_transition_unix_us);
    s.last_error = view.last_error;
    return s;
}

ControlPlane::ControlPlane(boost::asio::io_context& io, const Config& config,
                           CounterReader counters, FastCounterReader fast)
    : config_(config),
      counters_(std::move(counters)),
      fast_(std::move(fast)),
      service_(io, *this, config.dbus_admin_group, [this] {
          return to_dbus_counters(counters_(config_.clat_dev),
                                  fast_ ? fast_() : std::optional<DataPathCounters>());
      }) {}

void ControlPlane::attach(std::function<Status()> reload, std::function<void()> rediscover) {
    reload_ = std::move(reload);
    rediscover_ = std::move(rediscover);
}

void ControlPlane::start() {
    publish(view_);
    service_.start();
}

void ControlPlane::stop() {
    service_.stop();
}

Status ControlPlane::reload() {
    if (!reload_)
        return make_error("the agent is not ready");
    return reload_();
}

void ControlPlane::rediscover() {
    if (rediscover_)
        rediscover_();
}

void ControlPlane::reconfigure(const Config& config) {
    config_ = config;
    service_.set_admin_group(config_.dbus_admin_group);
    publish(view_);  // ClatDevice and ClatIPv4Address come from the configuration
}

void ControlPlane::publish(const AgentView& view) {
    view_ = view;
    const auto now_unix = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    const auto now_mono = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count();
    service_.publish(to_dbus_status(view, config_, now_mono, now_unix));
}

}  // namespace clat
