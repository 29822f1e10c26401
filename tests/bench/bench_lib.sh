# shellcheck shell=bash
# The figures of scripts/bench, one function each, on a bed from tests/e2e/testbed.sh (sourced
# by the script before this file). Each writes `f<N>.<key>=<value>` lines to $RESULTS with put;
# tests/bench/report.py turns them into the table. Diagnostics go to stderr, stdout stays
# for the table. Needs BENCH (the clat_bench tool), CLATD, CLATCTL.

BENCH_CONF='v4-conncheck-delay=0'
BENCH_V6_NET=2001:db8:fe::  # native IPv6 between the router and the server side (figure 6)

put() { printf '%s=%s\n' "$1" "$2" >>"$RESULTS"; }

## field FILE KEY [LINE_PREFIX]: the value of KEY=… on the first line (starting with
## LINE_PREFIX) of FILE that has it.
field() {
    grep -E "^${3:-}" "$1" 2>/dev/null | grep -oE "(^| )$2=[^ ]*" | head -n 1 | sed 's/.*=//'
}

## line FILE PREFIX: the first line of FILE starting with PREFIX, without it.
line() { sed -n "s/^$2 *//p" "$1" | head -n 1; }

bench__log() { echo "bench: $*" >&2; }

## bench_ensure_running: clatd (with -d, v4-conncheck-delay=0) runs and IPv4 works through it.
bench_ensure_running() {
    local pid
    pid=$(tb_clatd_pid)
    [ -n "$pid" ] && tb_alive "$pid" && return 0
    echo "$BENCH_CONF" >"$TB_DIR/clatd.conf"
    tb_clatd_start || return 1
    tb_clatd_wait_state Running 30 >&2 && tb_wait_ipv4 10 && sleep 1
}

# Figure 2: t0 is stamped by clat_bench right before it execs clatd (a wrapper stands in for
# $CLATD); the probe loop (TCP connects every 5 ms) runs in the host namespace from before.
# TIMING (tb_nd_timing): defaults, the kernel's ND timing on the uplink (RetransTimer 1 s,
# proxy_delay 0.8 s), as users have it; fast, the bed's 100 ms and 0, kept for comparison.
# clatd's runtime directory is on tmpfs (TB_RUN_TMPFS), as /run is on a host: the journal is
# fdatasync'ed per change, which the bed's disk makes cost milliseconds each.
# Called again, it adds runs (report.py joins the samples of every call).
bench_cold_start() {
    # shellcheck disable=SC2034  # read by tb_run_dir, which tb_clatd_start calls
    local runs=$1 timing=${2:-defaults} i probe t0 reply samples=() TB_RUN_TMPFS=1
    local wrapper=$TB_DIR/clatd-stamped key=f2
    [ "$timing" = fast ] && key=f2fast
    [ -z "$(tb_clatd_pid)" ] || tb_clatd_stop >/dev/null
    tb_nd_timing "$timing" || bench__log "cannot set the uplink's ND timing to $timing"
    printf '#!/bin/sh\nexec "%s" stamp-exec "%s" "%s" "$@"\n' "$BENCH" "$TB_DIR/t0" "$CLATD" \
        >"$wrapper"
    chmod +x "$wrapper"
    echo "$BENCH_CONF" >"$TB_DIR/clatd.conf"
    for ((i = 1; i <= runs; i++)); do
        [ -z "$(tb_clatd_pid)" ] || tb_clatd_stop >/dev/null
        rm -f "$TB_DIR/t0" "$TB_DIR/probe.ready"
        tb_host "$BENCH" probe --dst "$TB_SERVER4" --port 80 --interval-ms 5 --timeout-ms 20000 \
            --ready-file "$TB_DIR/probe.ready" >"$TB_DIR/probe.out" 2>&1 &
        probe=$!
        tb_wait_for "[ -s $TB_DIR/probe.ready ]" 5
        CLATD=$wrapper tb_clatd_start
        wait "$probe"
        t0=$(cat "$TB_DIR/t0" 2>/dev/null)
        reply=$(field "$TB_DIR/probe.out" reply_us)
        if [ -n "$t0" ] && [ "${reply:-0}" != 0 ]; then
            samples+=($((reply - t0)))
        else
            bench__log "cold start $i: no IPv4 reply ($(cat "$TB_DIR/probe.out"))"
        fi
        tb_clatd_stop >/dev/null
    done
    put "$key.runs" "$runs"
    put "$key.samples_us" "${samples[*]}"
    tb_nd_timing fast
}
bench_cold_start_defaults() { bench_cold_start "$1" defaults; }
bench_cold_start_fast() { bench_cold_start "$1" fast; }

