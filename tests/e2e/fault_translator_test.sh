#!/usr/bin/env bash
# e2e.fault_translator: TAYGA killed (SIGKILL) 50 times in a row (SPEC §9). With
# tayga-restart-delay=0.05 the supervision runs 20 times faster than by default: restarts
# after 50 ms doubling to a 3 s cap, a run of 3 s resets the back-off, an exit within 0.5 s
# of the start is a fast failure, 5 of them within 15 s give up (Failed).
# Each kill targets the current TAYGA and waits for the next one. The kills follow a schedule
# of fast kills (at once), slow ones (after 0.7 s: no fast failure) and stable ones (after
# 3.2 s: the back-off resets); a model of the policy predicts each outcome. Checked:
#   - each restart delay the agent announces is the model's (doubling, capped, reset by a
#     stable run and by leaving Failed), and the new TAYGA never starts sooner: by the agent's
#     log (exit -> start) and by the kernel (/proc/PID/stat start time - time of the kill);
#     every exit is logged with its pid after that TAYGA's start (a TAYGA killed within
#     microseconds of its exec used to be reported as pid 0, before its start);
#   - the fifth fast failure gives up: Failed on D-Bus with the reason, no TAYGA; then
#     `clatctl rediscover` or `clatctl reload` restarts it and the kills go on;
#   - at the end: Running, IPv4 (ping + HTTP), translator_restarts = 50 (every kill ends in
#     exactly one new TAYGA, by a restart or by the operator), translator_pid is clatd's
#     TAYGA, the same number of file descriptors as before the kills, RSS growth < 512 KiB;
#     after SIGTERM the host is as before clatd started.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2016,SC2119  # tb_wait_for evaluates its string; calls without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup

DELAY_MS=50 # tayga-restart-delay
MAX_MS=$((DELAY_MS * 60))
WINDOW_MS=$((DELAY_MS * 300))
LIMIT=5
# Measured: clatd's VmRSS (about 7.4 MiB) did not grow at all over the 50 kills in 6 runs.
# A leak per kill (a TAYGA's pty buffers, its tayga.conf text, a child record) of a few KiB
# would show as 100 KiB and more; 512 KiB leaves room for malloc arenas settling in.
RSS_GROWTH_MAX_KIB=512
# F: kill at once (a fast failure); S: when TAYGA has run 0.7 s (not fast, not stable); L: when
# it has run 3.2 s (a stable run: the back-off resets; the first TAYGA has run that long
# anyway). Fast failures between two recoveries all fall within a few seconds, far inside the
# 15 s window, so the model's give-ups are certain.
SCHEDULE="L FFFFF FSFFFF SSSSSSSSLFFFFF FFFFF SFLFFFF FFFFF FFSFFF S"
KILLS=50

steps=0        # the model's doublings for the next restart
fast_times=()  # the model's fast failures (ms, the test's clock) since the last recovery
recoveries=0

