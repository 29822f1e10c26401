#pragma once
/// Steps an io_context until a condition holds, under a fail-safe deadline.

#include <chrono>
#include <functional>

#include "agent/asio.hpp"

namespace clat::test {

/// Runs io until done() is true or timeout passes; returns done().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        if (io.stopped())
            io.restart();
        io.run_for(std::chrono::milliseconds(20));
    }
    return done();
}

}  // namespace clat::test