# Figure 1: clat_bench adds/removes 2001:db8:ffee::1/128 on the uplink and reads the
# "reconcile done" lines of the debug log.
bench_events() {
    local out=$TB_DIR/events.out
    tb_host "$BENCH" events --dev "$TB_UPLINK" --log "$TB_DIR/clatd.log" --count "$1" \
        >"$out" 2>&1 || bench__log "events: $(cat "$out")"
    put f1.events "$1"
    put f1.total "$(line "$out" event_to_done_us)"
    put f1.internal "$(line "$out" agent_internal_us)"
    put f1.messages "$(line "$out" messages_per_batch)"
    put f1.missed "$(field "$out" missed)"
}

status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

## bench_timers PID: the agent's armed timerfds ("next expiry in s" each; Asio keeps one for
## the earliest of its timers).
bench_timers() {
    local fd out=""
    for fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:[timerfd]" ] || continue
        out+=$(awk '/^it_value/ {gsub(/[(),]/, " "); printf "%.2fs ", $2 + $3 / 1e9}' \
            "/proc/$1/fdinfo/${fd##*/}")
    done
    echo "${out% }"
}

# Figure 4: context switches from /proc/<pid>/status over the window; what woke the agent
# up is read from its log (netlink batches, DNS64 refresh queries).
bench_idle() {
    local secs=$1 pid mark v0 n0 v1 n1 window
    pid=$(tb_clatd_pid)
    sleep 2
    mark=$(tb_clatd_mark)
    v0=$(status_kb "$pid" voluntary_ctxt_switches)
    n0=$(status_kb "$pid" nonvoluntary_ctxt_switches)
    sleep "$secs"
    v1=$(status_kb "$pid" voluntary_ctxt_switches)
    n1=$(status_kb "$pid" nonvoluntary_ctxt_switches)
    window=$(tail -n "+$((mark + 1))" "$TB_DIR/clatd.log")
    put f4.seconds "$secs"
    put f4.voluntary "$((v1 - v0))"
    put f4.nonvoluntary "$((n1 - n0))"
    put f4.rss_kb "$(status_kb "$pid" VmRSS)"
    put f4.hwm_kb "$(status_kb "$pid" VmHWM)"
    put f4.threads "$(status_kb "$pid" Threads)"
    put f4.netlink_batches "$(grep -c 'reconcile done' <<<"$window")"
    put f4.dns64_queries "$(grep -c 'dns64 prefix=\|dns64 none' <<<"$window")"
    put f4.dns64_ttl_s "$(grep -o 'expires-in=[0-9]*' <<<"$window" | tail -n 1 | cut -d= -f2)"
    put f4.other_lines "$(grep -vc \
        'reconcile done\|dns64 prefix=\|event PlatDiscovered\|effect publish-status' <<<"$window")"
    put f4.timers "$(bench_timers "$pid")"
}

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
sched_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }

## bench_wait_quiet PID: until the agent used under 2 ms of CPU in 0.5 s (at most 60 s).
bench_wait_quiet() {
    local a b i
    for ((i = 0; i < 120; i++)); do
        a=$(sched_ns "$1")
        sleep 0.5
        b=$(sched_ns "$1")
        [ $((b - a)) -lt 2000000 ] && return 0
    done
    return 1
}

## bench_storm_device: a veth pair bench0/bench0p in the host namespace beside the uplink (no
## route, no global address: clatd never takes it for an uplink), for the address storm.
bench_storm_device() {
    tb_host sh -c 'ip link add bench0 type veth peer name bench0p &&
        sysctl -qw net.ipv6.conf.bench0.accept_dad=0 net.ipv6.conf.bench0p.accept_dad=0 &&
        ip link set bench0 up && ip link set bench0p up'
}

