#!/usr/bin/env bash
# e2e.fault_uplink: the host's uplink flaps 500 times while clatd runs (SPEC §4, §7, §9).
# Each flap is, at random, an administrative down/up of the host's eth0 or a carrier loss (the
# router's end down/up); most follow at once, some after a short pause; a few wait until
# clatd has a usable uplink again and land while it discovers or provisions. The randomness is seeded (TB_SEED=N
# repeats the sequence; the seed is printed). Then the uplink stays up, and:
#   - clatd converges to Running within 20 s; IPv4 works (ping + HTTP);
#   - the same number of file descriptors as in Running before the flaps; RSS growth bounded;
#   - the host holds exactly one CLAT: its snapshot equals the one taken in Running before the
#     flaps (interface indexes and the tun's random link-local address aside: the tun may have
#     been recreated), one clat device, one
#     IPv4 default route through it;
#   - exactly one TAYGA in the host namespace, a child of clatd, and no zombie child;
#   - after SIGTERM the host is exactly as before clatd started.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2016,SC2119  # tb_wait_for evaluates its string; calls without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup

FLAPS=500
SEED=${TB_SEED:-$(($(date +%s) % 32768))}
# Measured: clatd's VmRSS (about 7.4 MiB) did not grow at all over the 500 flaps in 5 runs,
# with 10-20 teardowns and re-provisionings among them. A leak per flap or per provisioning
# (journal entries, netlink objects, child records) would show as 100 KiB and more; 512 KiB
# leaves room for malloc arenas settling in.
RSS_GROWTH_MAX_KIB=512

# Interface indexes and the tun's random link-local address change when the tun device is
# recreated; nothing else may.
without_ifindex() {
    sed -E 's/^[0-9]+: //; s/ link-netnsid [0-9]+//; /clat/ s/fe80::[0-9a-f:]+/fe80::IID/g'
}

tayga_in_host_ns() {
    local p n=0
    for p in $(ip netns pids "$TB_NS_HOST"); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = tayga ] && n=$((n + 1))
    done
    echo "$n"
}

# same_as_before SNAPSHOT: waits up to 5 s for the host to match SNAPSHOT (lines in any order:
# the kernel lists a recreated device's routes elsewhere), else shows the diff.
same_as_before() {
    local want
    want=$(echo "$1" | without_ifindex | sort)
    tb_wait_for '[ "$(tb_snapshot | without_ifindex | sort)" = "$want" ]' 5 ||
        tb_same_snapshot "$(tb_snapshot | without_ifindex | sort)" "$want"
}

zombie_children() { ps -o pid=,stat= --ppid "$(tb_clatd_pid)" | awk '$2 ~ /^Z/' | wc -l; }

# Flaps go through one `ip -batch` per namespace reading a FIFO: an `ip` process per command
# costs 5-30 ms here, the kernel's link change well under one.
start_flapper() {
    mkfifo "$TB_DIR/flap.host" "$TB_DIR/flap.rtr" || return 1
    ip -n "$TB_NS_HOST" -force -batch "$TB_DIR/flap.host" >"$TB_DIR/flap-host.log" 2>&1 &
    echo "$!" >>"$TB_DIR/pids"
    FLAPPER_HOST=$!
    ip -n "$TB_NS_RTR" -force -batch "$TB_DIR/flap.rtr" >"$TB_DIR/flap-rtr.log" 2>&1 &
    echo "$!" >>"$TB_DIR/pids"
    FLAPPER_RTR=$!
    exec 7>"$TB_DIR/flap.host" 8>"$TB_DIR/flap.rtr"
}

# stop_flapper: waits until every flap has been applied.
stop_flapper() {
    exec 7>&- 8>&-
    wait "$FLAPPER_HOST" "$FLAPPER_RTR"
}

# admin_flap / carrier_flap: the host's eth0 down and up, or the router's end of it (the host
# sees its carrier go and come back).
admin_flap() { printf 'link set dev %s down\nlink set dev %s up\n' "$TB_UPLINK" "$TB_UPLINK" >&7; }
carrier_flap() {
    printf 'link set dev %s down\nlink set dev %s up\n' "$TB_RTR_LAN" "$TB_RTR_LAN" >&8
}

