# shellcheck shell=bash disable=SC2034
# clatd on the test bed, and the checks the scenario tests share. Sourced by testbed.sh.
#
# tb_clatd_start runs "$CLATD" in the host namespace with
#   - its runtime directory (undo journal, tayga.conf) in $TB_DIR/run: the default /run/clatd
#     is one directory for every namespace, so parallel beds would share a journal;
#   - the configuration file $TB_DIR/clatd.conf (created empty; /etc/clatd.conf is never read);
#   - -d, stderr into $TB_DIR/clatd.log (each start appends the previous log to clatd.all.log);
#   - a private system-style dbus-daemon on $TB_DIR/bus with the shipped policy
#     (units/net.clatd.conf): a path socket is reachable from every namespace, so clatctl runs
#     outside the bed. TB_BUS_POLICY names another policy file to include instead (set it
#     before the bed's first tb_clatd_start or tb_bus_start);
#   - the environment variables TB_CLATD_ENV lists (NAME=VALUE words split at blanks, e.g.
#     "NOTIFY_SOCKET=$TB_DIR/notify.sock"), if set.
#
# Functions: tb_bus_start, tb_clatd_start [ARGS...], tb_clatd_stop [SIGNAL] (sets
# TB_CLATD_RC), tb_clatd_pid, tb_clatd_state, tb_clatd_wait_state STATE [TIMEOUT],
# tb_clatd_mark, tb_clatd_log_wait REGEX TIMEOUT [MARK], tb_clatd_log_has REGEX [MARK],
# tb_ctl ARGS..., tb_status FIELD, tb_wait_status FIELD VALUE TIMEOUT, tb_ping4, tb_http4,
# tb_wait_ipv4 TIMEOUT, tb_translator_pid, tb_require_root_tools [TOOL...], tb_require_clatd,
# tb_dump_logs (TB_SAVE_LOGS=DIR keeps every log);
# checks: tb_check WHAT CMD..., tb_equals GOT EXPECTED, tb_same_snapshot GOT EXPECTED,
# tb_not CMD..., tb_check_status WHAT FIELD VALUE, tb_check_ipv4 WHAT,
# tb_clatd_stop_check WHAT BASELINE, tb_check_gone, tb_summary (TB_FAILURES counts failures).

TB_FAILURES=0
TB_SRC_DIR=$(cd "$TB_LIB_DIR/../.." && pwd)
TB_CLATD_RC=

## tb_check WHAT CMD...: runs CMD; prints "ok: WHAT" or "FAIL: WHAT" and counts the failure.
tb_check() {
    local what=$1
    shift
    if "$@"; then
        echo "ok: $what"
    else
        echo "FAIL: $what"
        TB_FAILURES=$((TB_FAILURES + 1))
    fi
}

## tb_equals GOT EXPECTED: true if equal, else prints both.
tb_equals() {
    [ "$1" = "$2" ] && return 0
    echo "  expected: $(echo "$2" | tr '\n' ' ' | head -c 600)"
    echo "  got:      $(echo "$1" | tr '\n' ' ' | head -c 600)"
    return 1
}

## tb_same_snapshot GOT EXPECTED: like tb_equals, printing a diff of two tb_snapshot outputs.
tb_same_snapshot() {
    [ "$1" = "$2" ] && return 0
    diff <(echo "$2") <(echo "$1") | head -n 30 | sed 's/^/  /'
    return 1
}

tb_not() { ! "$@"; }

## tb_bus_start: the bed's private dbus-daemon (once per bed); exports DBUS_SYSTEM_BUS_ADDRESS.
tb_bus_start() {
    [ -s "$TB_DIR/bus.pid" ] && return 0
    # shellcheck source=SCRIPTDIR/../dbus/bus_lib.sh
    . "$TB_SRC_DIR/tests/dbus/bus_lib.sh"
    write_bus_config "$TB_DIR/bus.conf" "$TB_DIR/bus" \
        "${TB_BUS_POLICY:-$TB_SRC_DIR/units/net.clatd.conf}"
    start_bus "$TB_DIR/bus.conf" "$TB_DIR/bus.pid" || tb__die "dbus-daemon did not start" ||
        return 1
    cat "$TB_DIR/bus.pid" >>"$TB_DIR/pids"
    export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$TB_DIR/bus"
}

