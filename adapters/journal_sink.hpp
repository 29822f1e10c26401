#pragma once
/// Logging to the systemd journal with structured fields (SPEC §10). clatd's log lines read
/// `event key=value key="quoted value" ...`; besides MESSAGE, PRIORITY and SYSLOG_IDENTIFIER,
/// each line is sent with CLATD_EVENT (its first word) and one CLATD_<KEY> field per pair, so
/// that `journalctl CLATD_EVENT=state` or `journalctl CLATD_PLAT=...` select lines.

#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clat {

/// The structured fields of one log message, in order: ("CLATD_EVENT", first word), then
/// ("CLATD_<KEY>", value) for each `key=value`; the key upper-cased with '-' as '_'. A value
/// runs to the next `key=` token, so unquoted values may hold blanks ("reason=no native
/// IPv4"); a value in double quotes ends at the closing quote, and words after it are text.
/// Keys that are not [a-z0-9-] (or longer than a journal field name allows) are not fields.
/// Pure.
std::vector<std::pair<std::string, std::string>> journal_fields(std::string_view message);

/// An spdlog sink writing to the journal through sd_journal_sendv(), one entry per line.
class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    explicit JournalSink(std::string identifier) : identifier_(std::move(identifier)) {}

  protected:
    void sink_it_(const spdlog::details::log_msg& message) override;
    void flush_() override {}

  private:
    std::string identifier_;
};

}  // namespace clat
