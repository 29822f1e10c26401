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

SupervisionPolicy scaled_policy(std::int64_t initial_delay_ms) {
    const std::int64_t base = std::max<std::int64_t>(initial_delay_ms, 1);
    auto scale = [&](std::int64_t default_ms) {
        return default_ms / kRestartInitialDelayMs * base;
    };
    SupervisionPolicy policy;
    policy.initial_delay_ms = base;
    policy.max_delay_ms = scale(kRestartMaxDelayMs);
    policy.fast_failure_ms = scale(kFastFailureMs);
    policy.stable_run_ms = scale(kStableRunMs);
    policy.failure_window_ms = scale(kFailureWindowMs);
    return policy;
}

std::int64_t restart_delay_ms(const SupervisionPolicy& policy, int steps) {
    std::int64_t delay = policy.initial_delay_ms;
    for (int i = 0; i < steps && delay < policy.max_delay_ms; ++i)
        delay *= 2;
    return std::min(delay, policy.max_delay_ms);
}

ExitDecision record_exit(TranslatorSupervision& translator, const std::string& status,
                         std::int64_t now_ms, const SupervisionPolicy& policy) {
    using Phase = TranslatorSupervision::Phase;
    const std::int64_t ran_ms =
        translator.phase == Phase::Up ? now_ms - translator.started_at_ms : 0;
    translator.pid.reset();
    translator.last_exit = status;
    if (ran_ms >= policy.stable_run_ms)
        translator.backoff_steps = 0;

    auto& failures = translator.fast_failures;
    std::erase_if(failures, [&](std::int64_t t) { return now_ms - t >= policy.failure_window_ms; });
    if (ran_ms < policy.fast_failure_ms)
        failures.push_back(now_ms);
    if (static_cast<int>(failures.size()) >= policy.fast_failure_limit)
        return ExitDecision{true, 0};

    const std::int64_t delay = restart_delay_ms(policy, translator.backoff_steps);
    if (delay < policy.max_delay_ms)
        ++translator.backoff_steps;
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
