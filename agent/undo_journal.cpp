#include "agent/undo_journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>

namespace clat {
namespace {

Error system_error(const std::string& what, const std::string& path) {
    return make_error(what + " " + path + ": " + std::strerror(errno));
}

// mkdir -p with mode 0700 for each directory created; existing ones are left as they are.
Status make_directories(const std::string& directory) {
    for (std::size_t pos = 1; pos <= directory.size(); ++pos) {
        if (pos != directory.size() && directory[pos] != '/')
            continue;
        const std::string prefix = directory.substr(0, pos);
        if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
            return system_error("cannot create journal directory", prefix);
    }
    return Ok{};
}

// The whole file, or nullopt when it does not exist.
Result<std::optional<std::string>> read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return std::optional<std::string>();
        return system_error("cannot open journal", path);
    }
    std::string content;
    std::array<char, 8192> buf{};
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            auto error = system_error("cannot read journal", path);
            ::close(fd);
            return error;
        }
        if (n == 0)
            break;
        content.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    return std::optional<std::string>(std::move(content));
}

std::optional<std::uint64_t> parse_seq(std::string_view text) {
    std::uint64_t seq = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || seq == 0)
        return std::nullopt;
    return seq;
}

}  // namespace

UndoJournal::UndoJournal(std::string directory, std::string path)
    : directory_(std::move(directory)), path_(std::move(path)) {}

UndoJournal::UndoJournal(UndoJournal&& other) noexcept
    : directory_(std::move(other.directory_)),
      path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      next_seq_(other.next_seq_),
      pending_(std::move(other.pending_)),
      outside_plans_(std::move(other.outside_plans_)),
      load_problems_(std::move(other.load_problems_)) {}

UndoJournal& UndoJournal::operator=(UndoJournal&& other) noexcept {
    if (this != &other) {
        close_file();
        directory_ = std::move(other.directory_);
        path_ = std::move(other.path_);
        fd_ = std::exchange(other.fd_, -1);
        next_seq_ = other.next_seq_;
        pending_ = std::move(other.pending_);
        outside_plans_ = std::move(other.outside_plans_);
        load_problems_ = std::move(other.load_problems_);
    }
    return *this;
}

UndoJournal::~UndoJournal() {
    close_file();
}

Result<UndoJournal> UndoJournal::open(std::string directory, const std::string& name) {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
        return make_error("journal name '" + name + "' is not a plain file name");
    while (directory.size() > 1 && directory.back() == '/')
        directory.pop_back();
    std::string path = directory + "/" + name + ".journal";
    UndoJournal journal(std::move(directory), std::move(path));
    if (auto loaded = journal.load(); !loaded)
        return loaded.error();
    return journal;
}

Status UndoJournal::load() {
    auto content = read_file(path_);
    if (!content)
        return content.error();
    if (!content->has_value())
        return Ok{};
    const std::string& text = **content;
    std::size_t start = 0;
    std::size_t number = 1;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
        load_line(std::string_view(text).substr(start, nl - start), number++);
    }
    if (start == text.size())
        return Ok{};
    // The last line has no newline: the writer died in the middle of write(), before the
    // change it announces was made. Cut it off so that new records start on a line of their own.
    load_problems_.push_back(path_ + ":" + std::to_string(number) +
                             ": incomplete last record ignored");
    const int fd = ::open(path_.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    const bool cut = fd >= 0 && ::ftruncate(fd, static_cast<off_t>(start)) == 0;
    auto error = cut ? std::optional<Error>() : system_error("cannot truncate journal", path_);
    if (fd >= 0)
        ::close(fd);
    if (error)
        return *error;
    return Ok{};
}

void UndoJournal::load_line(std::string_view line, std::size_t number) {
    const auto problem = [&](const std::string& what) {
        load_problems_.push_back(path_ + ":" + std::to_string(number) + ": " + what);
    };
    const auto space = line.find(' ');
    const auto kind = line.substr(0, space);
    if (kind == "cancel") {
        auto seq = parse_seq(line.substr(space == line.npos ? line.size() : space + 1));
        auto it = std::find_if(pending_.begin(), pending_.end(),
                               [&](const UndoEntry& e) { return seq && e.seq == *seq; });
        if (it == pending_.end())
            return problem("cancel of no pending record: '" + std::string(line) + "'");
        pending_.erase(it);
        return;
    }
    if (kind != "undo" || space == line.npos)
        return problem("not an undo or cancel record: '" + std::string(line) + "'");
    const auto rest = line.substr(space + 1);
    const auto seq_end = rest.find(' ');
    auto seq = parse_seq(rest.substr(0, seq_end));
    if (!seq || seq_end == rest.npos)
        return problem("bad sequence number: '" + std::string(line) + "'");
    if (*seq < next_seq_)
        return problem("sequence number " + std::to_string(*seq) + " out of order");
    auto op = parse_operation(rest.substr(seq_end + 1));
    if (!op)
        return problem(op.error().message);
    pending_.push_back(UndoEntry{*seq, std::move(*op)});
    next_seq_ = *seq + 1;
}

