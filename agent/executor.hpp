#pragma once
/// The executor: applies plans to the host through a KernelPort, journalling the inverse of
/// every change before making it (SPEC §7), so that teardown, a failed provisioning step and
/// a restart after a crash all return the host to how it was.

#include <vector>

#include "agent/undo_journal.hpp"
#include "ports/host_journal.hpp"
#include "ports/kernel.hpp"
#include "states/operation.hpp"
#include "states/result.hpp"

namespace clat {

/// Applies plans all-or-nothing and undoes them. Uses (does not own) the kernel port; owns
/// the journal. Single-threaded, synchronous.
///
/// How each operation is undone:
/// - adds, removes and CreateTun: their static_inverse();
/// - SetSysctl: the value read just before writing, restored only if the sysctl still holds
///   the value written (if_current), so a later change by someone else is left alone;
/// - RemoveForeignRouteV4: RestoreRoute with the route's whole netlink message, saved from the
///   kernel just before the delete (KernelPort::save_route);
/// - SetLinkUp, SetLinkMtu: nothing is journalled. The planner emits them only for the
///   agent's own tun device, which the journalled DeleteLink removes with all its state;
/// - DeleteLink: nothing (a link cannot be re-created from its name); the planner deletes only
///   links it created.
/// A change that turns out to be in place already (kAlreadyInPlace) pre-existed and is never
/// undone; neither is a change the kernel refused.
class Executor final : public HostJournalPort {
  public:
    Executor(KernelPort& kernel, UndoJournal journal);

    /// Applies plan in order. If an operation fails, everything this call changed is rolled
    /// back (newest first) and the operation's error is returned.
    Status apply(const Plan& plan);
    /// Teardown: reverts everything still journalled, newest first, best effort; returns the
    /// first error. Afterwards the journal file is gone unless some undo failed.
    Status undo_all();
    /// Start-up: reverts what a crashed instance left in the journal (as undo_all()). Call
    /// before the first apply().
    Status recover();

    /// Marks what is applied now, so that later changes can be reverted on their own (e.g. an
    /// address that failed DAD).
    UndoJournal::Savepoint savepoint() const { return journal_.savepoint(); }
    /// Reverts, newest first and best effort, what was applied after sp; first error.
    Status rollback_to(UndoJournal::Savepoint sp) { return journal_.rollback_to(sp, kernel_); }

    /// HostJournalPort: a change an adapter makes outside any plan is journalled like the
    /// plans' changes, reverted by undo_all() and recover(), never by a plan's rollback.
    Result<std::uint64_t> record(const Operation& undo) override {
        return journal_.record_outside_plans(undo);
    }
    Status forget(std::uint64_t seq) override { return journal_.cancel(seq); }

    /// The changes currently applied and not yet undone: their pending undo entries.
    const std::vector<UndoEntry>& applied() const { return journal_.pending(); }
    const UndoJournal& journal() const { return journal_; }
    /// The operations of the last successful apply() that were in place already (nothing
    /// changed, nothing journalled).
    const Plan& in_place() const { return in_place_; }

  private:
    Status apply_one(const Operation& op);

    KernelPort& kernel_;
    UndoJournal journal_;
    Plan in_place_;
};

}  // namespace clat
