#!/usr/bin/env bash
# e2e.dynamics: one clatd follows the network while it runs (SPEC §4, §9, §3), on one bed:
#   i. TAYGA killed (SIGKILL) -> restarted, translator_restarts 1, IPv4 works again;
#   l. reload by SIGHUP with a good changed file (default route metric changes, still Running,
#      same process) and a bad one (the agent keeps the old configuration and says why);
#      `clatctl reload` -> 5 with the bad file, 0 with a good one; an unprivileged caller may
#      read the status but not reload (4);
#   g. native IPv4 default route appears -> CLAT torn down, ProbeV4 saying why; gone -> CLAT
#      back, IPv4 through it;
#   h. uplink down -> Idle, CLAT gone; up -> Running, IPv4 works;
#   drift: the proxy ND entry deleted -> put back by the poll; it and the /128 route deleted
#      together -> both put back at once;
#   t. the tun device deleted while Running -> made again, TAYGA moved onto it, IPv4 works, the
#      log stays small;
#   s. TAYGA stopped (SIGSTOP: alive, translating nothing) -> found by the watchdog's probes,
#      killed and restarted within 15 s, IPv4 works, the log says it hung;
#   c. reload to clat-dev=clat2 and back -> each time the old device and all on it removed, the
#      new one provisioned, IPv4 works;
#   d. renumbering (tb_renumber 2001:db8:2::/64) -> new CLAT address in the new prefix, IPv4
#      works again without a restart.
# After SIGTERM (exit 0) everything the agent made is gone (the renumbered SLAAC addresses and
# their kernel routes aside); after tb_down nothing of the bed is left.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2016,SC2119  # tb_wait_for evaluates its string; calls without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup setpriv

no_clat_dev() { ! tb_host ip link show clat >/dev/null 2>&1; }
default_metric() {
    tb_host ip -4 route show default dev clat | sed -n 's/.* metric \([0-9]*\).*/\1/p'
}
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

# i. TAYGA killed
check_translator_killed() {
    local old new
    old=$(tb_translator_pid)
    tb_check "i: TAYGA runs ($old)" test -n "$old"
    kill -KILL "$old"
    tb_check "i: TAYGA restarted within 10 s" tb_wait_for \
        "new=\$(tb_translator_pid) && [ \"\$new\" != $old ]" 10
    new=$(tb_translator_pid)
    tb_check_status i translator_restarts 1
    tb_check_status i translator_pid "$new"
    tb_check_status i state Running
    tb_check "i: log: TAYGA's exit seen" tb_clatd_log_has "tayga exited pid=$old .*signal 9"
    tb_check_ipv4 "i (TAYGA restarted)"
}

# l. reload, good and bad, by SIGHUP and by clatctl
check_reload() {
    local pid mark
    pid=$(tb_clatd_pid)
    tb_check "l: default route metric 2048 at first" tb_equals "$(default_metric)" 2048
    mark=$(tb_clatd_mark)
    printf 'v4-conncheck-delay=1\nv4-defaultroute-metric=1500\n' >"$TB_DIR/clatd.conf"
    kill -HUP "$pid"
    tb_check "l: SIGHUP, good file: metric 1500" tb_wait_for '[ "$(default_metric)" = 1500 ]' 10
    tb_check "l: log: reload accepted" tb_clatd_log_has "reload accepted" "$mark"
    tb_check_status "l (good)" state Running
    tb_check "l (good): same clatd" tb_alive "$pid"

    mark=$(tb_clatd_mark)
    printf 'v4-conncheck-delay=1\nv4-defaultroute-metric=abc\n' >"$TB_DIR/clatd.conf"
    kill -HUP "$pid"
    tb_check "l: SIGHUP, bad file: rejection logged" tb_clatd_log_wait \
        "reload rejected: .*clatd.conf.*v4-defaultroute-metric" 5 "$mark"
    tb_check "l (bad): last_error says why" tb_wait_for \
        "tb_status last_error | grep -q v4-defaultroute-metric" 5
    tb_check_status "l (bad)" state Running
    tb_check "l (bad): old configuration kept (metric 1500)" tb_equals "$(default_metric)" 1500
    tb_check "l (bad): same clatd" tb_alive "$pid"
    tb_ctl reload >"$TB_DIR/reload.out" 2>&1
    tb_check "l: clatctl reload of the bad file exits 5" tb_equals "$?" 5
    tb_check "l: clatctl reload names the key" grep -q v4-defaultroute-metric "$TB_DIR/reload.out"
    tb_check_ipv4 "l (bad file kept out)"

    # Unprivileged: may read, may not reload (the bus socket's directory is opened to others).
    chmod 711 "$TB_DIR"
    install -m 755 "$CLATCTL" "$TB_DIR/clatctl"
    as_nobody env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$TB_DIR/bus" "$TB_DIR/clatctl" status \
        >/dev/null 2>&1
    tb_check "l: unprivileged clatctl status exits 0" tb_equals "$?" 0
    as_nobody env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$TB_DIR/bus" "$TB_DIR/clatctl" reload \
        >/dev/null 2>&1
    tb_check "l: unprivileged clatctl reload refused (exit 4)" tb_equals "$?" 4

    printf 'v4-conncheck-delay=1\nv4-defaultroute-metric=1400\n' >"$TB_DIR/clatd.conf"
    tb_ctl reload >"$TB_DIR/reload.out" 2>&1
    tb_check "l: clatctl reload of a good file exits 0" tb_equals "$?" 0
    tb_check "l: clatctl reload applied (metric 1400)" tb_wait_for \
        '[ "$(default_metric)" = 1400 ]' 10
    tb_check_status "l (clatctl)" state Running
}

