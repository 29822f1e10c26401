#pragma once
/// The configuration front end: the clatd command line, the configuration file (Perl clatd's
/// key=value lines or YAML, detected automatically), command-line overrides, validation, and
/// the effective settings as text. clatd.conf(5) documents the formats and every key.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "states/result.hpp"

namespace clat::config {

/// The file read when -c is not given (only if it exists).
inline constexpr std::string_view kDefaultConfigPath = "/etc/clatd.conf";

/// Where errors about command-line settings point.
inline constexpr std::string_view kCommandLinePlace = "command line";

/// The parsed clatd command line.
struct CommandLine {
    int quiet = 0;            ///< number of -q
    int debug = 0;            ///< number of -d
    std::string config_file;  ///< -c FILE; empty: kDefaultConfigPath if it exists
    bool help = false;
    bool version = false;
    bool check_config = false;
    std::vector<std::pair<std::string, std::string>> overrides;  ///< key=value, in order
    bool operator==(const CommandLine&) const = default;
};

/// A validated configuration and the warnings met on the way (e.g. "FILE:LINE: unknown key
/// 'foo' ignored").
struct LoadedConfig {
    Config config;
    std::vector<std::string> warnings;
    std::string source;  ///< the file read, empty if none
};

/// Parses `clatd [-q] [-d] [-c FILE] [-h|--help] [--version] [--check-config] [key=value ...]`.
/// -q and -d may be repeated or bundled (-qq, -dd); "--" ends the options. Unknown options and
/// unknown keys are errors ("command line: unknown key 'foo'"). Values are checked later.
Result<CommandLine> parse_command_line(int argc, const char* const* argv);

/// The usage text printed by -h.
std::string usage_text();

/// Parses the text of a configuration file named source_name (used in messages), applies the
/// command line's overrides and -q/-d counts on top, and validates the result. Used on start,
/// on reload and by tests.
Result<LoadedConfig> parse_config_text(std::string_view text, std::string_view source_name,
                                       const CommandLine& cli = {});

/// Reads cli.config_file (which must be readable), or default_path if it exists, then as
/// parse_config_text. Errors: "FILE: cannot read: REASON".
Result<LoadedConfig> load_config(const CommandLine& cli,
                                 std::string_view default_path = kDefaultConfigPath);

/// Every key with its effective value as text, in clatd.conf(5) order; the output read back as
/// a key=value file gives the same configuration. Booleans are yes/no; route-table and ctmark
/// are hexadecimal; unset optional keys have an empty value; tayga-extra appears once per line
/// (once with an empty value if there are none); v4-defaultroute-advmss shows the value in force.
std::vector<std::pair<std::string, std::string>> effective_settings(const Config& config);

}  // namespace clat::config
