#!/usr/bin/env bash
# clatctl against the real DbusService (run by a fake agent) on a private system-bus-style
# dbus-daemon that includes the shipped policy file (SPEC §8): status, JSON, monitor, reload
# good and bad, access control by the policy and by the agent, introspection data, the agent
# outliving the bus, and clear exit codes when the agent or the bus is gone.
# Usage: clatctl_test.sh CLATCTL FAKE_AGENT POLICY INTROSPECTION_XML   (root: uses setpriv)
set -u
clatctl_bin=$(realpath "$1") agent_bin=$(realpath "$2") policy=$(realpath "$3") xml=$(realpath "$4")
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (setpriv, a second user)"; exit 77; }
for tool in dbus-daemon dbus-send setpriv python3; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
getent group users >/dev/null || { echo "SKIP: no group 'users'"; exit 77; }
. "$here/bus_lib.sh"

tmp=$(mktemp -d)
chmod 755 "$tmp"  # nobody must reach the bus socket and the clatctl copy
agent_pid=""
monitor_pid=""
cleanup() {
    [ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
    stop_bus "$tmp/bus.pid"
    rm -rf "$tmp"
}
trap cleanup EXIT
# A copy nobody can execute wherever the build directory is.
install -m 755 "$clatctl_bin" "$tmp/clatctl"
clatctl=$tmp/clatctl
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/bus"
as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
as_nobody_admin=(setpriv --reuid=nobody --regid=nogroup --groups=users)

failures=0
pass() { echo "ok: $*"; }
fail() {
    echo "FAIL: $*"
    echo "  stdout: $(head -c 2000 "$tmp/out")"
    echo "  stderr: $(head -c 2000 "$tmp/err")"
    failures=$((failures + 1))
}
# run CMD...: runs it, stdout in $tmp/out, stderr in $tmp/err, exit code in $rc.
run() {
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}
# expect CODE DESCRIPTION CMD...
expect() {
    local code=$1 what=$2
    shift 2
    run "$@"
    if [ "$rc" -eq "$code" ]; then pass "$what (exit $rc)"; else fail "$what: exit $rc, want $code"; fi
}
# wait_until SECONDS CMD...: retries CMD every 0.2 s.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.2
    done
}
json_field() {  # json_field FIELD < one JSON object
    python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
# $CLAT_TEST_WRAPPER (e.g. "valgrind --error-exitcode=99 --leak-check=full") wraps the agent;
# its exit status is checked when the agent is stopped.
start_agent() {
    FAKE_AGENT_CONFIG=$tmp/agent.conf FAKE_AGENT_ADMIN_GROUP=users ${CLAT_TEST_WRAPPER:-} \
        "$agent_bin" >>"$tmp/agent.log" 2>&1 &
    agent_pid=$!
}
grep_err() { grep -q -- "$1" "$tmp/err" && pass "stderr says '$1'" || fail "stderr lacks '$1'"; }

write_bus_config "$tmp/bus.conf" "$tmp/bus" "$policy"
echo "plat-prefix 2001:db8:64::/96" >"$tmp/agent.conf"

# --- The agent starts before the bus exists, and connects when it appears.
start_agent
sleep 1
kill -0 "$agent_pid" 2>/dev/null && pass "agent runs without a bus" || fail "agent died without a bus"
expect 3 "status without a bus" "$clatctl" status
grep_err "cannot reach the system bus"
start_bus "$tmp/bus.conf" "$tmp/bus.pid" || { echo "FAIL: dbus-daemon did not start"; exit 1; }
if wait_until 10 "$clatctl" status; then
    pass "agent connected after the bus appeared"
else
    fail "agent did not connect within 10 s"; cat "$tmp/agent.log"; exit 1
fi

# --- status, human and JSON.
expect 0 "status" "$clatctl" status
grep -Eq '^State: +Idle$' "$tmp/out" && pass "status shows State" || fail "no 'State: Idle' line"
grep -Eq '^Reason: +no IPv6 default route$' "$tmp/out" && pass "status shows Reason" ||
    fail "no Reason line"
columns=$(awk -F': ' '{ match($0, /: +/); print RSTART + RLENGTH }' "$tmp/out" | sort -u | wc -l)
[ "$columns" -eq 1 ] && pass "values aligned in one column" || fail "values in $columns columns"
expect 0 "status --json" "$clatctl" status --json
if python3 - "$tmp/out" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
want = {"state", "reason", "plat_prefix", "plat_source", "plat_expiry", "plat_dev", "clat_dev",
        "clat_v4", "clat_v6", "translator_pid", "translator_restarts", "firewall", "last_transition",
        "last_error", "rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "data_path",
        "data_path_reason", "fast_egress_packets", "fast_egress_bytes", "fast_ingress_packets",
        "fast_ingress_bytes", "fast_slow_path", "fast_dropped"}
assert set(s) == want, set(s) ^ want
assert s["data_path"] == "tayga" and s["data_path_reason"] == "", s
# No fast path in the fake agent: its counters are zero.
assert all(s[k] == 0 for k in want if k.startswith("fast_") and k.endswith(("_packets", "_bytes"))), s
assert s["state"] == "Idle" and s["reason"] == "no IPv6 default route", s
assert s["plat_prefix"] == "" and s["translator_pid"] == 0, s
assert isinstance(s["last_transition"], int) and s["last_transition"] > 1.6e15, s
# The fake device's counters grow with every read.
assert all(isinstance(s[k], int) and s[k] > 0 for k in want if k.endswith(("_packets", "_bytes")) and not k.startswith("fast_")), s
PY
then pass "JSON has every field with the right values"; else fail "JSON fields"; fi

# --- Live introspection data equals docs/net.clatd.Agent1.xml.
run dbus-send --system --print-reply=literal --dest=net.clatd /net/clatd \
    org.freedesktop.DBus.Introspectable.Introspect
cp "$tmp/out" "$tmp/live.xml"
if python3 "$here/same_interface.py" net.clatd.Agent1 "$xml" "$tmp/live.xml"; then
    pass "introspection matches $(basename "$xml")"
else
    fail "introspection differs from $xml"
fi

# --- monitor: each SIGUSR1 moves the fake agent to its next state.
# monitor_sees FILE PATTERN: advance the agent until FILE has a line matching PATTERN.
monitor_sees() {
    local i
    for i in 1 2 3 4 5; do
        kill -USR1 "$agent_pid"
        wait_until 2 grep -Eq "$2" "$1" && return 0
    done
    return 1
}
"$clatctl" monitor --json >"$tmp/monitor.json" 2>"$tmp/monitor.err" &
monitor_pid=$!
if monitor_sees "$tmp/monitor.json" '"state"'; then
    run "$clatctl" status --json
    now_state=$(json_field state <"$tmp/out")
    if python3 - "$tmp/monitor.json" "$now_state" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert lines and all(isinstance(l["timestamp"], int) for l in lines), lines
assert not any("rx_packets" in l for l in lines), "counters must not be announced"
assert [l for l in lines if "state" in l][-1]["state"] == sys.argv[2], (lines, sys.argv[2])
assert all("last_transition" in l for l in lines if "state" in l), lines
PY
    then pass "monitor --json printed the change to $now_state"; else fail "monitor --json lines"; fi
else
    fail "monitor --json printed nothing"; cat "$tmp/monitor.err"
fi
kill "$monitor_pid"; wait "$monitor_pid" 2>/dev/null
"$clatctl" monitor >"$tmp/monitor.txt" 2>"$tmp/monitor.err" &
monitor_pid=$!
if monitor_sees "$tmp/monitor.txt" 'State: [A-Za-z0-9]+ -> [A-Za-z0-9]+$'; then
    run "$clatctl" status --json
    now_state=$(json_field state <"$tmp/out")
    grep -Eq "State: [A-Za-z0-9]+ -> $now_state\$" "$tmp/monitor.txt" &&
        pass "monitor printed 'State: ... -> $now_state'" || fail "monitor: $(cat "$tmp/monitor.txt")"
else
    fail "monitor printed nothing"; cat "$tmp/monitor.err"
fi
kill "$monitor_pid"; wait "$monitor_pid" 2>/dev/null
monitor_pid=""

# --- Reload: accepted, rejected with the reason; the agent keeps answering.
expect 0 "reload of a good configuration" "$clatctl" reload
echo "bad value for plat-prefix" >"$tmp/agent.conf"
expect 5 "reload of a bad configuration" "$clatctl" reload
grep_err "reload rejected"
grep_err "bad value for plat-prefix"
expect 0 "status after a rejected reload" "$clatctl" status
expect 0 "rediscover" "$clatctl" rediscover
run "$clatctl" status --json
[ "$(json_field reason <"$tmp/out")" = "rediscovery requested" ] && pass "rediscover reached the agent" ||
    fail "rediscover did not reach the agent"

# --- Access: anyone reads; the policy keeps methods to root.
expect 0 "status as nobody" "${as_nobody[@]}" "$clatctl" status
grep -Eq '^State: ' "$tmp/out" && pass "nobody sees the state" || fail "nobody sees no state"
expect 4 "reload as nobody" "${as_nobody[@]}" "$clatctl" reload
grep_err "access denied"
expect 4 "rediscover as nobody" "${as_nobody[@]}" "$clatctl" rediscover
expect 4 "reload as a member of the admin group the policy does not list" \
    "${as_nobody_admin[@]}" "$clatctl" reload

# --- The agent checks callers itself: a bus whose policy lets everyone call the methods.
cat >"$tmp/open.conf" <<'XML'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy context="default">
    <allow send_destination="net.clatd" send_interface="net.clatd.Agent1"/>
  </policy>
</busconfig>
XML
stop_bus "$tmp/bus.pid"
write_bus_config "$tmp/bus.conf" "$tmp/bus" "$policy" "$tmp/open.conf"
start_bus "$tmp/bus.conf" "$tmp/bus.pid" || { echo "FAIL: second dbus-daemon"; exit 1; }
if wait_until 10 "$clatctl" status; then
    pass "agent reconnected after the bus restarted"
else
    fail "agent did not reconnect within 10 s"; cat "$tmp/agent.log"; exit 1
fi
echo "plat-prefix 2001:db8:64::/96" >"$tmp/agent.conf"
expect 4 "reload as nobody, refused by the agent" "${as_nobody[@]}" "$clatctl" reload
grep_err "only root or members of 'users'"
expect 0 "reload as a member of the admin group" "${as_nobody_admin[@]}" "$clatctl" reload
# A flood of refused calls (the open policy lets nobody through to the agent) is not a flood
# of log lines: 20 at once, then 1 a second, and the next line says how many were left out.
before=$(grep -c "dbus refused" "$tmp/agent.log")
flood_start=$SECONDS
"${as_nobody[@]}" bash -c 'for _ in $(seq 300); do
    dbus-send --system --print-reply --dest=net.clatd /net/clatd net.clatd.Agent1.Reload
done >/dev/null 2>&1'
sleep 1.2
"${as_nobody[@]}" dbus-send --system --print-reply --dest=net.clatd /net/clatd \
    net.clatd.Agent1.Reload >/dev/null 2>&1
logged=$(($(grep -c "dbus refused" "$tmp/agent.log") - before))
most=$((20 + SECONDS - flood_start + 2))  # the burst, then 1 a second (SECONDS: whole seconds)
if [ "$logged" -le "$most" ] && [ "$logged" -ge 2 ]; then
    pass "301 refused calls in $((SECONDS - flood_start)) s, $logged log lines"
else fail "301 refused calls gave $logged log lines (want 2..$most)"; fi
# Every refused call is accounted for: either logged or counted in a later line's suppressed=N
# (which line carries the count depends on when a token comes back, so no line is singled out).
counted=$(grep "dbus refused" "$tmp/agent.log" | tail -n +$((before + 1)) |
    awk '{ if (match($0, /suppressed=[0-9]+$/)) n += substr($0, RSTART + 11) } END { print n + 0 }')
if [ "$counted" -gt 0 ] && [ $((logged + counted)) -eq 301 ]; then
    pass "the suppressed count is logged: $logged lines + suppressed=$counted = 301 calls"
else fail "301 refused calls: $logged lines + suppressed=$counted counted"; fi
expect 0 "reload as root" "$clatctl" reload

# --- Gone: the agent, then the bus.
kill "$agent_pid"
wait "$agent_pid"
agent_status=$?
agent_pid=""
[ "$agent_status" -eq 0 ] && pass "agent stopped cleanly" || fail "agent exit $agent_status"
expect 3 "status without the agent" "$clatctl" status
grep_err "clatd is not running"
expect 3 "reload without the agent" "$clatctl" reload
expect 3 "monitor without the agent" "$clatctl" monitor
stop_bus "$tmp/bus.pid"
expect 3 "status without a bus" "$clatctl" status

# --- Usage.
expect 2 "unknown command" "$clatctl" frobnicate
expect 2 "--json with reload" "$clatctl" reload --json
expect 2 "no command" "$clatctl"
expect 0 "--version" "$clatctl" --version
grep -Eq '^clatctl [0-9]+\.[0-9]+' "$tmp/out" && pass "version printed" || fail "no version"
expect 0 "-h" "$clatctl" -h
grep -q "monitor" "$tmp/out" && pass "help lists monitor" || fail "help incomplete"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed; agent log:"
    cat "$tmp/agent.log"
    exit 1
fi
echo "all clatctl checks passed"