## tb_clatd_start [ARGS...]: starts clatd -d -c $TB_DIR/clatd.conf ARGS... (see above; the
## environment TB_CLATD_ENV lists is read at each start).
## tb_run_dir: clatd's runtime directory: $TB_DIR/run, or with TB_RUN_TMPFS=1 one on tmpfs
## (/dev/shm/clat-e2e-<pid>-*), as /run is on a host: the journal is fdatasync'ed once per
## change, which costs milliseconds each on the bed's disk. tb_down removes it.
tb_run_dir() {
    if [ "${TB_RUN_TMPFS:-0}" = 1 ]; then
        [ -s "$TB_DIR/run.path" ] ||
            mktemp -d "/dev/shm/clat-e2e-$$-XXXXXX" >"$TB_DIR/run.path" || return 1
        cat "$TB_DIR/run.path"
    else
        echo "$TB_DIR/run"
    fi
}

tb_clatd_start() {
    [ -n "${CLATD:-}" ] || tb__die "CLATD is not set" || return 1
    tb_bus_start || return 1
    local run
    run=$(tb_run_dir) && mkdir -p "$run" || return 1
    [ -e "$TB_DIR/clatd.conf" ] || : >"$TB_DIR/clatd.conf"
    [ -f "$TB_DIR/clatd.log" ] && cat "$TB_DIR/clatd.log" >>"$TB_DIR/clatd.all.log"
    local extra
    read -r -a extra <<<"${TB_CLATD_ENV:-}"
    # TB_DATA_PATH (e.g. tayga): the whole suite runs with that data path (ctest e2e.tayga.*).
    tb_spawn host clatd env RUNTIME_DIRECTORY="$run" \
        DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" "${extra[@]}" "$CLATD" -d \
        -c "$TB_DIR/clatd.conf" ${TB_DATA_PATH:+"data-path=$TB_DATA_PATH"} "$@"
    TB_CLATD_PID=$(cat "$TB_DIR/clatd.pid")
}

## tb_clatd_pid: the pid of the running clatd (empty when none was started).
tb_clatd_pid() { echo "${TB_CLATD_PID:-}"; }

## tb_clatd_stop [SIGNAL] [TIMEOUT]: sends SIGNAL (TERM) and waits up to TIMEOUT (15) s for
## the exit; TB_CLATD_RC is its exit status (128+n for a signal), "timeout" if it had to be
## killed. Fails unless clatd exited by itself.
tb_clatd_stop() {
    local sig=${1:-TERM} pid=${TB_CLATD_PID:-}
    TB_CLATD_RC=
    [ -n "$pid" ] || return 1
    kill "-$sig" "$pid" 2>/dev/null
    if ! tb_wait_for "! tb_alive $pid" "${2:-15}"; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        TB_CLATD_RC=timeout
        TB_CLATD_PID=
        return 1
    fi
    wait "$pid" 2>/dev/null
    TB_CLATD_RC=$?
    TB_CLATD_PID=
    rm -f "$TB_DIR/clatd.pid"
}

## tb_clatd_state: the state the log last reported ("state A->B reason=..." -> B).
tb_clatd_state() {
    sed -n 's/.* state [A-Za-z0-9]*->\([A-Za-z0-9]*\) reason=.*/\1/p' "$TB_DIR/clatd.log" |
        tail -n 1
}

## tb_clatd_mark: the number of lines in the current log (to look only at what follows).
tb_clatd_mark() { wc -l <"$TB_DIR/clatd.log"; }

