#!/usr/bin/env bash
# e2e.fault_host: a hostile or unlucky host (SPEC §7; issue 11's fault suite):
#   p. two clatd started at the same moment on the same runtime directory: exactly one runs,
#      the other exits 1 naming the first one's pid; the survivor provisions, IPv4 works, and
#      its stop leaves the host as before;
#   t. the tun deleted 20 times while Running: each time the device is made again, TAYGA moved
#      onto it and IPv4 works; the log stays under 1 MB; the stop leaves the host as before.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2016,SC2119  # tb_wait_for evaluates its string; calls without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup

PLAT=2001:db8:64::/96
DELETIONS=20

alive_of() {
    local n=0 p
    for p in "$@"; do tb_alive "$p" && n=$((n + 1)); done
    echo "$n"
}

# p. Two at once. Both are started by tb_spawn (so tb_down ends whatever is left); the one
# that loses the lock exits 1 at once.
check_pair() {
    local s0=$1 a b winner loser out
    tb_bus_start || return
    mkdir -p "$TB_DIR/run"
    printf 'v4-conncheck-delay=1\nplat-prefix=%s\n' "$PLAT" >"$TB_DIR/clatd.conf"
    for n in a b; do
        tb_spawn host "clatd-$n" env RUNTIME_DIRECTORY="$TB_DIR/run" \
            DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" "$CLATD" -d -c "$TB_DIR/clatd.conf"
    done
    a=$(cat "$TB_DIR/clatd-a.pid") b=$(cat "$TB_DIR/clatd-b.pid")
    tb_check "p: one of the two exits within 10 s" tb_wait_for "[ \$(alive_of $a $b) = 1 ]" 10
    if tb_alive "$a"; then winner=$a loser=b; else winner=$b loser=a; fi
    wait "$(cat "$TB_DIR/clatd-$loser.pid")" 2>/dev/null
    tb_check "p: the other exited 1" tb_equals "$?" 1
    tb_check "p: naming the first one's pid ($winner)" grep -qF \
        "cannot start: another clatd (pid $winner) runs with runtime directory" \
        "$TB_DIR/clatd-$loser.log" || sed 's/^/    /' "$TB_DIR/clatd-$loser.log"
    TB_CLATD_PID=$winner
    tb_check "p: the survivor reaches Running" tb_wait_status state Running 15
    tb_check_ipv4 "p (survivor)"
    tb_check "p: one clat device" tb_equals "$(tb_host ip -o link show | grep -c ': clat[:@]')" 1
    tb_check "p: survivor exits on SIGTERM" tb_clatd_stop
    tb_check "p: exit status 0" tb_equals "$TB_CLATD_RC" 0
    tb_check "p: host exactly as before" tb_same_snapshot "$(tb_snapshot)" "$s0"
    rm -f "$TB_DIR/clatd-a.pid" "$TB_DIR/clatd-b.pid"
}

# t. The tun deleted again and again.
check_deletions() {
    local s0=$1 pid old new i ok=0 size
    printf 'v4-conncheck-delay=1\nplat-prefix=%s\n' "$PLAT" >"$TB_DIR/clatd.conf"
    tb_clatd_start
    tb_check "t: Running" tb_clatd_wait_state Running 15 || return
    pid=$(tb_clatd_pid)
    for i in $(seq "$DELETIONS"); do
        old=$(tb_translator_pid)
        tb_host ip link del clat || break
        tb_wait_for "new=\$(tb_translator_pid) && [ -n \"\$new\" ] && [ \"\$new\" != $old ]" 10 ||
            { echo "  deletion $i: no new TAYGA"; break; }
        tb_wait_for "tb_host ping -c 1 -W 1 $TB_SERVER4 >/dev/null" 10 ||
            { echo "  deletion $i: no IPv4"; break; }
        ok=$i
    done
    tb_check "t: IPv4 back after each of $DELETIONS deletions ($ok)" tb_equals "$ok" "$DELETIONS"
    tb_check_ipv4 "t (after the deletions)"
    tb_check_status t state Running
    tb_check "t: same clatd" tb_alive "$pid"
    size=$(stat -c %s "$TB_DIR/clatd.log")
    tb_check "t: log $size bytes (< 1 MB)" test "$size" -lt 1000000
    tb_clatd_stop_check "t" "$s0"
}

scenarios() {
    local s0
    s0=$(tb_snapshot)
    check_pair "$s0"
    check_deletions "$s0"
}

tb_run_bed
