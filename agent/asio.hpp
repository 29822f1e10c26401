#pragma once
/// The one place that includes Boost.Asio. Boost 1.74's Asio under -std=c++20 with GCC 12
/// needs <utility> before any Asio header (awaitable.hpp uses std::exchange).
#include <utility>

#include <boost/asio.hpp>
