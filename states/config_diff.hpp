#pragma once
/// What a reload changed, by the consumer that must act on it (SPEC §3 Reload): each part of
/// the agent reads its own group, so a reload applies only the difference.

#include <string>

#include "config/config.hpp"

namespace clat {

struct ConfigDiff {
    bool logging = false;    ///< quiet, debug
    bool discovery = false;  ///< dns64-servers, plat-prefix, plat-fallback-prefix, pref64-enable
    bool clat = false;       ///< what the desired kernel state and the binding are made of
    /// clat-dev: every object lives on the device, so the CLAT is torn down and made anew.
    bool device = false;
    bool data_path = false;    ///< data-path, cmd-tayga, tayga-conffile, tayga-v4-addr, tayga-extra
    bool probe_v4 = false;     ///< v4-conncheck-enable, v4-conncheck-delay
    bool scripts = false;      ///< script-up, script-down, script-timeout
    bool supervision = false;  ///< tayga-restart-delay
    bool bus = false;          ///< dbus-admin-group
    bool proxy_poll = false;   ///< proxynd-enable (the agent polls proxy entries)
    bool metrics = false;      ///< metrics-file, metrics-interval
    bool other = false;        ///< any key none of the groups above knows

    bool any() const {
        return logging || discovery || clat || device || data_path || probe_v4 || scripts ||
               supervision || bus || proxy_poll || metrics || other;
    }
    /// "discovery,clat" or "none".
    std::string to_string() const;
    bool operator==(const ConfigDiff&) const = default;
};

/// The groups in which `after` differs from `before`.
ConfigDiff diff_config(const Config& before, const Config& after);

}  // namespace clat