# mid_flap: an administrative flap, then, as soon as clatd finds the uplink usable again
# (after a Router Advertisement and DAD; `tail -f` sees the log line within a millisecond),
# another one 0-190 ms later: it lands while clatd queries DNS64 (a few ms) or provisions
# (script-up sleeps 0.2 s), or just after. Counts as two flaps.
mid_flap() {
    local mark
    mark=$(tb_clatd_mark)
    admin_flap
    timeout 5 tail -n "+$((mark + 1))" -f "$TB_DIR/clatd.log" | grep -q -m1 'uplink usable' &&
        MID_ACTIVE=$((MID_ACTIVE + 1))
    sleep "0.$((RANDOM % 2))$((RANDOM % 10))"
    admin_flap
}

# flap: one random flap; sets FLAPPED to how many it made. 2 %: a mid_flap. Otherwise an
# administrative or a carrier flap, then a pause: none (65 %), up to 30 ms (29 %) or
# 0.1-0.6 s (5 %).
flap() {
    FLAPPED=1
    if [ $((RANDOM % 100)) -lt 2 ]; then
        mid_flap
        FLAPPED=2
        return
    fi
    if [ $((RANDOM % 2)) = 0 ]; then admin_flap; else carrier_flap; fi
    local r=$((RANDOM % 100))
    if [ "$r" -lt 65 ]; then
        return 0
    elif [ "$r" -lt 94 ]; then
        sleep "0.0$((RANDOM % 3))$((RANDOM % 10))"
    else
        sleep "0.$((RANDOM % 5 + 1))"
    fi
}

scenarios() {
    local s0 s1 mark i started elapsed
    # The bed's router holds the DNS64's address on its end of the uplink: without this, a
    # carrier flap (its end down) would delete that address, and DNS64 with it, for good.
    tb__sysctl "$TB_NS_RTR" "net.ipv6.conf.$TB_RTR_LAN.keep_addr_on_down=1"
    s0=$(tb_snapshot)
    # A slow script-up (part of provisioning) makes Provision last long enough to be hit.
    printf 'v4-conncheck-delay=0\nscript-up=sleep 0.2\n' >"$TB_DIR/clatd.conf"
    tb_clatd_start
    tb_check "start: Running" tb_clatd_wait_state Running 20
    tb_check_ipv4 start
    tb_growth_mark start
    s1=$(tb_snapshot)

    echo "flaps: $FLAPS, seed $SEED (TB_SEED=$SEED repeats them)"
    RANDOM=$SEED
    MID_ACTIVE=0
    mark=$(tb_clatd_mark)
    started=$(date +%s%N)
    start_flapper || return 1
    for ((i = 0; i < FLAPS; i += FLAPPED)); do flap; done
    stop_flapper
    elapsed=$((($(date +%s%N) - started) / 1000000))
    tb_uplink up
    tb_uplink carrier-up
    echo "flaps: done in $elapsed ms; clatd's transitions during them:"
    tail -n "+$((mark + 1))" "$TB_DIR/clatd.log" | grep -o 'state [A-Za-z0-9]*->[A-Za-z0-9]*' |
        sort | uniq -c | sed 's/^/  /'
    tb_check "flaps: $MID_ACTIVE sent as clatd got going; some landed mid-provisioning" \
        tb_clatd_log_has "Provision->Teardown reason=uplink lost" "$mark"
    tb_check "flaps: clatd survived" tb_alive "$(tb_clatd_pid)"

    tb_check "end: SLAAC back" tb_wait_slaac 15
    tb_check "end: Running within 20 s" tb_wait_status state Running 20
    tb_check_ipv4 end
    tb_check "end: one clat device" tb_equals "$(tb_host ip -o link show type tun | wc -l)" 1
    tb_check "end: one IPv4 default route, through clat" tb_equals \
        "$(tb_host ip -4 route show default)" \
        "$(echo "$s1" | sed -n '/^## routes4/,/^## routes6/p' | grep '^default')"
    tb_check "end: host state as in Running before the flaps" same_as_before "$s1"
    tb_check "end: one TAYGA, clatd's child" tb_equals \
        "$(tayga_in_host_ns) $(pgrep -P "$(tb_clatd_pid)" -x tayga | wc -l)" "1 1"
    tb_check "end: translator_pid is clatd's TAYGA" tb_equals \
        "$(tb_status translator_pid)" "$(tb_translator_pid)"
    tb_check "end: no zombie child" tb_equals "$(zombie_children)" 0
    tb_check_no_growth end "the flaps" "$RSS_GROWTH_MAX_KIB"
    tb_clatd_stop_check stop "$s0"
}

tb_run_bed
