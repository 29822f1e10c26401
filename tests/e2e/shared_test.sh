#!/usr/bin/env bash
# e2e.shared: a single-address network (issue 14). The host's only global address is a /128
# (static, noprefixroute, as a DHCPv6 IA_NA lease gives it; RA prefix information ignored), and
# the router routes only that address to the host: nothing else of 2001:db8:1::/64 is reachable.
#   d. clat-v6-addr=derived: clatd waits with a reason naming the cause and the keys that fix
#      it (clatctl Reason), and changes nothing on the host;
#   s. clat-v6-addr=shared: IPv4 ping and HTTP through the CLAT, and at the same time the
#      host's own IPv6 HTTP to the DNS64-synthesised address of the same IPv4 server; the
#      CLAT address is the host's, with the policy rule, the route in route-table and the
#      marking table of its own;
#   r. the host's address replaced (and the router's route with it): IPv4 works again with the
#      new address, same clatd, no restart;
#   c. ctmark=0: IPv4 works, the host's own IPv6 to the PLAT does not (what the mark is for);
#   SIGTERM, and SIGKILL + restart + stop, leave the host snapshot (nft, ip rules, routes of
#   all tables, sysctls) exactly as before.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2119  # functions called without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup

PLAT=2001:db8:64::/96
HOST6=2001:db8:1::100
HOST6_NEW=2001:db8:1::200
# The shared mode runs TAYGA alone: e2e.shared (auto) and e2e.tayga.shared (data-path=tayga)
# run the same data path.

## single_address: the host keeps its RA default route but no prefix (accept_ra_pinfo=0, the
## SLAAC address and its /64 gone) and gets HOST6/128; the router's /64 on-link route goes,
## a /128 route to the host's address takes its place.
single_address() {
    tb__sysctl "$TB_NS_HOST" "net.ipv6.conf.$TB_UPLINK.accept_ra_pinfo=0" \
        "net.ipv6.conf.$TB_UPLINK.autoconf=0" || return 1
    tb_host ip -6 addr flush dev "$TB_UPLINK" scope global || return 1
    while tb_host ip -6 route del 2001:db8:1::/64 dev "$TB_UPLINK" 2>/dev/null; do :; done
    tb_host ip -6 addr add "$HOST6/128" dev "$TB_UPLINK" noprefixroute nodad || return 1
    tb_rtr ip -6 route del 2001:db8:1::/64 dev "$TB_RTR_LAN" || return 1
    tb_rtr ip -6 route add "$HOST6/128" dev "$TB_RTR_LAN" || return 1
    tb_wait_for "tb_host ping -6 -c1 -W1 $TB_DNS64 >/dev/null" 5 || return 1
}

## renumber_host FROM TO: the host's address FROM replaced by TO, on the host and the router.
renumber_host() {
    tb_host ip -6 addr add "$2/128" dev "$TB_UPLINK" noprefixroute nodad &&
        tb_rtr ip -6 route add "$2/128" dev "$TB_RTR_LAN" &&
        tb_host ip -6 addr del "$1/128" dev "$TB_UPLINK" &&
        tb_rtr ip -6 route del "$1/128" dev "$TB_RTR_LAN"
}

## tb_http6_synth: the host's own IPv6 HTTP to the DNS64-synthesised address of the server.
http6_synth() {
    [ "$(tb_host curl -6 -sf --max-time 3 "http://v4only.example$TB_URL_PATH" 2>/dev/null)" = \
        "$TB_TOKEN" ]
}

## synth_is: the name resolves (DNS64) to the PLAT address of the server.
synth_is() {
    tb_host getent ahostsv6 v4only.example | grep -qF "$(tb_synth "$TB_SERVER4")"
}

reason_has() { tb_status reason | grep -qF -- "$1"; }

check_derived() {
    local s0=$1
    tb_clatd_start v4-conncheck-delay=1 "plat-prefix=$PLAT"
    tb_check "d: waits in Provision" tb_clatd_wait_state Provision 10
    tb_check "d: reason names the cause" tb_wait_for \
        "reason_has 'only single addresses ($HOST6/128'" 10
    tb_check "d: reason names the way out" reason_has \
        "set clat-v6-addr=shared to share the host's address, or clat-v6-addr to a static"
    echo "  reason: $(tb_status reason)"
    tb_check "d: host untouched while waiting" tb_same_snapshot "$(tb_snapshot)" "$s0"
    tb_clatd_stop_check "d (SIGTERM)" "$s0"
}

