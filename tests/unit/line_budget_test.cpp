#include "states/line_budget.hpp"

#include <doctest/doctest.h>

namespace clat::test {
namespace {

using namespace std::chrono_literals;
const LineBudget::Clock::time_point t0{};

TEST_CASE("line budget: a burst passes, the rest is counted and reported with the next line") {
    LineBudget budget(3, 2.0);
    for (int i = 0; i < 3; ++i) {
        const auto v = budget.take(t0);
        CHECK(v.pass);
        CHECK(v.suppressed == 0);
    }
    for (int i = 0; i < 100; ++i)
        CHECK_FALSE(budget.take(t0 + 10ms).pass);
    CHECK(budget.pending() == 100);
    // 2 lines a second: one token after 500 ms.
    CHECK_FALSE(budget.take(t0 + 400ms).pass);
    const auto next = budget.take(t0 + 510ms);
    CHECK(next.pass);
    CHECK(next.suppressed == 101);
    CHECK(budget.pending() == 0);
    CHECK_FALSE(budget.take(t0 + 520ms).pass);
}

TEST_CASE("line budget: a quiet spell refills the burst, never beyond it") {
    LineBudget budget(2, 1.0);
    CHECK(budget.take(t0).pass);
    CHECK(budget.take(t0).pass);
    CHECK_FALSE(budget.take(t0).pass);
    const auto later = t0 + 1h;
    CHECK(budget.take(later).suppressed == 1);
    CHECK(budget.take(later).pass);
    CHECK_FALSE(budget.take(later).pass);
}

TEST_CASE("line budget: skipped lines use no token and are handed over once") {
    LineBudget budget(1, 1.0);
    budget.skip();
    budget.skip();
    CHECK(budget.pending() == 2);
    const auto first = budget.take(t0);  // the token is still there: skip() took none
    CHECK(first.pass);
    CHECK(first.suppressed == 2);
    CHECK_FALSE(budget.take(t0).pass);
    CHECK(budget.take_pending() == 1);
    CHECK(budget.take_pending() == 0);
    CHECK(budget.take(t0 + 2s).suppressed == 0);
}

}  // namespace
}  // namespace clat::test