# g. native IPv4 appears and goes
check_native_ipv4() {
    local mark
    mark=$(tb_clatd_mark)
    tb_native_v4 on
    tb_check "g: native IPv4 on: ProbeV4" tb_wait_status state ProbeV4 10
    tb_check "g: reason names native IPv4" tb_wait_for "tb_status reason | grep -qi 'native IPv4'" 5
    tb_check "g: CLAT device gone" tb_wait_for no_clat_dev 5
    tb_check "g: no translator" tb_wait_for '[ -z "$(tb_translator_pid)" ]' 5
    tb_check "g: log: Running->Teardown" tb_clatd_log_has "state Running->Teardown" "$mark"
    tb_check "g: IPv4 works natively" tb_http4
    sleep 2
    tb_check "g: still ProbeV4 after 2 s (no exit, no flapping)" tb_equals \
        "$(tb_status state)" ProbeV4
    tb_native_v4 off
    tb_check "g: native IPv4 off: Running again" tb_wait_status state Running 15
    tb_check "g: IPv4 default route via the CLAT" tb_host sh -c \
        "ip -4 route show default | grep -q 'dev clat'"
    tb_check_ipv4 "g (CLAT back)"
}

# h. uplink down and up
check_uplink() {
    tb_uplink down
    tb_check "h: uplink down: Idle" tb_wait_status state Idle 10
    tb_check "h: CLAT device gone" tb_wait_for no_clat_dev 5
    tb_check "h: no translator" tb_wait_for '[ -z "$(tb_translator_pid)" ]' 5
    tb_uplink up
    tb_check "h: uplink up: Running again" tb_wait_status state Running 20
    tb_check_ipv4 "h (uplink back)"
}

# d. renumbering
# A new CLAT address means a new TAYGA mapping: the translator is replaced, the tun stays.
check_renumbering() {
    local pid mark old new
    pid=$(tb_clatd_pid)
    old=$(tb_status clat_v6)
    mark=$(tb_clatd_mark)
    tb_renumber 2001:db8:2::/64
    tb_check "d: new SLAAC address" tb_wait_slaac 15
    tb_check "d: clat_v6 moves into 2001:db8:2::/64 within 15 s" tb_wait_for \
        "tb_contains 2001:db8:2::/64 \$(tb_status clat_v6)/128" 15
    new=$(tb_status clat_v6)
    tb_check "d: log: renumbered $old -> $new" tb_clatd_log_has "renumbered clat-v6 $old -> $new" \
        "$mark"
    tb_check "d: proxy ND for the new address" tb_wait_for \
        "tb_host ip -6 neigh show proxy | grep -q '^$new '" 5
    tb_check "d: no proxy ND for the old address" tb_wait_for \
        "! tb_host ip -6 neigh show proxy | grep -q '^$old '" 5
    tb_check_status d state Running
    tb_check "d: translator_pid is clatd's TAYGA" tb_wait_for \
        '[ "$(tb_status translator_pid)" = "$(tb_translator_pid)" ]' 5
    tb_check_ipv4 "d (renumbered)" 15
    tb_check "d: same clatd, no restart" tb_alive "$pid"
}

# Drift: objects of the agent removed behind its back are put back without a restart. The
# kernel announces no proxy entry, so its removal is found by the agent's 10 s poll; a route
# removal is announced, and the reconcile it starts re-reads the proxy table too.
check_drift() {
    local pid clat_v6
    pid=$(tb_clatd_pid)
    clat_v6=$(tb_status clat_v6)
    has_proxy() { tb_host ip -6 neigh show proxy | grep -q "^$clat_v6 "; }
    has_route() { tb_host ip -6 route show "$clat_v6/128" dev clat | grep -q .; }
    tb_check "drift: proxy ND entry for $clat_v6" has_proxy
    tb_check "drift: proxy entry deleted" tb_host ip -6 neigh del proxy "$clat_v6" dev "$TB_UPLINK"
    tb_check "drift: proxy entry put back by the poll within 15 s" tb_wait_for has_proxy 15
    tb_host ip -6 neigh del proxy "$clat_v6" dev "$TB_UPLINK"
    tb_host ip -6 route del "$clat_v6/128" dev clat
    tb_check "drift: route and proxy entry put back within 3 s" tb_wait_for \
        "has_route && has_proxy" 3
    tb_check_status drift state Running
    tb_check_ipv4 "drift (put back)"
    tb_check "drift: same clatd" tb_alive "$pid"
}

