#pragma once
/// Supervision of the translator child (SPEC §9): restart with exponential back-off, capped,
/// and give up after repeated fast failures instead of spinning. Pure bookkeeping; the agent
/// spawns, reaps and times.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace clat {

inline constexpr std::int64_t kRestartInitialDelayMs = 1'000;
inline constexpr std::int64_t kRestartMaxDelayMs = 60'000;
/// An exit within this time of the start is a fast failure.
inline constexpr std::int64_t kFastFailureMs = 10'000;
/// A run at least this long resets the back-off to its initial delay.
inline constexpr std::int64_t kStableRunMs = 60'000;
/// kFastFailureLimit fast failures within this window give up.
inline constexpr std::int64_t kFailureWindowMs = 300'000;
inline constexpr int kFastFailureLimit = 5;

/// The supervision's times. Like systemd's RestartSec, one setting (`tayga-restart-delay`)
/// is the time base: the others keep their ratio to it. The defaults are the 1 s policy.
struct SupervisionPolicy {
    std::int64_t initial_delay_ms = kRestartInitialDelayMs;
    std::int64_t max_delay_ms = kRestartMaxDelayMs;
    std::int64_t fast_failure_ms = kFastFailureMs;
    std::int64_t stable_run_ms = kStableRunMs;
    std::int64_t failure_window_ms = kFailureWindowMs;
    int fast_failure_limit = kFastFailureLimit;
    bool operator==(const SupervisionPolicy&) const = default;
};

/// The policy whose initial restart delay is initial_delay_ms (at least 1 ms), every other
/// time scaled by the same factor as the defaults: cap and stable run 60x, fast failure 10x,
/// failure window 300x. scaled_policy(1000) == SupervisionPolicy{}.
SupervisionPolicy scaled_policy(std::int64_t initial_delay_ms);

/// The translator's life as the machine sees it.
struct TranslatorSupervision {
    enum class Phase {
        Starting,        ///< StartTranslator requested; no pid yet
        Up,              ///< running as pid
        WaitingRestart,  ///< exited; the restart timer runs until restart_at_ms
    };
    Phase phase = Phase::Starting;
    std::optional<int> pid;
    std::int64_t started_at_ms = 0;
    std::int64_t restart_at_ms = 0;
    std::int64_t restart_delay_ms = 0;  ///< the delay before restart_at_ms
    int restarts = 0;                   ///< restarts since provisioning, for D-Bus
    int backoff_steps = 0;              ///< doublings of the initial delay for the next restart
    std::vector<std::int64_t> fast_failures;  ///< times of fast failures within the window
    std::string last_exit;                    ///< "exited with status 1", as the agent said
    bool operator==(const TranslatorSupervision&) const = default;
};

/// What to do after an exit: give up, or restart after delay_ms.
struct ExitDecision {
    bool give_up = false;
    std::int64_t delay_ms = 0;
};

/// True when an exit report is about the translator being supervised: the current pid, or
/// any report while a start is outstanding (a spawn failure has no pid). Reports about an
/// older child are stale.
bool exit_is_current(const TranslatorSupervision& translator, int pid);

/// Records the translator's exit at now_ms and decides under policy; on a restart, the phase
/// becomes WaitingRestart until now_ms + delay_ms.
ExitDecision record_exit(TranslatorSupervision& translator, const std::string& status,
                         std::int64_t now_ms, const SupervisionPolicy& policy = {});

/// The restart delay after steps doublings: initial_delay_ms * 2^steps, capped.
std::int64_t restart_delay_ms(const SupervisionPolicy& policy, int steps);

/// Records that the translator runs as pid since now_ms.
void record_started(TranslatorSupervision& translator, int pid, std::int64_t now_ms);

/// Records that StartTranslator was requested again after a restart delay.
void record_restart(TranslatorSupervision& translator);

/// A fresh supervision after the operator intervened (reload, rediscover, uplink change):
/// back-off and failure history forgotten, the restart count kept.
TranslatorSupervision retry_after_failure(const TranslatorSupervision& translator);

/// "translator exited with status 1; restarting in 4 s", or empty while it runs.
std::string describe(const TranslatorSupervision& translator);

}  // namespace clat
