#!/usr/bin/env bash
# e2e.lifecycle: clatd never leaves a mess (SPEC §7), on one bed without DNS64 or PREF64:
#   j. SIGTERM in each state — Idle (uplink down), ProbeV4 (long v4-conncheck-delay),
#      DiscoverPLAT, Provision (held in DAD by a slow DAD on the uplink), Running (configured
#      prefix) — exits 0 and leaves the host snapshot exactly as before clatd started;
#   DAD: the address clatd would derive is taken on the link; it picks another one;
#   i. while Running, a second clatd on the same runtime directory or the same clat-dev exits 1
#      naming the first one's pid, and the first one's journal, host state and IPv4 stay;
#   f. a tun named clat that someone else made (with 203.0.113.1/24): refused with a reason
#      naming it and its ifindex; the tun keeps its address, flags and MTU, no route goes into
#      it, and the host snapshot (the tun included) is the same after stop;
#   m. no PLAT anywhere (no DNS64, no PREF64, no plat-prefix): DiscoverPLAT says why, and the
#      host is untouched while it waits;
#   k. SIGKILL while Running: TAYGA dies with the agent (PR_SET_PDEATHSIG) and the CLAT is left
#      behind; a restart replays the undo journal and runs again; its stop leaves the host as
#      before the first start. Also with the restart finding no PLAT (only the replay undoes).
# After tb_down nothing of the bed is left. Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2119  # functions called without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup

PLAT=2001:db8:64::/96

clat_dev_exists() { tb_host ip link show clat >/dev/null 2>&1; }

# j. SIGTERM in Idle: the uplink is down, nothing to do.
check_idle() {
    local s0=$1
    tb_clatd_start v4-conncheck-delay=1
    tb_check "j (Idle): status state=Idle" tb_wait_status state Idle 10
    tb_check "j (Idle): reason given" tb_wait_for "tb_status reason | grep -q uplink" 5
    tb_clatd_stop_check "j (Idle)" "$s0"
    tb_check "j (Idle): log: stop requested" tb_clatd_log_has "signal SIGTERM: stop"
}

# j. SIGTERM in ProbeV4: held by a long hold-down.
check_probe() {
    local s1=$1
    tb_clatd_start v4-conncheck-delay=60
    tb_check "j (ProbeV4): state ProbeV4" tb_clatd_wait_state ProbeV4 10
    tb_check_status "j (ProbeV4)" state ProbeV4
    tb_clatd_stop_check "j (ProbeV4)" "$s1"
}

# m + j. No PLAT anywhere: DiscoverPLAT waits, touching nothing; then SIGTERM.
check_no_plat() {
    local s1=$1 reason
    tb_clatd_start v4-conncheck-delay=1
    tb_check "m: state DiscoverPLAT" tb_clatd_wait_state DiscoverPLAT 10
    sleep 3
    tb_check "m: still DiscoverPLAT after 3 s" tb_equals "$(tb_clatd_state)" DiscoverPLAT
    tb_check_status m state DiscoverPLAT
    reason=$(tb_status reason)
    tb_check "m: reason given ($reason)" test -n "$reason"
    tb_check_status m plat_prefix ""
    tb_check "m: host untouched while waiting" tb_same_snapshot "$(tb_snapshot)" "$s1"
    tb_check "m: no CLAT device" tb_not clat_dev_exists
    tb_clatd_stop_check "j (DiscoverPLAT)" "$s1"
}

# j. SIGTERM in Provision: DAD on the uplink made slow (2 s) so that the agent waits in it (a
# configured clat-v6-addr waits for DAD; a derived one is used while DAD runs).
check_provision() {
    local s1=$1
    tb__sysctl "$TB_NS_HOST" "net.ipv6.neigh.$TB_UPLINK.retrans_time_ms=2000"
    tb_clatd_start v4-conncheck-delay=1 "plat-prefix=$PLAT" "clat-v6-addr=${TB_SLAAC_PREFIX%/*}c1a7"
    tb_check "j (Provision): DAD started" tb_clatd_log_wait "dad start address=" 10
    tb_check "j (Provision): state Provision" tb_equals "$(tb_clatd_state)" Provision
    tb_clatd_stop_check "j (Provision, in DAD)" "$s1"
    tb_check "j (Provision): never reached Running" tb_not tb_clatd_log_has "->Running"
    tb__sysctl "$TB_NS_HOST" "net.ipv6.neigh.$TB_UPLINK.retrans_time_ms=100"
}

