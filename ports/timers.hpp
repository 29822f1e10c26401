#pragma once
/// The port to time: the machine's timers and the monotonic clock every expiry is expressed
/// in. Implemented by adapters/asio_timers and by a manual fake clock in unit tests.

#include <cstdint>

#include "ports/event_sink.hpp"

namespace clat {

class TimerPort {
  public:
    virtual ~TimerPort() = default;
    /// Fired timers are reported as event::TimerExpired through the sink (posted).
    virtual void subscribe(EventSink sink) = 0;
    /// Starts or restarts the timer.
    virtual void start(Timer timer, std::int64_t delay_ms) = 0;
    virtual void cancel(Timer timer) = 0;
    virtual void cancel_all() = 0;
    /// Monotonic milliseconds.
    virtual std::int64_t now_ms() const = 0;
};

}  // namespace clat
