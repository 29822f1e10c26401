#pragma once
/// The planner: diff(desired_state(input), observed) → an ordered Plan (SPEC §4 Provision and
/// Running, §7). Pure and level-triggered: the same input always yields the same plan, and a
/// converged host yields an empty one, so the agent simply replans after every burst of
/// netlink events; an object removed by someone else is planned again ("put it back").
///
/// Reconciliation follows systemd-networkd: mark every object that is ours, unmark what is
/// desired, remove what is still marked, add what is desired and missing.
///
/// Ours, and removed when no longer desired:
/// - routes with protocol kRouteProtocol whose device is clat-dev (any table). Routes of that
///   protocol on other devices may be another instance's and are left alone;
/// - IPv4 addresses on clat-dev (the kernel puts none there);
/// - proxy entries and firewall rules present in PlanInput::applied, since they cannot be
///   observed.
/// Foreign, never touched: everything else, in particular routes on clat-dev with another
/// protocol (script-up may add some, as the Perl manual suggests), and the IPv6 addresses and
/// routes the kernel itself puts on the tun device. The one exception is
/// v4-defaultroute-replace: every IPv4 default route in the main table with another protocol
/// is removed, carrying the full route and its device name so the journal can restore it, and
/// is removed again whenever it reappears.
///
/// A route is "as desired" only if every field equals the desired one; otherwise the observed
/// route is removed and the desired one added (a changed mtu keeps the kernel's route key, so
/// adding first would just meet EEXIST).
///
/// Order: removals first (firewall rules, proxy entries, routes, foreign default routes, IPv4
/// addresses) so no stale object collides with a new one; then sysctls (accept_ra before
/// forwarding, then proxy_ndp); then the device (create, up), its address, the /128 route,
/// the default route (the kernel refuses IPv4 routes via a device that is down); then the
/// proxy entry and the firewall rule.
///
/// Not undone here: a sysctl no longer desired keeps its value until teardown (only the journal
/// knows the original value); objects left on a previous clat-dev or PLAT device by a change of
/// those names stay until teardown (a change of clat-dev means re-provisioning). Teardown is not
/// planned: it is the journal replayed in reverse.
///
/// Operations carry oif 0 in their routes: devices are named, since a plan may refer to a
/// device it creates itself.

#include "states/desired_state.hpp"
#include "states/operation.hpp"
#include "states/result.hpp"

namespace clat {

/// The operations that bring the observed state to the desired one, in a valid order; empty
/// when converged. Errors are those of desired_state().
Result<Plan> make_plan(const PlanInput& in);

/// The same diff against a desired state computed already.
Plan make_plan(const PlanInput& in, const DesiredState& desired);

}  // namespace clat
