#include "adapters/journal_sink.hpp"

#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include <cctype>
#include <optional>

namespace clat {
namespace {

// A journal field name: A-Z, 0-9 and '_', not starting with '_' or a digit, at most 64
// characters (systemd.journal-fields(7)).
constexpr std::size_t kMaxFieldName = 64;
constexpr std::string_view kPrefix = "CLATD_";

/// The field name of a `key=` token, if the token starts with one.
std::optional<std::string> field_name(std::string_view token) {
    const auto eq = token.find('=');
    if (eq == 0 || eq == std::string_view::npos || kPrefix.size() + eq > kMaxFieldName)
        return std::nullopt;
    std::string name(kPrefix);
    for (const char c : token.substr(0, eq)) {
        if (c == '-')
            name += '_';
        else if (std::islower(static_cast<unsigned char>(c)) ||
                 std::isdigit(static_cast<unsigned char>(c)))
            name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        else
            return std::nullopt;
    }
    return name;
}

int priority(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::critical:
            return LOG_CRIT;
        case spdlog::level::err:
            return LOG_ERR;
        case spdlog::level::warn:
            return LOG_WARNING;
        case spdlog::level::info:
            return LOG_INFO;
        default:
            return LOG_DEBUG;
    }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> journal_fields(std::string_view message) {
    std::vector<std::pair<std::string, std::string>> fields;
    std::size_t at = 0;
    auto skip_blanks = [&] {
        while (at < message.size() && message[at] == ' ')
            ++at;
    };
    auto next_token = [&] {
        const auto end = message.find(' ', at);
        return message.substr(at, end == std::string_view::npos ? message.size() - at : end - at);
    };
    skip_blanks();
    const std::string_view event = next_token();
    if (event.empty() || event.find('=') != std::string_view::npos)
        return fields;
    fields.emplace_back("CLATD_EVENT", std::string(event));
    at += event.size();
    // Words before the first pair belong to the event's text; words after an unquoted value
    // continue it ("reason=uplink usable"); words after a quoted value are text again.
    bool value_open = false;
    while (skip_blanks(), at < message.size()) {
        const std::string_view token = next_token();
        const auto name = field_name(token);
        if (!name) {
            if (value_open)
                fields.back().second += " " + std::string(token);
            at += token.size();
            continue;
        }
        at += token.find('=') + 1;
        std::string value;
        value_open = at >= message.size() || message[at] != '"';
        if (!value_open) {
            const auto close = message.find('"', at + 1);
            const auto end = close == std::string_view::npos ? message.size() : close;
            value = message.substr(at + 1, end - at - 1);
            at = close == std::string_view::npos ? message.size() : close + 1;
        } else {
            value = next_token();
            at += value.size();
        }
        fields.emplace_back(*name, std::move(value));
    }
    return fields;
}

void JournalSink::sink_it_(const spdlog::details::log_msg& message) {
    const std::string_view text(message.payload.data(), message.payload.size());
    std::vector<std::string> items;
    items.push_back("MESSAGE=" + std::string(text));
    items.push_back("PRIORITY=" + std::to_string(priority(message.level)));
    items.push_back("SYSLOG_IDENTIFIER=" + identifier_);
    for (auto& [name, value] : journal_fields(text))
        items.push_back(name + "=" + value);
    std::vector<iovec> iov;
    iov.reserve(items.size());
    for (std::string& item : items)
        iov.push_back(iovec{item.data(), item.size()});
    // Nothing sensible can be done when the journal refuses a line.
    (void)sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

}  // namespace clat