# t. the tun device deleted by someone else while Running: clatd makes it again and moves
# TAYGA onto it (the old TAYGA held the dead device and looped on EBADFD, writing 100 MB of log
# in 2 s); IPv4 works again, the log stays small and says what happened.
check_tun_deleted() {
    local pid old new mark lines
    pid=$(tb_clatd_pid)
    old=$(tb_translator_pid)
    mark=$(tb_clatd_mark)
    tb_check "t: clat deleted" tb_host ip link del clat
    tb_check "t: a new TAYGA on the new device within 10 s" tb_wait_for \
        "new=\$(tb_translator_pid) && [ -n \"\$new\" ] && [ \"\$new\" != $old ]" 10
    new=$(tb_translator_pid)
    tb_check "t: log: the device was replaced" tb_clatd_log_has \
        "clat was replaced \(index [0-9]+ -> [0-9]+\), restarting the data path" "$mark"
    tb_check_ipv4 "t (new device)" 15
    tb_check_status t state Running
    tb_check_status t translator_pid "$new"
    tb_check "t: same clatd" tb_alive "$pid"
    sleep 1
    lines=$(($(tb_clatd_mark) - mark))
    tb_check "t: $lines log lines since the deletion (< 200)" test "$lines" -lt 200
}

# s. A hung TAYGA (SIGSTOP) is not "Running": the watchdog finds that nothing is read from the
# tun and its echo probes to tayga-v4-addr go unanswered, kills it, and it is restarted.
check_tayga_hung() {
    local pid old mark
    pid=$(tb_clatd_pid)
    old=$(tb_translator_pid)
    mark=$(tb_clatd_mark)
    tb_check "s: TAYGA $old stopped" kill -STOP "$old"
    tb_check "s: a new TAYGA within 15 s" tb_wait_for \
        "new=\$(tb_translator_pid) && [ -n \"\$new\" ] && [ \"\$new\" != $old ]" 15
    tb_check "s: the stopped one is gone" tb_wait_for "! tb_alive $old" 5
    tb_check "s: log: hung, killed" tb_clatd_log_has \
        "tayga pid=$old hung: nothing read from clat and 3 echo probes to 192.0.0.2 unanswered" \
        "$mark"
    tb_check_ipv4 "s (restarted)" 15
    tb_check_status s state Running
    tb_check "s: same clatd" tb_alive "$pid"
}

# c. reload to another clat-dev and back: a full re-provisioning each time (the old device and
# everything on it removed, the new one made with the address and routes), IPv4 works on each,
# the same clatd.
check_reload_device() {
    local pid
    pid=$(tb_clatd_pid)
    dev_only() {
        tb_host ip link show "$1" >/dev/null 2>&1 && ! tb_host ip link show "$2" >/dev/null 2>&1 &&
            tb_host ip -4 addr show dev "$1" | grep -q "inet 192.0.0.1/32" &&
            tb_host ip -4 route show default dev "$1" | grep -q . &&
            [ -z "$(tb_host ip route show dev "$2" 2>/dev/null)" ]
    }
    printf 'v4-conncheck-delay=1\nclat-dev=clat2\n' >"$TB_DIR/clatd.conf"
    kill -HUP "$pid"
    tb_check "c: clat2 made, clat and its routes gone, within 15 s" tb_wait_for "dev_only clat2 clat" 15
    tb_check_ipv4 "c (clat2)" 15
    tb_check_status "c (clat2)" state Running
    printf 'v4-conncheck-delay=1\n' >"$TB_DIR/clatd.conf"
    kill -HUP "$pid"
    tb_check "c: back on clat, clat2 gone, within 15 s" tb_wait_for "dev_only clat clat2" 15
    tb_check_ipv4 "c (clat again)" 15
    tb_check "c: same clatd" tb_alive "$pid"
}

scenarios() {
    local s0
    s0=$(tb_snapshot)
    printf 'v4-conncheck-delay=1\n' >"$TB_DIR/clatd.conf"
    tb_clatd_start
    tb_check "start: Running" tb_clatd_wait_state Running 20
    tb_check_status start plat_source dns64
    tb_check_ipv4 start
    check_translator_killed
    check_reload
    check_native_ipv4
    check_uplink
    check_drift
    check_tun_deleted
    check_tayga_hung
    check_reload_device
    check_renumbering
    TB_SNAPSHOT_FILTER=tb_without_slaac tb_clatd_stop_check "stop (SLAAC changes aside)" "$s0"
}

tb_run_bed
