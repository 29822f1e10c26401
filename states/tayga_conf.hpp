#pragma once
/// The tayga.conf that makes TAYGA the CLAT's stateless translator (SPEC §9).

#include <string>
#include <vector>

#include "states/ip.hpp"
#include "states/result.hpp"

namespace clat {

struct TaygaSettings {
    std::string tun_device;
    Ipv4Address tayga_v4;  ///< TAYGA's own IPv4 address (tayga-v4-addr)
    Ipv6Prefix plat_prefix;
    Ipv4Address clat_v4;
    Ipv6Address clat_v6;
    std::vector<std::string> extra_lines;  ///< tayga-extra, appended verbatim
    bool operator==(const TaygaSettings&) const = default;
};

/// Renders the configuration file. Errors when an extra line would break the file format
/// (embedded newline or NUL) or the prefix length is not one TAYGA accepts (RFC 6052).
Result<std::string> render_tayga_conf(const TaygaSettings& settings);

}  // namespace clat
