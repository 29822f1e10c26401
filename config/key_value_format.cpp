#include <algorithm>

#include "config/file_format.hpp"
#include "config/values.hpp"

namespace clat::config {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool is_comment_or_blank(std::string_view line) {
    return line.empty() || line.front() == '#' || line.front() == ';' || line.starts_with("//");
}

bool is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool is_key(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), is_key_char);
}

// Calls f(line_number, trimmed_line) for each line, line numbers from 1.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
    if (text.starts_with(kUtf8Bom))
        text.remove_prefix(kUtf8Bom.size());
    int number = 0;
    while (!text.empty()) {
        const auto eol = text.find('\n');
        const auto line = text.substr(0, eol);
        if (!f(++number, trim(line)))
            return;
        if (eol == std::string_view::npos)
            return;
        text.remove_prefix(eol + 1);
    }
}

bool looks_like_yaml(std::string_view line) {
    if (line.starts_with("---") || line.starts_with("%YAML") || line.starts_with("{") ||
        line.starts_with("[") || line.starts_with("- ") || line == "-" || line.starts_with("\"") ||
        line.starts_with("'"))
        return true;
    const auto key_end = std::find_if_not(line.begin(), line.end(), is_key_char);
    if (key_end == line.begin())
        return false;
    auto rest = trim(std::string_view(key_end, line.end()));
    if (rest.empty() || rest.front() != ':')
        return false;
    return rest.size() == 1 || rest[1] == ' ' || rest[1] == '\t';
}

}  // namespace

FileFormat detect_format(std::string_view text) {
    FileFormat format = FileFormat::kKeyValue;
    for_each_line(text, [&](int, std::string_view line) {
        if (is_comment_or_blank(line))
            return true;
        if (looks_like_yaml(line))
            format = FileFormat::kYaml;
        return false;
    });
    return format;
}

Result<std::vector<RawSetting>> parse_key_value(std::string_view text, std::string_view source) {
    std::vector<RawSetting> out;
    std::string error;
    for_each_line(text, [&](int number, std::string_view line) {
        if (is_comment_or_blank(line))
            return true;
        const std::string place = std::string(source) + ":" + std::to_string(number);
        const auto eq = line.find('=');
        if (eq == std::string_view::npos) {
            error = place + ": expected key=value, got '" + std::string(line) + "'";
            return false;
        }
        const auto key = trim(line.substr(0, eq));
        if (!is_key(key)) {
            error = place + ": '" + std::string(key) + "' is not a valid key";
            return false;
        }
        out.push_back({std::string(key), std::string(trim(line.substr(eq + 1))), place});
        return true;
    });
    if (!error.empty())
        return make_error(error);
    return out;
}

Result<std::vector<RawSetting>> parse_config_file(std::string_view text, std::string_view source) {
    if (detect_format(text) == FileFormat::kYaml)
        return parse_yaml(text, source);
    return parse_key_value(text, source);
}

}  // namespace clat::config