# j. SIGTERM in Running.
check_running() {
    local s1=$1
    tb_clatd_start v4-conncheck-delay=1 "plat-prefix=$PLAT"
    tb_check "j (Running): state Running" tb_clatd_wait_state Running 15
    tb_check_ipv4 "j (Running)"
    check_second_instance
    tb_clatd_stop_check "j (Running)" "$s1"
}

# second RUN_DIR EXPECTED: a second clatd in the host namespace with runtime directory RUN_DIR
# must exit 1 within 10 s with the message EXPECTED (a fixed string) on its stderr.
second() {
    local out=$TB_DIR/second.log rc
    tb_host timeout 10 env RUNTIME_DIRECTORY="$1" "$CLATD" -c "$TB_DIR/clatd.conf" \
        v4-conncheck-delay=1 "plat-prefix=$PLAT" >"$out" 2>&1
    rc=$?
    tb_equals "$rc" 1 && grep -qF -- "$2" "$out" && return 0
    echo "  exit status $rc, output:" && sed 's/^/    /' "$out"
    return 1
}

# i. One instance (SPEC §7): while clatd runs, a second one on the same runtime directory or on
# the same clat-dev is refused, naming the first one's pid, and changes nothing: the first one's
# journal, device and IPv4 stay as they were.
check_second_instance() {
    local pid journal snapshot
    pid=$(tb_clatd_pid)
    journal=$(cat "$TB_DIR/run/clatd.journal")
    snapshot=$(tb_snapshot)
    tb_check "i: same runtime directory: refused, naming pid $pid" second "$TB_DIR/run" \
        "cannot start: another clatd (pid $pid) runs with runtime directory $TB_DIR/run"
    tb_check "i: other runtime directory, same clat-dev: refused" second "$TB_DIR/run2" \
        "cannot start: clat-dev clat is in use by another clatd (pid $pid)"
    tb_check "i: the first one's journal is unchanged" tb_equals \
        "$(cat "$TB_DIR/run/clatd.journal")" "$journal"
    tb_check "i: host unchanged" tb_same_snapshot "$(tb_snapshot)" "$snapshot"
    tb_check "i: the first one still runs" tb_alive "$pid"
    tb_check_ipv4 "i (first instance)"
    rm -rf "$TB_DIR/run2"
}

# f. A foreign tun named clat-dev (SPEC §7: never adopt what is not ours).
check_foreign_tun() {
    local s1=$1 s2 index
    tb_host ip tuntap add dev clat mode tun
    tb_host ip addr add 203.0.113.1/24 dev clat
    tb_host ip link set clat up mtu 1400
    index=$(tb_host cat /sys/class/net/clat/ifindex)
    s2=$(tb_snapshot)
    tb_clatd_start v4-conncheck-delay=1 "plat-prefix=$PLAT"
    tb_check "f: refused, naming clat (ifindex $index)" tb_wait_for \
        "tb_status last_error | grep -qF 'clat-dev clat (ifindex $index) exists and clatd did not create it'" 10
    tb_check "f: not Running" tb_not tb_equals "$(tb_clatd_state)" Running
    tb_check "f: the tun keeps 203.0.113.1/24" tb_wait_for \
        "tb_host ip -4 addr show dev clat | grep -q 'inet 203.0.113.1/24'" 1
    tb_check "f: no default route into it" tb_not tb_wait_for \
        "tb_host ip -4 route show default dev clat | grep -q ." 1
    tb_check "f: host unchanged while refused" tb_same_snapshot "$(tb_snapshot)" "$s2"
    tb_clatd_stop_check "f (foreign tun)" "$s2"
    tb_host ip link del clat
    tb_check "f: host as before" tb_same_snapshot "$(tb_snapshot)" "$s1"
}