## tb_clatd_log_has REGEX [MARK]: the log (after line MARK) has a line matching REGEX (ERE).
tb_clatd_log_has() { tail -n "+$((${2:-0} + 1))" "$TB_DIR/clatd.log" | grep -Eq -- "$1"; }

## tb_clatd_log_wait REGEX TIMEOUT [MARK]: waits for such a line.
tb_clatd_log_wait() {
    local end=$(($(date +%s%N) + $2 * 1000000000))
    until tb_clatd_log_has "$1" "${3:-0}"; do
        [ "$(date +%s%N)" -lt "$end" ] || return 1
        sleep 0.1
    done
}

## tb_clatd_wait_state STATE [TIMEOUT]: waits until the log's latest state is STATE.
tb_clatd_wait_state() {
    local end=$(($(date +%s%N) + ${2:-15} * 1000000000))
    until [ "$(tb_clatd_state)" = "$1" ]; do
        if [ "$(date +%s%N)" -ge "$end" ]; then
            echo "  state is '$(tb_clatd_state)', expected $1"
            return 1
        fi
        sleep 0.1
    done
}

## tb_ctl ARGS...: $CLATCTL on the bed's bus.
tb_ctl() { DBUS_SYSTEM_BUS_ADDRESS="unix:path=$TB_DIR/bus" "$CLATCTL" "$@"; }

## tb_status FIELD: one field of `clatctl status --json` (fails if clatctl does not answer).
tb_status() {
    local json
    json=$(tb_ctl status --json 2>/dev/null) || return 1
    echo "$json" | "$TB_PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

## tb_wait_status FIELD VALUE TIMEOUT: waits until the field has that value.
tb_wait_status() {
    local end=$(($(date +%s%N) + $3 * 1000000000)) got
    until got=$(tb_status "$1") && [ "$got" = "$2" ]; do
        if [ "$(date +%s%N)" -ge "$end" ]; then
            echo "  status $1 is '$got', expected '$2'"
            return 1
        fi
        sleep 0.2
    done
}

## tb_ping4: one IPv4 ping from the host to the IPv4-only server.
tb_ping4() { tb_host ping -4 -q -n -c 1 -W 2 "$TB_SERVER4" >/dev/null 2>&1; }

## tb_http4: fetches the token over IPv4 from the host; true if it is the right one.
tb_http4() {
    [ "$(tb_host curl -4 -sf --max-time 3 "http://$TB_SERVER4$TB_URL_PATH" 2>/dev/null)" = \
        "$TB_TOKEN" ]
}

## tb_wait_ipv4 TIMEOUT: waits until an IPv4 ping to the server gets through.
tb_wait_ipv4() { tb_wait_for tb_ping4 "$1"; }

## tb_translator_pid: pid of the TAYGA clatd started (its child in the host namespace).
tb_translator_pid() {
    [ -n "${TB_CLATD_PID:-}" ] || return 1
    pgrep -P "$TB_CLATD_PID" -x tayga
}

## tb_check_gone: after tb_down, nothing of the bed is left (namespaces, processes, files).
tb_check_gone() {
    # Nothing to check when tb_up failed before it named a bed.
    [ -n "${TB_LAST_NAME:-}" ] || return 0
    local name=$TB_LAST_NAME pid alive=""
    tb_check "$name: no namespace left" tb_equals "$(ip netns list | grep -c "^$name-")" 0
    for pid in $TB_LAST_PIDS; do tb_alive "$pid" && alive="$alive $pid"; done
    tb_check "$name: no process left" tb_equals "$alive" ""
    # Children of those (clatd's TAYGA) name the bed's directory on their command line.
    tb_check "$name: no process using the bed's directory" tb_equals \
        "$(pgrep -a -f "/tmp/$name\\.")" ""
    tb_check "$name: no directory left" tb_equals "$(find /tmp -maxdepth 1 -name "$name.*")" ""
}

## tb_summary: prints the failure count; true if none.
tb_summary() {
    echo "$TB_FAILURES failure(s)"
    [ "$TB_FAILURES" -eq 0 ]
}

## tb_require_root_tools: exits 77 (skipped) unless root with every tool the bed needs.
tb_require_root_tools() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "skipped: the test bed needs root (network namespaces)"
        exit 77
    fi
    local tool
    for tool in ip nft tayga radvd unbound dig curl ping stdbuf pgrep dbus-daemon "$TB_PY" "$@"; do
        command -v "$tool" >/dev/null || { echo "skipped: $tool is not installed" && exit 77; }
    done
}

