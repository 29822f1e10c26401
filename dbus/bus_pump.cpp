#include "dbus/bus_pump.hpp"

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

namespace clat::dbus {

namespace asio = boost::asio;

BusPump::BusPump(asio::io_context& io, sd_bus* bus, std::function<void(int)> on_lost)
    : io_(io),
      bus_(bus),
      on_lost_(std::move(on_lost)),
      fd_(io),
      timer_(io),
      self_(std::make_shared<BusPump*>(this)) {
    const int fd = sd_bus_get_fd(bus_);
    if (fd < 0) {
        fail(fd);
        return;
    }
    fd_.assign(fd);
}

BusPump::~BusPump() {
    self_.reset();
    try {
        timer_.cancel();
        if (fd_.is_open())
            fd_.release();  // sd-bus owns the descriptor and closes it itself
    } catch (const std::exception& e) {
        spdlog::error("dbus pump teardown failed error=\"{}\"", e.what());
    }
}

void BusPump::kick() {
    process();
}

void BusPump::process() {
    // sd-bus callbacks may queue messages and call kick() again: one pass at a time.
    if (failed_ || processing_)
        return;
    processing_ = true;
    int r = 0;
    do {
        r = sd_bus_process(bus_, nullptr);
    } while (r > 0);
    processing_ = false;
    if (r < 0) {
        fail(r);
        return;
    }
    arm();
}

void BusPump::arm() {
    if (failed_)
        return;
    if (sd_bus_is_open(bus_) <= 0) {
        fail(-ENOTCONN);
        return;
    }
    const int events = sd_bus_get_events(bus_);
    if (events < 0) {
        fail(events);
        return;
    }
    std::weak_ptr<BusPump*> weak = self_;
    auto on_ready = [weak](bool* flag) {
        return [weak, flag](const boost::system::error_code& ec) {
            if (weak.expired())
                return;
            *flag = false;
            if (!ec)
                (*weak.lock())->process();
        };
    };
    if ((events & POLLIN) && !reading_) {
        reading_ = true;
        fd_.async_wait(asio::posix::stream_descriptor::wait_read, on_ready(&reading_));
    }
    if ((events & POLLOUT) && !writing_) {
        writing_ = true;
        fd_.async_wait(asio::posix::stream_descriptor::wait_write, on_ready(&writing_));
    }
    std::uint64_t usec = UINT64_MAX;
    if (sd_bus_get_timeout(bus_, &usec) < 0)
        usec = UINT64_MAX;
    if (usec == UINT64_MAX) {
        timer_.cancel();
        return;
    }
    // sd-bus reports an absolute CLOCK_MONOTONIC time, which is steady_clock's epoch on Linux.
    timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::microseconds(usec)));
    timer_.async_wait([weak](const boost::system::error_code& ec) {
        if (!ec && !weak.expired())
            (*weak.lock())->process();
    });
}

void BusPump::fail(int error) {
    if (failed_)
        return;
    failed_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    if (fd_.is_open())
        fd_.cancel(ignored);
    asio::post(io_, [weak = std::weak_ptr<BusPump*>(self_), error] {
        if (!weak.expired())
            (*weak.lock())->on_lost_(error);
    });
}

}  // namespace clat::dbus
