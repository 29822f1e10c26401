#pragma once
/// How adapters report back: they post events, which the agent dispatches later, one at a
/// time. A sink never dispatches from inside the adapter's call.

#include <functional>

#include "states/events.hpp"

namespace clat {

using EventSink = std::function<void(Event)>;

}  // namespace clat
