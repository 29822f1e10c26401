#include "adapters/asio_timers.hpp"

#include <chrono>

namespace clat {

void AsioTimers::start(Timer timer, std::int64_t delay_ms) {
    auto& slot = timers_[timer];
    if (!slot)
        slot = std::make_unique<boost::asio::steady_timer>(io_);
    slot->expires_after(std::chrono::milliseconds(delay_ms));
    slot->async_wait([this, timer](const boost::system::error_code& ec) {
        if (!ec && sink_)
            sink_(event::TimerExpired{timer});
    });
}

void AsioTimers::cancel(Timer timer) {
    if (auto it = timers_.find(timer); it != timers_.end())
        it->second->cancel();
}

void AsioTimers::cancel_all() {
    for (auto& [timer, t] : timers_)
        t->cancel();
}

std::int64_t AsioTimers::now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace clat
