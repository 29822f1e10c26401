#pragma once
/// The two configuration file formats, read into a flat list of settings (key, value, place)
/// without interpreting the values. The rules are documented in clatd.conf(5).

#include <string>
#include <string_view>
#include <vector>

#include "states/result.hpp"

namespace clat::config {

/// One key=value setting and where it was found ("FILE:LINE").
struct RawSetting {
    std::string key;
    std::string value;
    std::string place;
    bool operator==(const RawSetting&) const = default;
};

enum class FileFormat { kKeyValue, kYaml };

/// YAML if the first significant line (blank lines and lines starting with '#', ';' or '//'
/// skipped) starts with "---", "%YAML", "{", "[", "- ", a quote, or has the form "key:" followed
/// by a blank or the end of the line; key=value otherwise.
FileFormat detect_format(std::string_view text);

/// Perl clatd's format: one key=value per line, blanks around key and value ignored, whole-line
/// comments starting with '#', ';' or '//'. A line without '=' or with an invalid key is an
/// error naming source:line.
Result<std::vector<RawSetting>> parse_key_value(std::string_view text, std::string_view source);

/// A YAML mapping of the same keys with scalar values; a sequence of scalars gives one setting
/// per item (tayga-extra) or, for dns64-servers, one comma-joined value. A null value is empty.
Result<std::vector<RawSetting>> parse_yaml(std::string_view text, std::string_view source);

/// Calls parse_yaml or parse_key_value, as detect_format decides.
Result<std::vector<RawSetting>> parse_config_file(std::string_view text, std::string_view source);

}  // namespace clat::config