## tb_require_clatd: exits 77 (skipped) unless CLATD and CLATCTL name executables.
tb_require_clatd() {
    [ -x "${CLATD:-}" ] || { echo "skipped: CLATD is not set (build the clatd target)" && exit 77; }
    [ -x "${CLATCTL:-}" ] || { echo "skipped: CLATCTL is not set (build clatctl)" && exit 77; }
}

## tb_check_status WHAT FIELD VALUE [TIMEOUT]: checks (waiting up to TIMEOUT, 5 s) a status field.
tb_check_status() { tb_check "$1: status $2=$3" tb_wait_status "$2" "$3" "${4:-5}"; }

## tb_check_ipv4 WHAT [TIMEOUT]: IPv4 ping (waiting up to TIMEOUT, 10 s) and HTTP to the server.
tb_check_ipv4() {
    tb_check "$1: IPv4 ping to $TB_SERVER4" tb_wait_ipv4 "${2:-10}"
    tb_check "$1: HTTP over IPv4 fetches the token" tb_http4
}

## tb_clatd_stop_check WHAT BASELINE [SIGNAL]: stops clatd (SIGTERM); checks exit status 0, no
## translator left and the host snapshot equal to BASELINE (both passed through the command
## $TB_SNAPSHOT_FILTER first, if set).
tb_clatd_stop_check() {
    local what=$1 baseline=$2 tayga filter=${TB_SNAPSHOT_FILTER:-cat}
    tayga=$(tb_translator_pid)
    tb_check "$what: clatd exits on SIG${3:-TERM}" tb_clatd_stop "${3:-TERM}"
    tb_check "$what: exit status 0" tb_equals "$TB_CLATD_RC" 0
    [ -z "$tayga" ] || tb_check "$what: TAYGA ($tayga) stopped" tb_not tb_alive "$tayga"
    tb_check "$what: host exactly as before clatd started" tb_same_snapshot \
        "$(tb_snapshot | $filter)" "$(echo "$baseline" | $filter)"
}

## tb_without_slaac: a snapshot filter (TB_SNAPSHOT_FILTER) for tests that renumber with
## tb_renumber 2001:db8:2::/64: the SLAAC addresses of the old and new prefix and the kernel's
## routes for them changed with the renumbering; the rest must be as before clatd.
tb_without_slaac() {
    grep -Ev "inet6 2001:db8:[12]:0:[0-9a-f:]+/64 scope global|\
^(local |anycast |multicast )?2001:db8:[12]:[0-9a-f:]*(/64)? dev $TB_UPLINK (table local )?proto (kernel|ra)"
}

## tb_dump_logs: on failures, the bed's logs for the test output; with TB_SAVE_LOGS=DIR, also
## copies every log of the bed into DIR (failed or not).
tb_dump_logs() {
    [ -n "${TB_DIR:-}" ] || return 0
    if [ -n "${TB_SAVE_LOGS:-}" ]; then
        mkdir -p "$TB_SAVE_LOGS" && cp "$TB_DIR"/*.log "$TB_SAVE_LOGS/"
    fi
    [ "$TB_FAILURES" -eq 0 ] && return 0
    echo "---- clatd.all.log + clatd.log (last 150 lines)"
    cat "$TB_DIR/clatd.all.log" "$TB_DIR/clatd.log" 2>/dev/null | tail -n 150
    local f
    for f in "$TB_DIR"/*.log; do
        case ${f##*/} in clatd*) continue ;; esac
        echo "---- ${f##*/}"
        tail -n 20 "$f"
    done
}

