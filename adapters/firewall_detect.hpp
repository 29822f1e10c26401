#pragma once
/// Which firewall tool holds clatd's accept rules (SPEC §6).

#include <optional>

#include "config/config.hpp"
#include "states/operation.hpp"

namespace clat {

/// ip6tables-enable=yes asks for ip6tables explicitly; otherwise nftables when its tool is
/// there (it also sees iptables-nft's chains), and ip6tables when only that is (auto);
/// ip6tables-enable=no with no nft: none.
std::optional<op::FirewallBackend> detect_firewall_backend(const Config& config);

}  // namespace clat
