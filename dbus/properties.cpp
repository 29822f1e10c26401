#include "dbus/properties.hpp"

#include <algorithm>
#include <array>

namespace clat::dbus {

namespace {

using K = PropertyKind;

constexpr std::array kProperties = {
    PropertySpec{"State", "state", "State", 's', true, K::kPlain,
                 [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.state; }},
    PropertySpec{"Reason", "reason", "Reason", 's', true, K::kPlain,
                 [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.reason; }},
    PropertySpec{
        "PlatPrefix", "plat_prefix", "PLAT prefix", 's', true, K::kPlain,
        [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.plat_prefix; }},
    PropertySpec{
        "PlatSource", "plat_source", "PLAT source", 's', true, K::kPlain,
        [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.plat_source; }},
    PropertySpec{
        "PlatExpiry", "plat_expiry", "PLAT expiry", 't', true, K::kUnixSeconds,
        [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.plat_expiry; }},
    PropertySpec{"PlatDevice", "plat_dev", "PLAT device", 's', true, K::kPlain,
                 [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.plat_dev; }},
    PropertySpec{"ClatDevice", "clat_dev", "CLAT device", 's', true, K::kPlain,
                 [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.clat_dev; }},
    PropertySpec{"ClatIPv4Address", "clat_v4", "CLAT IPv4", 's', true, K::kPlain,
                 [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.clat_v4; }},
    PropertySpec{"ClatIPv6Address", "clat_v6", "CLAT IPv6", 's', true, K::kPlain,
                 [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.clat_v6; }},
    PropertySpec{
        "TranslatorPid", "translator_pid", "Translator PID", 'u', true, K::kPlain,
        [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.translator_pid; }},
    PropertySpec{"TranslatorRestarts", "translator_restarts", "Translator restarts", 'u', true,
                 K::kPlain,
                 [](const AgentStatus& s, const Counters&) -> PropertyValue {
                     return s.translator_restarts;
                 }},
    PropertySpec{
        "DataPath", "data_path", "Data path", 's', true, K::kPlain,
        [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.data_path; }},
    PropertySpec{
        "DataPathReason", "data_path_reason", "Data path reason", 's', true, K::kPlain,
        [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.data_path_reason; }},
    PropertySpec{"FirewallBackends", "firewall", "Firewall rules in", 's', true, K::kPlain,
                 [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.firewall; }},
    PropertySpec{
        "LastTransition", "last_transition", "Last transition", 't', true, K::kUnixMicroseconds,
        [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.last_transition; }},
    PropertySpec{
        "LastError", "last_error", "Last error", 's', true, K::kPlain,
        [](const AgentStatus& s, const Counters&) -> PropertyValue { return s.last_error; }},
    PropertySpec{
        "RxPackets", "rx_packets", "RX packets", 't', false, K::kPlain,
        [](const AgentStatus&, const Counters& c) -> PropertyValue { return c.rx_packets; }},
    PropertySpec{
        "TxPackets", "tx_packets", "TX packets", 't', false, K::kPlain,
        [](const AgentStatus&, const Counters& c) -> PropertyValue { return c.tx_packets; }},
    PropertySpec{"RxBytes", "rx_bytes", "RX bytes", 't', false, K::kPlain,
                 [](const AgentStatus&, const Counters& c) -> PropertyValue { return c.rx_bytes; }},
    PropertySpec{"TxBytes", "tx_bytes", "TX bytes", 't', false, K::kPlain,
                 [](const AgentStatus&, const Counters& c) -> PropertyValue { return c.tx_bytes; }},
    PropertySpec{"FastEgressPackets", "fast_egress_packets", "eBPF out packets", 't', false,
                 K::kPlain,
                 [](const AgentStatus&,
                    const Counters& c) -> PropertyValue { return c.fast_egress_packets; }},
    PropertySpec{
        "FastEgressBytes", "fast_egress_bytes", "eBPF out bytes", 't', false, K::kPlain,
        [](const AgentStatus&, const Counters& c) -> PropertyValue { return c.fast_egress_bytes; }},
    PropertySpec{"FastIngressPackets", "fast_ingress_packets", "eBPF in packets", 't', false,
                 K::kPlain,
                 [](const AgentStatus&,
                    const Counters& c) -> PropertyValue { return c.fast_ingress_packets; }},
    PropertySpec{"FastIngressBytes", "fast_ingress_bytes", "eBPF in bytes", 't', false, K::kPlain,
                 [](const AgentStatus&, const Counters& c) -> PropertyValue {
                     return c.fast_ingress_bytes;
                 }},
    PropertySpec{
        "FastSlowPath", "fast_slow_path", "eBPF left to TAYGA", 's', false, K::kPlain,
        [](const AgentStatus&, const Counters& c) -> PropertyValue { return c.fast_slow_path; }},
    PropertySpec{
        "FastDropped", "fast_dropped", "eBPF drops", 's', false, K::kPlain,
        [](const AgentStatus&, const Counters& c) -> PropertyValue { return c.fast_dropped; }},
};

}  // namespace

std::span<const PropertySpec> properties() {
    return kProperties;
}

const PropertySpec* find_property(std::string_view dbus_name) {
    const auto* it = std::find_if(kProperties.begin(), kProperties.end(),
                                  [&](const PropertySpec& p) { return p.dbus_name == dbus_name; });
    return it == kProperties.end() ? nullptr : &*it;
}

std::vector<std::string> changed_properties(const AgentStatus& before, const AgentStatus& after) {
    const Counters none;
    std::vector<std::string> changed;
    for (const auto& p : kProperties) {
        if (p.emits_change && p.get(before, none) != p.get(after, none))
            changed.emplace_back(p.dbus_name);
    }
    return changed;
}

}  // namespace clat::dbus