check_shared_running() {
    local what=$1 address=$2
    tb_check "$what: Running" tb_clatd_wait_state Running 20
    tb_check "$what: CLAT address is the host's ($address)" tb_wait_status clat_v6 "$address" 10
    tb_check_ipv4 "$what"
    tb_check "$what: host's own IPv6 to the synthesised address" http6_synth
    tb_check "$what: both at once" eval "tb_http4 && http6_synth && tb_ping4"
    tb_check "$what: policy rule before the local rule" eval \
        "tb_host ip -6 rule show | grep -qF '0:	from $PLAT to $address fwmark 0xc1a7 lookup 49575'"
    tb_check "$what: local rule moved to 1" eval \
        "tb_host ip -6 rule show | grep -qF '1:	from all lookup local'"
    tb_check "$what: route in route-table" eval \
        "tb_host ip -6 route show table 49575 | grep -qF '$address dev clat'"
    tb_check "$what: marking table" eval \
        "tb_host nft list tables ip6 | grep -qE 'table ip6 clatd_shared_[0-9a-f]{16}'"
    tb_check "$what: no proxy entry" eval "[ -z \"\$(tb_host ip -6 neigh show proxy)\" ]"
}

check_shared() {
    local s0=$1 pid
    tb_clatd_start v4-conncheck-delay=1 "plat-prefix=$PLAT" clat-v6-addr=shared
    check_shared_running s "$HOST6"
    tb_check "s: data path is TAYGA" tb_wait_status data_path tayga 5
    pid=$(tb_clatd_pid)

    # r. The host's address replaced: the CLAT follows, same process.
    tb_check "r: address replaced" renumber_host "$HOST6" "$HOST6_NEW"
    check_shared_running r "$HOST6_NEW"
    tb_check "r: same clatd (no restart)" tb_equals "$(tb_clatd_pid)" "$pid"
    tb_check "r: old address gone from rules" tb_not eval \
        "tb_host ip -6 rule show | grep -qF '$HOST6 '"
    tb_clatd_stop_check "r (SIGTERM after renumbering)" "$(renumbered_snapshot)"
    tb_check "r: address back" renumber_host "$HOST6_NEW" "$HOST6"
    tb_check "r: host as before after going back" tb_same_snapshot "$(tb_snapshot)" "$s0"
}

## renumbered_snapshot: the baseline with HOST6 replaced by HOST6_NEW (taken without clatd).
renumbered_snapshot() { cat "$TB_DIR/s_new"; }

check_kill() {
    local s0=$1
    tb_clatd_start v4-conncheck-delay=1 "plat-prefix=$PLAT" clat-v6-addr=shared
    check_shared_running k "$HOST6"
    tb_clatd_stop KILL 5
    tb_check "k: clatd killed" tb_equals "$TB_CLATD_RC" 137
    tb_check "k: SIGKILL leaves the rule behind" eval \
        "tb_host ip -6 rule show | grep -qF 'lookup 49575'"
    tb_clatd_start v4-conncheck-delay=1 "plat-prefix=$PLAT" clat-v6-addr=shared
    check_shared_running "k (after restart)" "$HOST6"
    tb_check "k: one marking table after the replay" eval \
        "[ \"\$(tb_host nft list tables ip6 | grep -c clatd_shared_)\" = 1 ]"
    tb_clatd_stop_check "k (restart + SIGTERM)" "$s0"
}

# c. ctmark=0 (as Perl clatd without a mark): IPv4 works, but every reply from the PLAT to the
# host's address goes into the CLAT, so the host's own IPv6 to a synthesised address breaks:
# what the mark is for. Stopping restores the host.
check_no_mark() {
    local s0=$1
    tb_clatd_start v4-conncheck-delay=1 "plat-prefix=$PLAT" clat-v6-addr=shared ctmark=0
    tb_check "c: Running" tb_clatd_wait_state Running 20
    tb_check_ipv4 c
    tb_check "c: rule without fwmark" eval \
        "tb_host ip -6 rule show | grep -qF '0:	from $PLAT to $HOST6 lookup 49575'"
    tb_check "c: no marking table" tb_not eval "tb_host nft list tables ip6 | grep -q clatd_shared_"
    tb_check "c: the host's own IPv6 to the PLAT breaks without the mark" tb_not http6_synth
    tb_clatd_stop_check "c (SIGTERM)" "$s0"
    tb_check "c: host's own IPv6 to the PLAT works again" http6_synth
}

scenarios() {
    local s0
    tb_check "single-address bed" single_address || return
    # The baseline with the other address, for the stop after renumbering.
    renumber_host "$HOST6" "$HOST6_NEW" && tb_snapshot >"$TB_DIR/s_new" &&
        renumber_host "$HOST6_NEW" "$HOST6"
    s0=$(tb_snapshot)
    tb_check "DNS64 synthesises the server's address" synth_is
    tb_check "host's own IPv6 to the synthesised address works before clatd" http6_synth
    check_derived "$s0"
    check_shared "$s0"
    check_kill "$s0"
    check_no_mark "$s0"
}

tb_run_bed
