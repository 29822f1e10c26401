#pragma once
/// Logging setup (SPEC §10): to the journal when run by systemd, to stderr otherwise; the
/// level follows the Perl clatd's quiet/debug settings.

#include <spdlog/spdlog.h>

namespace clat {

/// The level for quiet/debug as the Perl manual defines them: debug=1 → debug, debug=2 →
/// trace (debug output is never suppressed by quiet); quiet=1 → warnings and errors only;
/// quiet=2 → nothing; otherwise info.
spdlog::level::level_enum log_level(int quiet, int debug);

/// Installs the default logger: the journal when stderr is connected to it (JOURNAL_STREAM,
/// as systemd sets for services), stderr otherwise.
void setup_logging(int quiet, int debug);

}  // namespace clat
