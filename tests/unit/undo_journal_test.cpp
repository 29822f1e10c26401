#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/undo_journal.hpp"

namespace clat::test {
namespace {

namespace fs = std::filesystem;

/// A fresh directory under /tmp, removed with its contents at the end of the test.
class TempDir {
  public:
    TempDir() {
        std::string templ = (fs::temp_directory_path() / "clat-journal-XXXXXX").string();
        REQUIRE(::mkdtemp(templ.data()) != nullptr);
        path_ = templ;
    }
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

/// Records what it is asked to apply; fails the operations named in fail.
class RecordingKernel : public KernelPort {
  public:
    Result<ApplyOutcome> apply(const Operation& op) override {
        auto text = to_string(op);
        applied.push_back(text);
        if (fail.count(text) != 0)
            return make_error("refused: " + text);
        return ApplyOutcome::kApplied;
    }
    Result<std::string> read_sysctl(const std::string& path) override {
        return make_error("no sysctl " + path);
    }
    Result<std::vector<std::uint8_t>> save_route(const op::RemoveForeignRouteV4&) override {
        return make_error("a journal replays undo entries and saves no routes");
    }
    std::vector<std::string> applied;
    std::set<std::string> fail;
};

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void append_text(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::app) << text;
}

Operation route_removal(const char* dev) {
    RouteV4 r;
    r.destination = *Ipv4Prefix::parse("0.0.0.0/0");
    r.metric = 2048;
    r.protocol = kRouteProtocol;
    return op::RemoveRouteV4{dev, r};
}

UndoJournal open_journal(const fs::path& dir, const std::string& name = "clat") {
    auto journal = UndoJournal::open(dir.string(), name);
    REQUIRE_MESSAGE(journal.ok(), journal.error().message);
    return std::move(journal).value();
}

const Operation kDeleteTun = op::DeleteLink{"clat"};
const Operation kRemoveAddr = op::RemoveAddressV4{"clat", *Ipv4Address::parse("192.0.0.1"), 32};
const Operation kRestoreSysctl = op::SetSysctl{"net/ipv6/conf/all/forwarding", "0", "1"};

TEST_CASE("records are written ahead as undo/cancel lines in a 0700 directory") {
    TempDir tmp;
    const auto dir = tmp.path() / "run" / "clatd";
    auto journal = open_journal(dir);
    CHECK(journal.path() == (dir / "clat.journal").string());
    CHECK_FALSE(fs::exists(journal.path()));  // nothing recorded, nothing created
    CHECK(journal.record(kDeleteTun).value() == 1);
    CHECK(journal.record(kRemoveAddr).value() == 2);
    REQUIRE(journal.cancel(2).ok());
    CHECK(journal.record(kRestoreSysctl).value() == 3);
    CHECK(read_text(journal.path()) ==
          "undo 1 delete-link dev=clat\n"
          "undo 2 remove-address-v4 dev=clat addr=192.0.0.1/32\n"
          "cancel 2\n"
          "undo 3 set-sysctl path=net/ipv6/conf/all/forwarding value=0 if-current=1\n");
    CHECK(journal.pending() ==
          std::vector<UndoEntry>{UndoEntry{1, kDeleteTun}, UndoEntry{3, kRestoreSysctl}});
    struct stat st {};
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(::stat(journal.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK_FALSE(journal.cancel(2).ok());  // already cancelled
}

TEST_CASE("a journal left behind loads as its pending entries, in order") {
    TempDir tmp;
    {
        auto first = open_journal(tmp.path());
        REQUIRE(first.record(kDeleteTun).ok());
        REQUIRE(first.record(kRemoveAddr).ok());
        REQUIRE(first.record(kRestoreSysctl).ok());
        REQUIRE(first.cancel(2).ok());
    }  // the instance dies without replaying
    auto second = open_journal(tmp.path());
    CHECK(second.load_problems().empty());
    CHECK(second.pending() ==
          std::vector<UndoEntry>{UndoEntry{1, kDeleteTun}, UndoEntry{3, kRestoreSysctl}});
    CHECK(second.record(kRemoveAddr).value() == 4);  // sequence numbers never repeat
    // Another instance (another clat device) has its own file.
    auto other = open_journal(tmp.path(), "clat1");
    CHECK(other.pending().empty());
}

TEST_CASE("a torn last line is ignored and cut off before the next record") {
    TempDir tmp;
    const auto file = tmp.path() / "clat.journal";
    append_text(file, "undo 1 delete-link dev=clat\nundo 2 remove-address-v4 dev=cl");
    auto journal = open_journal(tmp.path());
    CHECK(journal.pending() == std::vector<UndoEntry>{UndoEntry{1, kDeleteTun}});
    REQUIRE(journal.load_problems().size() == 1);
    CHECK(journal.load_problems()[0] == file.string() + ":2: incomplete last record ignored");
    CHECK(journal.record(kRestoreSysctl).value() == 2);
    CHECK(read_text(file) ==
          "undo 1 delete-link dev=clat\n"
          "undo 2 set-sysctl path=net/ipv6/conf/all/forwarding value=0 if-current=1\n");
    auto reloaded = open_journal(tmp.path());
    CHECK(reloaded.load_problems().empty());
    CHECK(reloaded.pending() == journal.pending());
}

TEST_CASE("corrupt lines are reported with file:line and skipped") {
    TempDir tmp;
    const auto file = tmp.path() / "clat.journal";
    append_text(file,
                "undo 1 delete-link dev=clat\n"
                "garbage\n"
                "undo x delete-link dev=clat\n"
                "undo 2 remove-route-v4 dev=clat dst=banana metric=0 table=254 proto=0\n"
                "cancel 9\n"
                "\n"
                "undo 1 delete-link dev=again\n"
                "undo 5 remove-address-v4 dev=clat addr=192.0.0.1/32\n");
    auto journal = open_journal(tmp.path());
    CHECK(journal.pending() ==
          std::vector<UndoEntry>{UndoEntry{1, kDeleteTun}, UndoEntry{5, kRemoveAddr}});
    const auto& problems = journal.load_problems();
    REQUIRE(problems.size() == 6);
    const auto at = [&](int line) { return file.string() + ":" + std::to_string(line) + ": "; };
    CHECK(problems[0] == at(2) + "not an undo or cancel record: 'garbage'");
    CHECK(problems[1] == at(3) + "bad sequence number: 'undo x delete-link dev=clat'");
    CHECK(problems[2] == at(4) + "remove-route-v4: field 'dst' has an invalid value 'banana'");
    CHECK(problems[3] == at(5) + "cancel of no pending record: 'cancel 9'");
    CHECK(problems[4] == at(6) + "not an undo or cancel record: ''");
    CHECK(problems[5] == at(7) + "sequence number 1 out of order");
    CHECK(journal.record(kRestoreSysctl).value() == 6);
}

TEST_CASE("rollback_to reverts, newest first, only what came after the savepoint") {
    TempDir tmp;
    RecordingKernel kernel;
    auto journal = open_journal(tmp.path());
    REQUIRE(journal.record(kDeleteTun).ok());
    const auto savepoint = journal.savepoint();
    REQUIRE(journal.record(kRemoveAddr).ok());
    REQUIRE(journal.record(route_removal("clat")).ok());
    REQUIRE(journal.record(kRestoreSysctl).ok());
    REQUIRE(journal.cancel(4).ok());
    REQUIRE(journal.rollback_to(savepoint, kernel).ok());
    CHECK(kernel.applied ==
          std::vector<std::string>{to_string(route_removal("clat")), to_string(kRemoveAddr)});
    CHECK(journal.pending() == std::vector<UndoEntry>{UndoEntry{1, kDeleteTun}});
    auto reloaded = open_journal(tmp.path());
    CHECK(reloaded.pending() == journal.pending());
    // Nothing after the savepoint is left: a second rollback does nothing.
    REQUIRE(journal.rollback_to(savepoint, kernel).ok());
    CHECK(kernel.applied.size() == 2);
}

TEST_CASE("replay_all keeps going after an error, returns the first, keeps what failed") {
    TempDir tmp;
    RecordingKernel kernel;
    auto journal = open_journal(tmp.path());
    REQUIRE(journal.record(kDeleteTun).ok());
    REQUIRE(journal.record(kRemoveAddr).ok());
    REQUIRE(journal.record(route_removal("clat")).ok());
    REQUIRE(journal.record(kRestoreSysctl).ok());
    kernel.fail = {to_string(route_removal("clat")), to_string(kRemoveAddr)};
    auto replayed = journal.replay_all(kernel);
    REQUIRE_FALSE(replayed.ok());
    CHECK(replayed.error().message == "refused: " + to_string(route_removal("clat")));
    CHECK(kernel.applied ==
          std::vector<std::string>{to_string(kRestoreSysctl), to_string(route_removal("clat")),
                                   to_string(kRemoveAddr), to_string(kDeleteTun)});
    const std::vector<UndoEntry> left = {UndoEntry{2, kRemoveAddr},
                                         UndoEntry{3, route_removal("clat")}};
    CHECK(journal.pending() == left);
    // What was reverted is durably cancelled: a crash now and a restart retries only the rest.
    CHECK(open_journal(tmp.path()).pending() == left);
    kernel.fail.clear();
    kernel.applied.clear();
    REQUIRE(journal.replay_all(kernel).ok());
    CHECK(kernel.applied ==
          std::vector<std::string>{to_string(route_removal("clat")), to_string(kRemoveAddr)});
    CHECK(journal.pending().empty());
    CHECK_FALSE(fs::exists(journal.path()));  // a clean replay leaves no file behind
}

TEST_CASE("journal names must be plain file names") {
    TempDir tmp;
    for (const char* bad : {"", ".", "..", "a/b", "/etc/passwd"}) {
        CAPTURE(bad);
        auto journal = UndoJournal::open(tmp.path().string(), bad);
        REQUIRE_FALSE(journal.ok());
        CHECK(journal.error().message.find("not a plain file name") != std::string::npos);
    }
}

TEST_CASE("an unwritable directory is an error naming the path") {
    auto journal = UndoJournal::open("/proc/clatd-no-such-dir", "clat");
    REQUIRE(journal.ok());
    auto recorded = journal.value().record(kDeleteTun);
    REQUIRE_FALSE(recorded.ok());
    CHECK(recorded.error().message.find("/proc/clatd-no-such-dir") != std::string::npos);
}

TEST_CASE("a journal planted as a symbolic link is neither read nor written through") {
    TempDir tmp;
    const auto dir = tmp.path() / "run-symlink";
    fs::create_directories(dir);
    const auto target = tmp.path() / "victim";
    { std::ofstream(target) << "undo 1 delete-link dev=clat\n"; }
    fs::create_symlink(target, dir / "clat.journal");
    auto journal = UndoJournal::open(dir.string(), "clat");
    REQUIRE_FALSE(journal.ok());  // not loaded through the link
    CHECK(journal.error().message.find((dir / "clat.journal").string()) != std::string::npos);
    CHECK(read_text(target.string()) == "undo 1 delete-link dev=clat\n");
}

}  // namespace
}  // namespace clat::test