Status UndoJournal::ensure_open() {
    if (fd_ >= 0)
        return Ok{};
    if (auto made = make_directories(directory_); !made)
        return made;
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0)
        return system_error("cannot open journal", path_);
    // Make the new directory entry durable too, or a power cut could lose the whole file.
    const int dir = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
    return Ok{};
}

Status UndoJournal::append(const std::string& line) {
    if (auto opened = ensure_open(); !opened)
        return opened;
    struct stat st {};
    if (::fstat(fd_, &st) != 0)
        return system_error("cannot stat journal", path_);
    // One write() per record: a crash leaves at worst a torn last line, which load() drops.
    std::size_t done = 0;
    while (done < line.size()) {
        const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            auto error = system_error("cannot write journal", path_);
            // Do not leave a partial line for the next record to be glued onto.
            (void)!::ftruncate(fd_, st.st_size);
            return error;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fdatasync(fd_) != 0)
        return system_error("cannot sync journal", path_);
    return Ok{};
}

Result<std::uint64_t> UndoJournal::record(const Operation& undo) {
    const std::uint64_t seq = next_seq_;
    if (auto written = append("undo " + std::to_string(seq) + " " + to_string(undo) + "\n");
        !written) {
        return written.error();
    }
    pending_.push_back(UndoEntry{seq, undo});
    ++next_seq_;
    return seq;
}

Result<std::uint64_t> UndoJournal::record_outside_plans(const Operation& undo) {
    auto seq = record(undo);
    if (seq)
        outside_plans_.push_back(*seq);
    return seq;
}

Status UndoJournal::cancel(std::uint64_t seq) {
    auto it = std::find_if(pending_.begin(), pending_.end(),
                           [&](const UndoEntry& e) { return e.seq == seq; });
    if (it == pending_.end())
        return make_error("journal " + path_ + ": no pending record " + std::to_string(seq));
    // Dropped from memory even if the record cannot be written: this instance must not revert
    // the change; only a crash before the next successful write could still make it do so.
    pending_.erase(it);
    std::erase(outside_plans_, seq);
    if (auto written = append("cancel " + std::to_string(seq) + "\n"); !written)
        return written;
    remove_if_idle();
    return Ok{};
}

Status UndoJournal::rollback_to(Savepoint sp, KernelPort& kernel) {
    std::optional<Error> first_error;
    std::vector<UndoEntry> todo;
    std::copy_if(
        pending_.begin(), pending_.end(), std::back_inserter(todo), [&](const UndoEntry& e) {
            const bool outside = std::find(outside_plans_.begin(), outside_plans_.end(), e.seq) !=
                                 outside_plans_.end();
            return e.seq >= sp.first_seq && (sp.first_seq == 0 || !outside);
        });
    for (auto it = todo.rbegin(); it != todo.rend(); ++it) {
        const auto text = to_string(it->undo);
        auto outcome = kernel.apply(it->undo);
        Status done = outcome ? cancel(it->seq) : Status(outcome.error());
        if (!done) {
            spdlog::warn("undo #{} failed op=\"{}\" error=\"{}\"", it->seq, text,
                         done.error().message);
            if (!first_error)
                first_error = done.error();
            continue;
        }
        spdlog::info("undo #{} {}{}", it->seq, text,
                     *outcome == ApplyOutcome::kAlreadyInPlace ? " (already gone)" : "");
    }
    remove_if_idle();
    if (first_error)
        return *first_error;
    return Ok{};
}

void UndoJournal::remove_if_idle() {
    if (!pending_.empty())
        return;
    close_file();
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
        spdlog::warn("cannot remove journal {}: {}", path_, std::strerror(errno));
}

void UndoJournal::close_file() {
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
}

}  // namespace clat
