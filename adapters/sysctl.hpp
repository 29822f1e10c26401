#pragma once
/// Sysctls through /proc/sys. Paths are relative to /proc/sys with slashes
/// ("net/ipv6/conf/all/forwarding") and are checked: no absolute path, no "..", no empty
/// component. Values compare with surrounding whitespace trimmed and inner runs of
/// whitespace collapsed (multi-field sysctls print tabs).

#include <string>

#include "ports/kernel.hpp"
#include "states/operation.hpp"
#include "states/result.hpp"

namespace clat::sysctl {

/// An error naming what is wrong with path, or Ok.
Status validate_path(const std::string& path);

/// The sysctl's current value, trimmed.
Result<std::string> read(const std::string& path);

/// Writes value. Already holding value (or, with if_current, holding anything other than
/// if_current: someone else changed it since) is kAlreadyInPlace and writes nothing.
Result<ApplyOutcome> apply(const op::SetSysctl& o);

}  // namespace clat::sysctl
