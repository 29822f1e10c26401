#pragma once
/// clat-v6-addr=shared: the nftables table that marks CLAT flows (op::SharedMarking), made and
/// removed with the nft tool. The table is clatd's own (its name carries the instance's mark),
/// so it is created whole and deleted whole in one nft transaction each; nothing else in the
/// ruleset is read or touched.

#include <string>

#include "ports/kernel.hpp"
#include "states/operation.hpp"
#include "states/result.hpp"

namespace clat::nft_shared {

/// The nft script that (re)creates the table: an empty table is declared and deleted first so
/// that one left by this same instance is replaced, not added to. Errors: a device name nft
/// could not read back as a quoted string.
Result<std::string> add_script(const op::SharedMarking& marking);

/// Creates the table (kApplied: it is this instance's by its name).
Result<ApplyOutcome> add(const op::SharedMarking& marking);
/// Deletes the table; kAlreadyInPlace when it is gone already.
Result<ApplyOutcome> remove(const op::SharedMarking& marking);

}  // namespace clat::nft_shared
