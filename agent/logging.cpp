#include "agent/logging.hpp"

#include <sys/stat.h>

#include <spdlog/sinks/stdout_sinks.h>
#include <cstdio>
#include <cstdlib>

#include "adapters/journal_sink.hpp"

namespace clat {
namespace {

// systemd sets JOURNAL_STREAM=<dev>:<inode> for a service whose stderr goes to the journal;
// only trust it when it still describes our stderr (not inherited by something we started).
bool stderr_is_journal() {
    const char* value = std::getenv("JOURNAL_STREAM");
    if (value == nullptr)
        return false;
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    if (std::sscanf(value, "%llu:%llu", &dev, &ino) != 2)
        return false;
    struct stat st {};
    if (::fstat(2, &st) != 0)
        return false;
    return st.st_dev == dev && st.st_ino == ino;
}

}  // namespace

spdlog::level::level_enum log_level(int quiet, int debug) {
    if (debug >= 2)
        return spdlog::level::trace;
    if (debug == 1)
        return spdlog::level::debug;
    if (quiet >= 2)
        return spdlog::level::off;
    if (quiet == 1)
        return spdlog::level::warn;
    return spdlog::level::info;
}

void setup_logging(int quiet, int debug) {
    std::shared_ptr<spdlog::logger> logger;
    if (stderr_is_journal()) {
        // The journal adds time and priority itself; the key=value pairs of each line also
        // become fields of their own (CLATD_EVENT, CLATD_<KEY>).
        auto sink = std::make_shared<JournalSink>("clatd");
        logger = std::make_shared<spdlog::logger>("clatd", sink);
        logger->set_pattern("%v");
    } else {
        logger = std::make_shared<spdlog::logger>(
            "clatd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        logger->set_pattern("%Y-%m-%d %H:%M:%S.%e clatd %l: %v");
    }
    logger->set_level(log_level(quiet, debug));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

}  // namespace clat