# k. SIGKILL while Running; the next start (with ARGS) replays the journal.
check_sigkill() {
    local s1=$1 what=$2 tayga
    shift 2
    tb_clatd_start v4-conncheck-delay=1 "plat-prefix=$PLAT"
    tb_check "k: state Running" tb_clatd_wait_state Running 15
    tb_check_ipv4 k
    tayga=$(tb_translator_pid)
    tb_check "k: TAYGA runs ($tayga)" test -n "$tayga"
    tb_clatd_stop KILL
    tb_check "k: clatd killed" tb_equals "$TB_CLATD_RC" 137
    [ -z "$tayga" ] ||
        tb_check "k: TAYGA died with the agent" tb_wait_for "! tb_alive $tayga" 3
    tb_check "k: the CLAT is left behind (clat device)" clat_dev_exists
    tb_check "k: a journal is left behind" test -s "$TB_DIR/run/clatd.journal"

    tb_clatd_start v4-conncheck-delay=1 "$@"
    tb_check "k ($what): journal replayed" tb_clatd_log_wait "recover journal=" 10
    if [ $# -gt 0 ]; then
        tb_check "k ($what): Running again" tb_clatd_wait_state Running 15
        tb_check_ipv4 "k ($what)"
    else
        tb_check "k ($what): DiscoverPLAT" tb_clatd_wait_state DiscoverPLAT 10
        tb_check "k ($what): host as before the first start" tb_same_snapshot \
            "$(tb_snapshot)" "$s1"
    fi
    tb_clatd_stop_check "k ($what): stop" "$s1"
}

# DAD (SPEC §6): the router already holds the address clatd would derive (SLAAC fffe -> c1a7);
# clatd's DAD of it fails (it is in use meanwhile: optimistic DAD), clatd picks another interface
# identifier, and IPv4 works.
check_dad_conflict() {
    local s1=$1 host clat got
    host=$(tb_host ip -6 -o addr show dev "$TB_UPLINK" scope global | awk '{print $4}' |
        cut -d/ -f1 | head -n1)
    clat=$("$TB_PY" -c 'import ipaddress, sys
b = bytearray(ipaddress.IPv6Address(sys.argv[1]).packed)
assert b[11] == 0xff and b[12] == 0xfe, "not a SLAAC address"
b[11], b[12] = 0xc1, 0xa7
print(ipaddress.IPv6Address(bytes(b)))' "$host") || {
        tb_check "dad: the host has a SLAAC address" false
        return
    }
    tb_rtr ip -6 addr add "$clat/64" dev "$TB_RTR_LAN" nodad
    tb_clatd_start v4-conncheck-delay=0 "plat-prefix=$PLAT"
    tb_check "dad: Running" tb_clatd_wait_state Running 30
    tb_check "dad: conflict on $clat logged" tb_clatd_log_wait "dad conflict address=$clat " 10
    tb_check "dad: the next address passed" tb_clatd_log_wait "dad passed address=" 10
    got=$(tb_status clat_v6)
    tb_check "dad: another CLAT address ($got)" test -n "$got" -a "$got" != "$clat"
    tb_check_ipv4 "dad (another address)"
    tb_clatd_stop_check "dad" "$s1"
    tb_rtr ip -6 addr del "$clat/64" dev "$TB_RTR_LAN"
}

scenarios() {
    local s0 s1
    s0=$(tb_snapshot)
    check_idle "$s0"
    tb_uplink up
    tb_check "uplink up: SLAAC" tb_wait_slaac 15 || return
    s1=$(tb_snapshot)
    check_probe "$s1"
    check_no_plat "$s1"
    check_provision "$s1"
    check_running "$s1"
    check_foreign_tun "$s1"
    check_dad_conflict "$s1"
    check_sigkill "$s1" "restart, Running" "plat-prefix=$PLAT"
    check_sigkill "$s1" "restart, no PLAT"
}

tb_run_bed --no-dns64 --uplink-down