# Time without forking (each kill is measured to the millisecond): NOW in ms (wall clock),
# UP in 10 ms ticks since boot (the clock of /proc/PID/stat's start time).
now() { NOW=$((${EPOCHREALTIME/./} / 1000)); }
uptime_cs() {
    local up
    read -r up _ </proc/uptime
    UP=${up/./}
    UP=$((10#$UP))
}
# start_cs PID: sets START to the process's start time in ticks since boot (empty if gone).
start_cs() {
    local stat=()
    START=
    read -r -a stat <"/proc/$1/stat" 2>/dev/null && START=${stat[21]}
}

# tayga_child: sets CHILD to clatd's TAYGA child (empty if none), reading /proc only: pgrep
# would cost more than the shortest restart delay.
tayga_child() {
    local f kids=() c comm
    CHILD=
    for f in "/proc/$CLATD_PID/task/"*/children; do
        read -r -a kids <"$f" 2>/dev/null
        for c in "${kids[@]}"; do
            read -r comm <"/proc/$c/comm" 2>/dev/null && [ "$comm" = tayga ] && CHILD=$c
        done
    done
}

# model KIND KILL_MS: sets EXPECTED to the restart delay the policy predicts in ms, or giveup.
model() {
    local kind=$1 t=$2 kept=() f
    [ "$kind" = L ] && steps=0
    for f in "${fast_times[@]}"; do [ $((t - f)) -lt "$WINDOW_MS" ] && kept+=("$f"); done
    fast_times=("${kept[@]}")
    [ "$kind" = F ] && fast_times+=("$t")
    if [ "${#fast_times[@]}" -ge "$LIMIT" ]; then
        EXPECTED=giveup
        return
    fi
    EXPECTED=$((DELAY_MS << steps))
    [ "$EXPECTED" -lt "$MAX_MS" ] && steps=$((steps + 1))
    [ "$EXPECTED" -gt "$MAX_MS" ] && EXPECTED=$MAX_MS
}

# wait_new_tayga OLD TIMEOUT_MS: sets NEW to the next TAYGA (not OLD) once it runs.
wait_new_tayga() {
    local end
    now
    end=$((NOW + $2))
    NEW=
    while :; do
        tayga_child
        if [ -n "$CHILD" ] && [ "$CHILD" != "$1" ]; then
            NEW=$CHILD
            return 0
        fi
        now
        [ "$NOW" -lt "$end" ] || return 1
        sleep 0.01
    done
}

# wait_age MS: sleeps until TAYGA $PID has run MS.
wait_age() {
    local left
    start_cs "$PID"
    uptime_cs
    left=$((START * 10 + $1 - UP * 10))
    [ "$left" -le 0 ] || sleep "$((left / 1000)).$(printf %03d $((left % 1000)))"
}

# wait_failed TIMEOUT_S: waits until D-Bus says Failed; sets FAILED to "reason|translator_pid".
wait_failed() {
    local end json
    now
    end=$((NOW + $1 * 1000))
    while :; do
        json=$(tb_ctl status --json 2>/dev/null)
        FAILED=$(echo "$json" | "$TB_PY" -c 'import json, sys
s = json.load(sys.stdin)
if s["state"] == "Failed":
    print(s["reason"] + "|" + str(s["translator_pid"]))' 2>/dev/null)
        [ -n "$FAILED" ] && return 0
        now
        [ "$NOW" -lt "$end" ] || return 1
        sleep 0.05
    done
}

expected_reason="translator failed 5 times within 15 s, last killed by signal 9 (Killed); \
waiting for reload, rediscover or an uplink change"

# kill_once N KIND: kills TAYGA $PID after the wait KIND asks for, checks the outcome against
# the model and sets PID to the next TAYGA (empty when none came).
kill_once() {
    local n=$1 kind=$2 old=$PID t up seen how
    case $kind in
    S) wait_age 700 ;;  # > 0.5 s: no fast failure; < 3 s: no stable run
    L) wait_age 3200 ;; # > 3 s: a stable run
    esac
    now
    uptime_cs
    t=$NOW up=$UP
    kill -KILL "$old"
    model "$kind" "$t"
    PID=
    if [ "$EXPECTED" = giveup ]; then
        recoveries=$((recoveries + 1))
        tb_check "kill $n ($kind): gave up (Failed)" wait_failed 5 || return 1
        tb_check "kill $n: reason on D-Bus, no translator_pid" tb_equals "$FAILED" \
            "$expected_reason|0"
        tayga_child
        tb_check "kill $n: no TAYGA in Failed" tb_equals "$CHILD" ""
        how=$([ $((recoveries % 2)) = 1 ] && echo rediscover || echo reload)
        tb_ctl "$how" >/dev/null 2>&1
        tb_check "kill $n: clatctl $how exits 0" tb_equals "$?" 0
        steps=0
        fast_times=()
        wait_new_tayga "$old" 5000
        tb_check "kill $n: TAYGA back after clatctl $how ($NEW)" test -n "$NEW" || return 1
        now
        PID=$NEW
        echo "$n $kind $old $NEW giveup-$how $t $((NOW - t)) 0" >>"$TB_DIR/kills.log"
        return 0
    fi
    if ! wait_new_tayga "$old" $((EXPECTED + 5000)); then
        tb_check "kill $n ($kind): a new TAYGA within $((EXPECTED + 5000)) ms" false
        return 1
    fi
    now
    seen=$((NOW - t))
    start_cs "$NEW"
    PID=$NEW
    echo "$n $kind $old $NEW $EXPECTED $t $seen $((START - up))" >>"$TB_DIR/kills.log"
}

# Checks the agent's log against the kill records: the announced delay is the model's, and the
# next TAYGA started no sooner than that after the agent saw the exit.
check_log() {
    "$TB_PY" - "$TB_DIR/kills.log" "$TB_DIR/clatd.log" <<'PY'
import re, sys
from datetime import datetime
kills = [l.split() for l in open(sys.argv[1])]
log = open(sys.argv[2]).read().splitlines()
def ts(line):
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f").timestamp() * 1000
def text(ms):
    ms = int(ms)
    return f"{ms // 1000} s" if ms % 1000 == 0 else f"{ms} ms"
bad = 0
for n, kind, old, new, expected, _t, _seen, _gap in kills:
    exited = next((i for i, l in enumerate(log) if f"tayga exited pid={old} " in l), None)
    started = next((i for i, l in enumerate(log) if f"tayga started pid={new} " in l), None)
    if exited is None or started is None:
        print(f"FAIL: kill {n}: log lacks the exit of {old} or the start of {new}")
        bad += 1
        continue
    between = log[exited:started]
    if expected.startswith("giveup"):
        if not any("state Running->Failed reason=translator gave up: killed by signal 9" in l
                   for l in between):
            print(f"FAIL: kill {n}: no give-up logged")
            bad += 1
        continue
    announced = [m.group(1) for l in between
                 for m in [re.search(r"translator killed by signal 9 \(Killed\), restart in (\d+ m?s)", l)] if m]
    gap = ts(log[started]) - ts(log[exited])
    if announced != [text(expected)]:
        print(f"FAIL: kill {n} ({kind}): announced {announced}, model {text(expected)}")
        bad += 1
    elif gap < int(expected):
        print(f"FAIL: kill {n}: restarted {gap:.0f} ms after the exit, announced {expected} ms")
        bad += 1
sys.exit(1 if bad else 0)
PY
}

# The kernel's view: the new TAYGA's start time (10 ms ticks) minus the time of the kill.
check_kernel_gaps() {
    local n kind old new expected t seen gap bad=0
    while read -r n kind old new expected t seen gap; do
        case $expected in giveup*) continue ;; esac
        if [ $((gap * 10)) -lt "$expected" ]; then
            echo "  kill $n: TAYGA $new started $((gap * 10)) ms after the kill of $old," \
                "delay $expected ms"
            bad=1
        fi
    done <"$TB_DIR/kills.log"
    return $bad
}

