#pragma once
/// Persistent TUN devices: created here, attached to later by the translator (TAYGA opens
/// the same name). Deleted through rtnetlink like any link (op::DeleteLink).

#include <string>

#include "ports/kernel.hpp"
#include "states/result.hpp"

namespace clat::tun {

/// Creates dev as a persistent TUN device without packet information (IFF_TUN |
/// IFF_NO_PI). A TUN device of that name already there is kAlreadyInPlace; another kind of
/// link of that name, or a missing /dev/net/tun, is an error.
Result<ApplyOutcome> create_persistent(const std::string& dev);

}  // namespace clat::tun
