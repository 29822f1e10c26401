#pragma once
/// The machine's timers on the agent's io_context (steady_clock, CLOCK_MONOTONIC).

#include <map>
#include <memory>

#include "agent/asio.hpp"
#include "ports/timers.hpp"

namespace clat {

class AsioTimers final : public TimerPort {
  public:
    explicit AsioTimers(boost::asio::io_context& io) : io_(io) {}
    void subscribe(EventSink sink) override { sink_ = std::move(sink); }
    void start(Timer timer, std::int64_t delay_ms) override;
    void cancel(Timer timer) override;
    void cancel_all() override;
    std::int64_t now_ms() const override;

  private:
    boost::asio::io_context& io_;
    EventSink sink_;
    std::map<Timer, std::unique_ptr<boost::asio::steady_timer>> timers_;
};

}  // namespace clat
