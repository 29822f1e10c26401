#include "states/translator_supervision.hpp"

#include <algorithm>

#include "states/effects.hpp"

namespace clat {

bool exit_is_current(const TranslatorSupervision& translator, int pid) {
    using Phase = TranslatorSupervision::Phase;
    if (translator.phase == Phase::Starting)
        return true;
    return translator.phase == Phase::Up && translator.pid == pid;
}

ExitDecision record_exit(TranslatorSupervision& translator, const std::string& status,
                         std::int64_t now_ms) {
    using Phase = TranslatorSupervision::Phase;
    const std::int64_t ran_ms =
        translator.phase == Phase::Up ? now_ms - translator.started_at_ms : 0;
    translator.pid.reset();
    translator.last_exit = status;
    if (ran_ms >= kStableRunMs)
        translator.next_delay_ms = kRestartInitialDelayMs;

    auto& failures = translator.fast_failures;
    std::erase_if(failures, [&](std::int64_t t) { return now_ms - t >= kFailureWindowMs; });
    if (ran_ms < kFastFailureMs)
        failures.push_back(now_ms);
    if (static_cast<int>(failures.size()) >= kFastFailureLimit)
        return ExitDecision{true, 0};

    const std::int64_t delay = translator.next_delay_ms;
    translator.next_delay_ms = std::min(delay * 2, kRestartMaxDelayMs);
    translator.phase = Phase::WaitingRestart;
    translator.restart_at_ms = now_ms + delay;
    translator.restart_delay_ms = delay;
    return ExitDecision{false, delay};
}

void record_started(TranslatorSupervision& translator, int pid, std::int64_t now_ms) {
    translator.phase = TranslatorSupervision::Phase::Up;
    translator.pid = pid;
    translator.started_at_ms = now_ms;
}

void record_restart(TranslatorSupervision& translator) {
    translator.phase = TranslatorSupervision::Phase::Starting;
    translator.pid.reset();
    ++translator.restarts;
}

TranslatorSupervision retry_after_failure(const TranslatorSupervision& translator) {
    TranslatorSupervision fresh;
    fresh.restarts = translator.restarts;
    fresh.last_exit = translator.last_exit;
    return fresh;
}

std::string describe(const TranslatorSupervision& translator) {
    using Phase = TranslatorSupervision::Phase;
    switch (translator.phase) {
        case Phase::Starting:
            return "starting translator";
        case Phase::Up:
            return {};
        case Phase::WaitingRestart:
            return "translator " + translator.last_exit + "; restarting in " +
                   duration_text(translator.restart_delay_ms);
    }
    return {};
}

}  // namespace clat
