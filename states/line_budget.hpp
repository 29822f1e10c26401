#pragma once
/// A budget for repeated log lines (SPEC §10: repeated lines are rate-limited; D-Bus calls, a
/// child's output): a token bucket
/// that lets `burst` lines pass at once and then `per_second` lines a second. A line that does
/// not pass is counted, and the count goes with the next line that passes, so that the log
/// says how many were left out. Pure: the caller passes the time.

#include <chrono>
#include <cstdint>

namespace clat {

class LineBudget {
  public:
    using Clock = std::chrono::steady_clock;

    LineBudget(int burst, double per_second) : burst_(burst), per_second_(per_second) {}

    struct Verdict {
        bool pass = false;
        /// With pass: how many lines were suppressed since the last one that passed.
        std::uint64_t suppressed = 0;
    };

    /// Whether a line at `now` may be written.
    Verdict take(Clock::time_point now) {
        if (!started_) {
            started_ = true;
            tokens_ = burst_;
        } else {
            const double elapsed = std::chrono::duration<double>(now - refilled_at_).count();
            tokens_ = tokens_ + elapsed * per_second_;
            if (tokens_ > burst_)
                tokens_ = burst_;
        }
        refilled_at_ = now;
        if (tokens_ < 1) {
            ++suppressed_;
            return {};
        }
        tokens_ -= 1;
        const std::uint64_t suppressed = suppressed_;
        suppressed_ = 0;
        return {true, suppressed};
    }

    /// Counts a line that is left out whatever the budget (the writer is being silenced).
    void skip() { ++suppressed_; }
    /// Lines suppressed and not yet reported.
    std::uint64_t pending() const { return suppressed_; }
    /// Hands over the count of suppressed lines (to report them without a line that passes).
    std::uint64_t take_pending() {
        const std::uint64_t n = suppressed_;
        suppressed_ = 0;
        return n;
    }

  private:
    int burst_;
    double per_second_;
    bool started_ = false;
    double tokens_ = 0;
    Clock::time_point refilled_at_{};
    std::uint64_t suppressed_ = 0;
};

}  // namespace clat