# Figure 5, one storm KIND of EVENTS events (clat_bench storm: half adds, half deletes):
# route4, route6 unreachable routes in table 1234; addr6 /128 addresses on bench0, 256 requests
# per datagram; addr6-acked the same one by one, each acknowledged (as `ip -batch`). In the middle
# clat_bench deletes the IPv4 default route through the clat device and times its return. CPU
# from /proc/<pid>/stat (utime+stime, ticks) and, finer, /proc/<pid>/task/*/schedstat (ns on
# CPU), from a quiet agent before to a quiet agent after. Keys f5.<KIND>.*.
bench_storm() {
    local kind=$1 count=$(($2 / 2)) k=f5.$1 out=$TB_DIR/storm-$1.out pid mark c0 s0 c1 s1 hz
    local how=(--kind "${1%-acked}") log
    pid=$(tb_clatd_pid)
    hz=$(getconf CLK_TCK)
    [ "$kind" = "${kind%-acked}" ] || how+=(--acked)
    if [ "${kind%-acked}" = addr6 ]; then
        bench_storm_device || bench__log "storm: cannot create bench0 beside the uplink"
        how+=(--dev bench0)
    fi
    # The previous storm's route must be back, and the agent done with what came before.
    tb_wait_for "tb_host ip -4 route show default dev clat | grep -q ." 15 ||
        bench__log "storm $kind: no IPv4 default route via clat before the storm"
    bench_wait_quiet "$pid" || bench__log "storm $kind: the agent is busy before the storm"
    mark=$(tb_clatd_mark)
    c0=$(cpu_ticks "$pid")
    s0=$(sched_ns "$pid")
    tb_host "$BENCH" storm "${how[@]}" --count "$count" --table 1234 \
        --break-dev clat --restore-timeout-ms 15000 >"$out" 2>&1 || bench__log "storm: $(cat "$out")"
    bench_wait_quiet "$pid" || bench__log "storm $kind: the agent is still busy"
    c1=$(cpu_ticks "$pid")
    s1=$(sched_ns "$pid")
    log=$(tail -n "+$((mark + 1))" "$TB_DIR/clatd.log")
    [ "${kind%-acked}" != addr6 ] || tb_host ip link del bench0
    put "$k.events" "$(field "$out" events)"
    put "$k.errors" "$(field "$out" errors)"
    put "$k.rate_per_s" "$(field "$out" rate_per_s)"
    put "$k.generation_us" "$(field "$out" generation_us)"
    put "$k.cpu_us" "$(((c1 - c0) * 1000000 / hz))"
    put "$k.sched_us" "$(((s1 - s0) / 1000))"
    put "$k.break_us" "$(field "$out" break_us)"
    put "$k.storm_end_us" "$(field "$out" storm_end_us)"
    put "$k.restored_us" "$(field "$out" restored_us)"
    put "$k.route_back" "$(tb_host ip -4 route show default dev clat | grep -q . && echo yes || echo no)"
    put "$k.overruns" "$(grep -c 'netlink overrun' <<<"$log")"
    put "$k.resync_failures" "$(grep -c 'netlink resync failed' <<<"$log")"
    put "$k.batches" "$(grep -c 'reconcile done' <<<"$log")"
}

iperf_bps() {
    "$TB_PY" -c 'import json, sys
print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$1" \
        2>/dev/null
}

# Figure 6: the CLAT alone, in each data path, next to native IPv6 on the same veth. The
# router holds the IPv4-embedded address of BENCH_CLAT_TARGET4 (in the PLAT prefix) as a /128
# of its own on lan0, so the translated packets end there and no PLAT is in the path; iperf3
# listens on it. Native IPv6 goes to the router's own lan0 address. For each of data-path=bpf
# and data-path=tayga clatd is started afresh; each run is iperf3 TCP from the host (up), TCP
# to the host (-R, down) and UDP with 64-byte payloads as fast as the sender goes (the
# receiver's packets per second). CPU: the whole machine's busy time (/proc/stat) during the
# TCP upload, per Gbit carried (sender, receiver, translator and softirqs all count).
BENCH_CLAT_TARGET4=198.51.100.77

## bench__busy: the machine's busy CPU time so far, in USER_HZ ticks.
bench__busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

## bench__iperf NAME KEY ARGS...: runs iperf3 in the host namespace with ARGS; puts
## f6.NAME_bps (TCP) or f6.NAME_pps (UDP), and f6.NAME_cpu_s_per_gbit for TCP.
bench__iperf() {
    local name=$1 udp=$2 before after json=$TB_DIR/iperf.$1.json
    shift 2
    before=$(bench__busy)
    tb_host iperf3 "$@" -J >"$json" 2>&1
    after=$(bench__busy)
    if [ "$udp" = udp ]; then
        put "f6.${name}_pps" "$("$TB_PY" -c 'import json, sys
s = json.load(open(sys.argv[1]))["end"]["sum"]
print(int((s["packets"] - s["lost_packets"]) / s["seconds"]))' "$json" 2>/dev/null)"
    else
        put "f6.${name}_bps" "$(iperf_bps "$json")"
        put "f6.${name}_cpu_ticks" "$((after - before))"
        put "f6.${name}_bytes" "$("$TB_PY" -c 'import json, sys
print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"]))' "$json" 2>/dev/null)"
    fi
}

## bench__paths SECS TARGET PORT FAMILY NAME: TCP up, TCP down and small UDP towards TARGET.
bench__paths() {
    local secs=$1 target=$2 port=$3 family=$4 name=$5
    bench__iperf "${name}_up" tcp "$family" -c "$target" -p "$port" -t "$secs"
    bench__iperf "${name}_down" tcp "$family" -c "$target" -p "$port" -t "$secs" -R
    bench__iperf "${name}_udp" udp "$family" -c "$target" -p "$port" -t "$secs" -u -b 0 -l 64
}

