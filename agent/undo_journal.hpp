#pragma once
/// The undo journal: an append-only, write-ahead record of how to revert every change the
/// agent made to the host, kept in a file under /run (tmpfs: gone after a reboot, as are the
/// changes). One file per instance, `<directory>/<name>.journal`. Each line is
///
///     undo <seq> <operation text>     the operation that reverts a change about to be made
///     cancel <seq>                    that change is not ours to revert (already in place,
///                                     failed, or already reverted)
///
/// A record is written and fdatasync'ed before the change is made, so after a crash at any
/// point the journal names every change that may have happened; replaying an undo that was not
/// needed is harmless because kernel operations are idempotent. Loading tolerates a torn last
/// line (the crash hit mid-write, so its change was never made) and skips corrupt lines,
/// reporting each as `file:line: reason`.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ports/kernel.hpp"
#include "states/operation.hpp"
#include "states/result.hpp"

namespace clat {

/// Where journals live unless configured otherwise.
inline constexpr std::string_view kDefaultJournalDirectory = "/run/clatd";
/// The daemon's journal name: one instance per runtime directory (adapters/instance_lock), so
/// the file is `<directory>/clatd.journal`, whatever clat-dev is or becomes.
inline constexpr const char* kJournalName = "clatd";

/// A change that has been (or may have been) made and is not yet reverted.
struct UndoEntry {
    std::uint64_t seq = 0;
    Operation undo;  ///< what reverts the change
    bool operator==(const UndoEntry&) const = default;
};

/// The journal of one agent instance. Owns its file descriptor; movable, not copyable.
/// Errors name the file and the system's reason; nothing throws.
class UndoJournal {
  public:
    /// Entries recorded after a savepoint are those rollback_to() reverts.
    struct Savepoint {
        std::uint64_t first_seq = 0;
    };

    /// Opens the journal `<directory>/<name>.journal` and loads whatever a previous instance
    /// left there (pending()). The directory (mode 0700) and the file are created on the first
    /// record. Fails if name is not a plain file name or the file cannot be read.
    static Result<UndoJournal> open(std::string directory, const std::string& name);

    UndoJournal(UndoJournal&& other) noexcept;
    UndoJournal& operator=(UndoJournal&& other) noexcept;
    UndoJournal(const UndoJournal&) = delete;
    UndoJournal& operator=(const UndoJournal&) = delete;
    ~UndoJournal();

    /// Durably appends `undo <seq> <text>`; call before making the change. Returns the seq.
    Result<std::uint64_t> record(const Operation& undo);
    /// As record(), for a change made outside any plan (HostJournalPort): rollback_to() a
    /// savepoint leaves it alone; only replay_all() reverts it.
    Result<std::uint64_t> record_outside_plans(const Operation& undo);
    /// Durably appends `cancel <seq>` and drops the entry from pending() (also when the
    /// write fails). Removes the file when nothing is left pending.
    Status cancel(std::uint64_t seq);

    /// Marks the current end of the journal.
    Savepoint savepoint() const { return Savepoint{next_seq_}; }
    /// Reverts, newest first, every pending entry recorded after sp (see replay_all()) except
    /// those recorded outside plans, unless sp is the journal's start.
    Status rollback_to(Savepoint sp, KernelPort& kernel);
    /// Reverts every pending entry, newest first, best effort: an entry whose undo fails stays
    /// pending and the replay goes on; returns the first error. Each entry reverted is
    /// cancelled at once, so a crash mid-replay resumes where it stopped. When nothing is left
    /// pending the file is removed.
    Status replay_all(KernelPort& kernel) { return rollback_to(Savepoint{0}, kernel); }

    /// Entries not yet reverted or cancelled, oldest first.
    const std::vector<UndoEntry>& pending() const { return pending_; }
    /// What loading found wrong (`file:line: reason`); the lines named were skipped.
    const std::vector<std::string>& load_problems() const { return load_problems_; }
    const std::string& path() const { return path_; }

  private:
    UndoJournal(std::string directory, std::string path);
    Status load();
    void load_line(std::string_view line, std::size_t number);
    Status append(const std::string& line);
    Status ensure_open();
    void remove_if_idle();
    void close_file();

    std::string directory_;
    std::string path_;
    int fd_ = -1;
    std::uint64_t next_seq_ = 1;
    std::vector<UndoEntry> pending_;
    std::vector<std::uint64_t> outside_plans_;  ///< seqs of record_outside_plans()
    std::vector<std::string> load_problems_;
};

}  // namespace clat
