#pragma once
/// Internals shared by machine.cpp (top level, Idle, ProbeV4, Teardown) and
/// machine_active.cpp (the Active parent and its sub-states). Not for use elsewhere.

#include <optional>
#include <string>
#include <vector>

#include "states/machine.hpp"

namespace clat::detail {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

/// "stop requested (SIGTERM)".
std::string stop_cause(const event::StopRequested& stop);

/// A Provision sub-state with its first attempt in flight.
inline state::Provision provisioning(const PlatChoice& plat) {
    state::Provision p;
    p.plat = plat;
    return p;
}

/// The event changes nothing.
Transition ignore(const State& state);

/// Enters Active at DiscoverPLAT, starting discovery unless a prefix is configured, and goes
/// straight on to Provision when a prefix is already selectable.
Transition enter_active(const MachineFacts& facts, std::string cause);

/// Leaves any state for Teardown: cancels its timer, stops discovery, requests the
/// teardown effect.
Transition begin_teardown(const State& from, bool exit_after, bool rediscover, std::string cause);

/// The Active parent and its sub-states.
Transition on_active(const state::Active& active, const Event& event, const MachineFacts& facts);

}  // namespace clat::detail