scenarios() {
    local s0 n=0 kind i started elapsed
    s0=$(tb_snapshot)
    printf 'v4-conncheck-delay=1\ntayga-restart-delay=0.05\n' >"$TB_DIR/clatd.conf"
    tb_clatd_start
    tb_check "start: Running" tb_clatd_wait_state Running 20
    tb_check_ipv4 start
    tb_check "start: effective tayga-restart-delay 0.05" tb_equals \
        "$("$CLATD" --check-config -c "$TB_DIR/clatd.conf" | grep '^tayga-restart-delay=')" \
        "tayga-restart-delay=0.05"
    CLATD_PID=$(tb_clatd_pid)
    PID=$(tb_translator_pid)
    tb_check "start: TAYGA runs ($PID)" test -n "$PID"
    tb_check_status start translator_pid "$PID"
    tb_growth_mark start
    : >"$TB_DIR/kills.log"

    now
    started=$NOW
    for ((i = 0; i < ${#SCHEDULE}; i++)); do
        kind=${SCHEDULE:i:1}
        [ "$kind" = " " ] && continue
        n=$((n + 1))
        kill_once "$n" "$kind" || break
    done
    now
    elapsed=$((NOW - started))
    tb_check "kills: all $KILLS done in $elapsed ms" tb_equals "$(wc -l <"$TB_DIR/kills.log")" "$KILLS"
    tb_check "kills: $recoveries give-ups, each recovered by the operator" tb_equals \
        "$(grep -c giveup "$TB_DIR/kills.log")" 7
    tb_check "kills: announced delays follow the back-off; no restart sooner (log)" check_log
    tb_check "kills: no TAYGA started sooner than its delay after the kill (kernel)" \
        check_kernel_gaps
    tb_check "kills: the cap was reached twice" tb_equals \
        "$(awk '$5 == '"$MAX_MS"'' "$TB_DIR/kills.log" | wc -l)" 2

    tb_check "end: Running" tb_wait_status state Running 5
    tb_check_status end translator_restarts "$KILLS"
    tb_check "end: translator_pid is clatd's TAYGA" tb_wait_for \
        '[ "$(tb_status translator_pid)" = "$(tb_translator_pid)" ]' 5
    tb_check "end: exactly one TAYGA" tb_equals "$(pgrep -P "$(tb_clatd_pid)" -x tayga | wc -l)" 1
    tb_check_ipv4 end
    tb_check_no_growth end "the kills" "$RSS_GROWTH_MAX_KIB"
    tb_clatd_stop_check stop "$s0"
    echo "---- kills: N kind old-pid new-pid delay-ms kill-time-ms seen-after-ms started-after-cs"
    cat "$TB_DIR/kills.log"
}

tb_run_bed
