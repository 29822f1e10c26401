#include "states/tayga_conf.hpp"

#include "states/rfc6052.hpp"

namespace clat {

Result<std::string> render_tayga_conf(const TaygaSettings& s) {
    if (!is_rfc6052_length(s.plat_prefix.length)) {
        return make_error("tayga: prefix " + s.plat_prefix.to_string() +
                          " is not an RFC 6052 length");
    }
    if (s.tun_device.empty())
        return make_error("tayga: no tun device name");
    std::string out;
    out += "# Written by clatd; regenerated on every translator start.\n";
    out += "tun-device " + s.tun_device + "\n";
    out += "ipv4-addr " + s.tayga_v4.to_string() + "\n";
    out += "prefix " + s.plat_prefix.to_string() + "\n";
    // The CLAT's one explicit mapping (RFC 6877 §6.3): the host's IPv4 address <-> the CLAT
    // IPv6 address; everything else is algorithmic under the prefix.
    out += "map " + s.clat_v4.to_string() + " " + s.clat_v6.to_string() + "\n";
    for (const auto& line : s.extra_lines) {
        if (line.find_first_of(std::string("\n\r\0", 3)) != std::string::npos) {
            return make_error("tayga-extra: a line may not contain a newline");
        }
        out += line + "\n";
    }
    return out;
}

}  // namespace clat