## tb_clatd_fds: how many file descriptors the running clatd holds.
tb_clatd_fds() { find "/proc/${TB_CLATD_PID:?}/fd" -mindepth 1 -maxdepth 1 | wc -l; }

## tb_clatd_fd_targets: what clatd's descriptors point at, sorted, inode numbers stripped
## ("socket", "pipe", "/dev/net/tun"), to show what leaked when tb_clatd_fds grew.
tb_clatd_fd_targets() {
    local fd
    for fd in "/proc/${TB_CLATD_PID:?}/fd"/*; do readlink "$fd"; done |
        sed -E 's/:\[[0-9]+\]$//' | sort | uniq -c
}

## tb_clatd_rss_kib: clatd's resident set size (VmRSS) in KiB.
tb_clatd_rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/${TB_CLATD_PID:?}/status"; }

## tb_clatd_wait_fds COUNT TIMEOUT: waits until clatd holds COUNT descriptors (a DNS query or a
## child's pipe may hold one for a moment); on timeout prints the descriptors and fails.
tb_clatd_wait_fds() {
    tb_wait_for "[ \"\$(tb_clatd_fds)\" = $1 ]" "$2" && return 0
    echo "  clatd holds $(tb_clatd_fds) descriptors, expected $1:"
    tb_clatd_fd_targets | sed 's/^/    /'
    return 1
}

## tb_e2e_setup [TOOL...]: the start of a test with clatd: exits 77 (skipped) unless root with
## the bed's tools, TOOL... and CLATD/CLATCTL; then a watchdog 15 s before TB_TIMEOUT (240).
tb_e2e_setup() {
    tb_require_root_tools "$@"
    tb_require_clatd
    tb_watchdog $((${TB_TIMEOUT:-240} - 15))
}

## tb_run_bed [OPTIONS...]: the end of a test: tb_up OPTIONS, the script's function
## `scenarios`, tb_dump_logs (or the check "bring-up" failed), tb_down, tb_check_gone; returns
## tb_summary's status (the script's exit status when this is its last command).
tb_run_bed() {
    if tb_up "$@"; then
        scenarios
        tb_dump_logs
    else
        tb_check "bring-up" false
    fi
    tb_down
    tb_check_gone
    tb_summary
}

## tb_growth_mark WHAT: notes clatd's descriptor count and RSS (TB_GROWTH_FDS,
## TB_GROWTH_RSS_KIB) for tb_check_no_growth and prints them.
tb_growth_mark() {
    TB_GROWTH_FDS=$(tb_clatd_fds)
    TB_GROWTH_RSS_KIB=$(tb_clatd_rss_kib)
    echo "$1: clatd holds $TB_GROWTH_FDS descriptors, RSS $TB_GROWTH_RSS_KIB KiB"
}

## tb_check_no_growth WHAT SINCE MAX_KIB: checks that clatd holds as many descriptors as at
## tb_growth_mark (within 5 s, see tb_clatd_wait_fds) and that its RSS grew by less than
## MAX_KIB since then. SINCE names what happened in between ("the kills").
tb_check_no_growth() {
    local what=$1 rss1 growth
    tb_check "$what: $TB_GROWTH_FDS file descriptors as before $2" tb_clatd_wait_fds \
        "$TB_GROWTH_FDS" 5
    rss1=$(tb_clatd_rss_kib)
    growth=$((rss1 - TB_GROWTH_RSS_KIB))
    echo "$what: RSS $rss1 KiB (growth $growth KiB)"
    tb_check "$what: RSS growth $growth KiB < $3 KiB" test "$growth" -lt "$3"
}
