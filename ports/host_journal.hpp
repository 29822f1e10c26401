#pragma once
/// The agent's undo journal as an adapter sees it, for host changes that an adapter makes on
/// its own, outside any plan: the eBPF data path's clsact qdiscs and tc filters (SPEC §7).
/// Each change is recorded, durably, before it is made, and forgotten once it is reverted, so
/// that teardown and a restart after a crash remove it like any planned change. A plan's
/// rollback (a failed plan, a DAD probe) never reverts these entries; undoing everything does.

#include <cstdint>

#include "states/operation.hpp"
#include "states/result.hpp"

namespace clat {

class HostJournalPort {
  public:
    virtual ~HostJournalPort() = default;
    /// Durably records `undo`, the operation that reverts a change about to be made; returns
    /// its number. When this fails, the change must not be made.
    virtual Result<std::uint64_t> record(const Operation& undo) = 0;
    /// The change numbered seq was reverted, turned out to be in place already, or was never
    /// made: it is not to be undone.
    virtual Status forget(std::uint64_t seq) = 0;
};

}  // namespace clat