bench_throughput() {
    local secs=$1 embedded native mode
    embedded=$(tb_synth "$BENCH_CLAT_TARGET4")
    native=$TB_DNS64
    ip -n "$TB_NS_RTR" addr add "$embedded/128" dev "$TB_RTR_LAN" nodad ||
        bench__log "throughput: cannot add $embedded on the router"
    # Each server bound to its address: UDP answers leave from the address they were sent to
    # (unbound, the router would pick its lan0 address, outside the PLAT prefix).
    tb_spawn rtr iperf iperf3 -s -p 5201 -B "$embedded"
    tb_spawn rtr iperf6 iperf3 -s -p 5202 -B "$native"
    tb_wait_for "ip netns exec $TB_NS_RTR ss -ltn | grep -q ':5201 ' &&
        ip netns exec $TB_NS_RTR ss -ltn | grep -q ':5202 '" 5
    for mode in bpf tayga; do
        tb_clatd_stop >/dev/null 2>&1
        printf '%s\nplat-prefix=%s\ndata-path=%s\n' "$BENCH_CONF" "$TB_PLAT_PREFIX" "$mode" \
            >"$TB_DIR/clatd.conf"
        if ! { tb_clatd_start && tb_clatd_wait_state Running 30 >&2 &&
            tb_wait_for "tb_host ping -4 -c1 -W1 $BENCH_CLAT_TARGET4 >/dev/null" 10; }; then
            bench__log "throughput: clatd with data-path=$mode does not reach Running"
            continue
        fi
        put "f6.${mode}_data_path" "$(tb_status data_path)"
        put "f6.${mode}_route_mtu" "$(tb_host ip -4 route show default dev clat |
            sed -n 's/.* mtu \([0-9]*\).*/\1/p')"
        bench__paths "$secs" "$BENCH_CLAT_TARGET4" 5201 -4 "$mode"
    done
    bench__paths "$secs" "$native" 5202 -6 native
    tb_stop iperf
    tb_stop iperf6
    ip -n "$TB_NS_RTR" addr del "$embedded/128" dev "$TB_RTR_LAN"
    tb_clatd_stop >/dev/null 2>&1
    echo "$BENCH_CONF" >"$TB_DIR/clatd.conf"
    put f6.seconds "$secs"
    put f6.hz "$(getconf CLK_TCK)"
    put f6.uplink_mtu "$(tb_host cat "/sys/class/net/$TB_UPLINK/mtu")"
    put f6.ipv4_target "$BENCH_CLAT_TARGET4 ($embedded on the router)"
    put f6.ipv6_target "$native"
}

# Figure 3: the probe counts only answers after the first IPv6 reply addressed into the new
# prefix reached the uplink, i.e. IPv4 working through the new CLAT address. Called again, it
# goes on with the next prefixes (report.py joins the samples of every call).
BENCH_RENUMBERED=0 # renumberings of this bed so far: each takes the next prefix

bench_renumber() {
    local runs=$1 i prefix probe t0 out=$TB_DIR/renumber.out reply path addr
    local samples=() paths=() addrs=()
    for ((i = 1; i <= runs; i++)); do
        BENCH_RENUMBERED=$((BENCH_RENUMBERED + 1))
        prefix=2001:db8:$((BENCH_RENUMBERED + 1))::/64
        rm -f "$TB_DIR/probe.ready"
        tb_host "$BENCH" probe --dst "$TB_SERVER4" --port 80 --interval-ms 5 --timeout-ms 20000 \
            --new-prefix "$prefix" --dev "$TB_UPLINK" --ready-file "$TB_DIR/probe.ready" \
            >"$out" 2>&1 &
        probe=$!
        tb_wait_for "[ -s $TB_DIR/probe.ready ]" 5
        t0=$("$BENCH" now)
        tb_renumber "$prefix"
        wait "$probe"
        reply=$(field "$out" reply_us) path=$(field "$out" path_us) addr=$(field "$out" address_us)
        if [ "${reply:-0}" != 0 ]; then
            samples+=($((reply - t0)))
            [ "${path:-0}" = 0 ] || paths+=($((path - t0)))
            [ "${addr:-0}" = 0 ] || addrs+=($((addr - t0)))
        else
            bench__log "renumbering $i: IPv4 did not come back ($(cat "$out"))"
        fi
        tb_wait_slaac 10
        tb_clatd_wait_state Running 10 >&2
        sleep 1
    done
    put f3.runs "$runs"
    put f3.samples_us "${samples[*]}"
    put f3.path_us "${paths[*]}"
    put f3.address_us "${addrs[*]}"
}
