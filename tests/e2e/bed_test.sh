#!/usr/bin/env bash
# e2e.bed: the test bed's own controls do what the scenario tests rely on, without clatd:
# --uplink-down/--no-dns64 bring-up, PREF64 answered at once to a solicitation, snapshots stable
# and restored, renumbering, the PLAT moved (the old prefix stops working), native IPv4 on a
# second veth and on the uplink, carrier loss; and cleanup on SIGTERM, SIGINT, the watchdog
# and, after SIGKILL, by tb_reap_stale. Exit 77 (skipped) when not root or a tool is missing.
set -u
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: the test bed needs root (network namespaces)"
    exit 77
fi
for tool in ip nft tayga radvd unbound dig curl ping stdbuf /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "skipped: $tool is not installed" && exit 77; }
done
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_watchdog $((${TB_TIMEOUT:-180} - 15))
# The bed library's checks (testbed_clatd.sh): tb_check counts failures in TB_FAILURES.
check() { tb_check "$@"; }
equals() { tb_equals "$@"; }
not() { ! "$@"; }
host_ok() { tb_host sh -c "$1" >/dev/null 2>&1; }
ping_plat() { tb_host ping -6 -q -c 1 -W 2 "$@" >/dev/null 2>&1; }

check_controls() {
    local s0 s1 synth old_synth
    check "unbound not started with --no-dns64" equals "$(ls "$TB_DIR"/unbound.pid 2>/dev/null)" ""
    check "--uplink-down: no global address yet" equals \
        "$(tb_host ip -6 -o addr show scope global)" ""
    s0=$(tb_snapshot)
    tb_host "$TB_PY" "$TB_LIB_DIR/nduseropt_listener.py" --type 38 --count 1 --timeout 2 \
        --ready-file "$TB_DIR/listening" >/dev/null &
    local listener=$!
    tb_wait_for "[ -e $TB_DIR/listening ]" 3
    tb_uplink up
    check "PREF64 within 2 s of the uplink coming up (answer to the RS)" wait "$listener"
    check "SLAAC after the uplink came up" tb_wait_slaac 10
    s1=$(tb_snapshot)
    sleep 1.5
    check "snapshot stable over time" equals "$(tb_snapshot)" "$s1"
    check "snapshot differs once SLAAC is done" [ "$s0" != "$s1" ]

    tb_renumber 2001:db8:2::/64
    check "renumbered: new address non-tentative" tb_wait_slaac 10
    check "renumbered: old address deprecated" tb_wait_for \
        "host_ok \"ip -6 addr show dev $TB_UPLINK deprecated | grep -q 2001:db8:1:\"" 10
    synth=$(tb_synth "$TB_SERVER4")
    check "PLAT reached from the new address" ping_plat "$synth"

    old_synth=$synth
    tb_plat_prefix 2001:db8:46::/56
    synth=$(tb_synth "$TB_SERVER4")
    check "PLAT on its new prefix" ping_plat "$synth"
    check "PLAT no longer on its old prefix" not ping_plat "$old_synth"

    tb_native_v4 on
    check "native IPv4 (veth): server reached" equals \
        "$(tb_host curl -sf --max-time 3 "http://$TB_SERVER4$TB_URL_PATH")" "$TB_TOKEN"
    check "native IPv4 (veth): default route on eth1" host_ok \
        "ip -4 route show default | grep -q 'dev eth1'"
    tb_native_v4 off
    check "native IPv4 (veth) off: no IPv4 default route, no eth1" equals \
        "$(tb_host sh -c 'ip -4 route show default; ip -o link show eth1 2>/dev/null')" ""
    tb_native_v4 on uplink
    check "native IPv4 (uplink): server reached" equals \
        "$(tb_host curl -sf --max-time 3 "http://$TB_SERVER4$TB_URL_PATH")" "$TB_TOKEN"
    tb_native_v4 off
    check "native IPv4 (uplink) off: no IPv4 left" equals \
        "$(tb_host sh -c "ip -4 route show default; ip -4 -o addr show dev $TB_UPLINK")" ""

    tb_uplink carrier-down
    check "carrier down seen by the host" tb_wait_for \
        "host_ok \"ip link show $TB_UPLINK | grep -q NO-CARRIER\"" 3
    tb_uplink carrier-up
    check "carrier back: address and default route again" tb_wait_slaac 10
    tb_uplink down
    check "uplink down: no global address" equals "$(tb_host ip -6 -o addr show scope global)" ""
    tb_uplink up
    check "uplink up: SLAAC again" tb_wait_slaac 10
}

check_gone() {
    local name=$1 pids=$2 pid alive=""
    check "$name: no namespace left" equals "$(ip netns list | grep -c "^$name-")" 0
    for pid in $pids; do tb_alive "$pid" && alive="$alive $pid"; done
    check "$name: no process left" equals "$alive" ""
    check "$name: no directory left" equals "$(find /tmp -maxdepth 1 -name "$name.*")" ""
}

# A child script holding a bed; prints its bed name and pids file, then waits for a signal.
child_bed() {
    # shellcheck disable=SC2016
    env --default-signal=INT bash -c '
        . "$1/testbed.sh"
        [ "$2" = watchdog ] && tb_watchdog 8
        tb_up --no-dns64 || exit 1
        echo "$TB_NAME $TB_DIR/pids" >"$3"
        if [ "$2" = watchdog ]; then sleep 60; else sleep 60 & wait $!; fi' \
        child "$here" "$1" "$2" >/dev/null 2>&1 &
    child=$!
    tb_wait_for "[ -s $2 ]" 20
    read -r child_name child_pids_file <"$2"
    child_pids=$(cat "$child_pids_file")
}

check_cleanup() {
    local how
    for how in TERM INT watchdog; do
        child_bed "$how" "$TB_WORK/child.$how"
        [ "$how" = watchdog ] || kill "-$how" "$child"
        check "cleanup on $how: the script ended" tb_wait_for "! kill -0 $child" 15
        wait "$child" 2>/dev/null
        check_gone "$child_name" "$child_pids"
    done
    child_bed KILL "$TB_WORK/child.KILL"
    kill -KILL "$child"
    wait "$child" 2>/dev/null
    check "after SIGKILL the bed is left behind" equals \
        "$(ip netns list | grep -c "^$child_name-")" 3
    tb_reap_stale "$child"
    check_gone "$child_name" "$child_pids"
}

if tb_up --no-dns64 --uplink-down --pref64; then
    check_controls
else
    check "bring-up with --no-dns64 --uplink-down --pref64" false
fi
tb_down
check_gone "$TB_LAST_NAME" "$TB_LAST_PIDS"

TB_WORK=$(mktemp -d)
# shellcheck disable=SC2154
trap 'rc=$?; rm -rf "$TB_WORK"; (exit "$rc"); tb__exit' EXIT
check_cleanup

tb_summary
