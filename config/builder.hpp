#pragma once
/// Turns key/value settings into a Config, one setting at a time, validating each value as it
/// arrives so that a bad value is reported even if a later setting overrides it.

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "states/result.hpp"

namespace clat::config {

/// Every configuration key, in the order clatd.conf(5) and --check-config list them.
std::span<const std::string_view> key_names();

/// True if key is a configuration key.
bool is_known_key(std::string_view key);

/// Accumulates settings over the defaults of Config.
class ConfigBuilder {
  public:
    /// Applies key=value. An empty value restores the key's default; for tayga-extra each
    /// non-empty value appends a line and an empty one clears the list. place names where the
    /// setting came from ("FILE:LINE" or "command line") and prefixes any error:
    /// "PLACE: key 'KEY': MESSAGE". The key must be known (is_known_key).
    Status set(std::string_view key, std::string_view value, std::string_view place);

    /// Drops the tayga-extra lines collected so far (command-line lines replace the file's).
    void clear_tayga_extra();

    /// Adds the -q and -d counts of the command line to quiet and debug.
    void add_verbosity(int quiet, int debug);

    /// Resolves the defaults that depend on other keys (proxynd-enable and ctmark follow
    /// clat-v6-addr=shared unless set) and checks the keys against each other.
    Result<Config> finish() const;

  private:
    Config config_;
    std::map<std::string, std::string, std::less<>> place_;  ///< key -> where it was last set
};

}  // namespace clat::config
