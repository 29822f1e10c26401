#!/usr/bin/env bash
# e2e.first_packet: the first IPv4 packet after a cold start is not held by DAD or proxy ND
# (issue 12 item 6), on a bed with the kernel's ND defaults on the host's uplink (RetransTimer
# 1 s, router_solicitation_delay 1 s, proxy_delay 0.8 s: TB_ND_DEFAULTS=1), DNS64 on the link,
# the runtime directory on tmpfs as /run is on a host (TB_RUN_TMPFS=1):
#   - five cold starts: the first IPv4 echo reply (echo requests every 5 ms from before clatd
#     is started) comes within 500 ms of the start in each, within 100 ms in the best unless
#     other work saturates the CPUs (load average >= CPUs: reported, not judged; the fix took
#     main's 1.4-3.0 s to 10-30 ms on an idle machine); DAD still runs (uplink timing)
#     and passes while the CLAT is in use; proxy_delay is 0 while clatd runs and 80 again after
#     the stop, which leaves the host exactly as before;
#   - a neighbour (the router) holding the address clatd derives: the conflict is found,
#     another address is used, IPv4 works; after the stop the host is as before;
#   - kill -9 while Running: the restart replays the journal (proxy_delay back to 80) and the
#     stop leaves the host as before.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2016,SC2119  # tb_wait_for evaluates its string; calls without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup
export TB_ND_DEFAULTS=1
export TB_RUN_TMPFS=1  # the journal on tmpfs, as /run is on a host
LIMIT_MS=100

proxy_delay() { tb_host cat "/proc/sys/net/ipv6/neigh/$TB_UPLINK/proxy_delay"; }

## first_reply_ms: starts an ICMP echo loop (every 5 ms) in the host namespace, then clatd;
## sets FIRST_MS to the milliseconds from clatd's exec to the first echo reply
## (run in this shell: tb_clatd_start records clatd's pid here).
first_reply_ms() {
    FIRST_MS=none
    rm -f "$TB_DIR/echo.ready" "$TB_DIR/echo.out"
    tb_host "$TB_PY" - "$TB_SERVER4" "$TB_DIR/echo.ready" >"$TB_DIR/echo.out" 2>&1 <<'PY' &
import os, select, socket, struct, sys, time
dst, ready = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xFFFF
def checksum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xFFFF)
    return ~(t + (t >> 16)) & 0xFFFF
open(ready, "w").write("1")
end, seq = time.time() + 20, 0
while time.time() < end:
    seq += 1
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq & 0xFFFF)
    try:
        s.sendto(struct.pack("!BBHHH", 8, 0, checksum(hdr), ident, seq & 0xFFFF), (dst, 0))
    except OSError:
        pass  # no route yet
    stop = time.time() + 0.005
    while (left := stop - time.time()) > 0:
        if not select.select([s], [], [], left)[0]:
            break
        data = s.recv(1500)
        ihl = (data[0] & 0x0F) * 4
        typ, _, _, rid, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if typ == 0 and rid == ident:
            print("reply_ns=%d" % time.time_ns())
            sys.exit(0)
print("no reply")
sys.exit(1)
PY
    local probe=$! t0 reply wrapper=$TB_DIR/clatd-stamped
    # t0 is taken right before clatd is exec'd (after the bed's own start-up work).
    printf '#!/bin/sh\ndate +%%s%%N >"%s"\nexec "%s" "$@"\n' "$TB_DIR/t0" "$CLATD" >"$wrapper"
    chmod +x "$wrapper"
    rm -f "$TB_DIR/t0"
    tb_wait_for "[ -s $TB_DIR/echo.ready ]" 5
    CLATD=$wrapper tb_clatd_start v4-conncheck-delay=0
    wait "$probe"
    t0=$(cat "$TB_DIR/t0")
    reply=$(sed -n 's/^reply_ns=//p' "$TB_DIR/echo.out")
    [ -n "$reply" ] || { echo "no echo reply: $(cat "$TB_DIR/echo.out")" >&2 && return 1; }
    FIRST_MS=$(((reply - t0) / 1000000))
}

# Each cold start within 500 ms (DAD held the first packet for at least RetransTimer, 1 s, and
# proxy answers waited up to 0.8 s), the best within LIMIT_MS: on a machine whose CPUs are
# busy with other work a single start may take longer than the target, which the best of five
# does not.
check_cold_starts() {
    local s0=$1 run ms best=none
    for run in 1 2 3 4 5; do
        first_reply_ms
        ms=$FIRST_MS
        tb_check "cold start $run: first IPv4 echo reply after ${ms} ms (< 500)" \
            test "$ms" != none -a "${ms:-99999}" -lt 500 2>/dev/null
        [ "$ms" != none ] && { [ "$best" = none ] || [ "$ms" -lt "$best" ]; } && best=$ms
        tb_check "cold start $run: DAD with the uplink's timing" \
            tb_clatd_log_wait "dad start address=.* dev=$TB_UPLINK transmits=1 retrans=1000ms" 5
        tb_check "cold start $run: DAD passed while in use" \
            tb_clatd_log_wait "dad passed address=.*(in use while probed)" 5
        tb_check "cold start $run: proxy_delay 0 while running" tb_equals "$(proxy_delay)" 0
        tb_clatd_stop_check "cold start $run" "$s0"
        tb_check "cold start $run: proxy_delay 80 again" tb_equals "$(proxy_delay)" 80
    done
    # The target is a time: judged unless the CPUs are saturated by other work (load average
    # at least the number of CPUs), where starting clatd, TAYGA and nft alone can take longer.
    local load cpus
    load=$(cut -d' ' -f1 /proc/loadavg) cpus=$(nproc)
    if awk -v l="$load" -v c="$cpus" 'BEGIN { exit !(l < c) }'; then
        tb_check "cold starts: the best first reply after $best ms (< $LIMIT_MS)" \
            test "$best" != none -a "${best:-99999}" -lt "$LIMIT_MS" 2>/dev/null
    else
        echo "note: the best first reply after $best ms; the < $LIMIT_MS ms target is not" \
            "judged with load average $load on $cpus CPUs"
    fi
}

# The router holds the address clatd would derive from the SLAAC address (fffe -> c1a7).
check_conflict() {
    local s0=$1 host clat got
    host=$(tb_host ip -6 -o addr show dev "$TB_UPLINK" scope global | awk '{print $4}' |
        cut -d/ -f1 | head -n1)
    clat=$("$TB_PY" -c 'import ipaddress, sys
b = bytearray(ipaddress.IPv6Address(sys.argv[1]).packed)
b[11], b[12] = 0xc1, 0xa7
print(ipaddress.IPv6Address(bytes(b)))' "$host")
    tb_rtr ip -6 addr add "$clat/64" dev "$TB_RTR_LAN" nodad
    tb_clatd_start v4-conncheck-delay=0
    tb_check "conflict: Running" tb_clatd_wait_state Running 15
    tb_check "conflict: found for $clat" tb_clatd_log_wait "dad conflict address=$clat " 10
    tb_check "conflict: the next address passed" tb_clatd_log_wait "dad passed address=" 10
    got=$(tb_status clat_v6)
    tb_check "conflict: another CLAT address ($got)" test -n "$got" -a "$got" != "$clat"
    tb_check "conflict: no proxy entry for $clat" tb_not tb_equals \
        "$(tb_host ip -6 neigh show proxy | grep -c "^$clat ")" 1
    tb_check_ipv4 "conflict (another address)"
    tb_clatd_stop_check "conflict" "$s0"
    tb_rtr ip -6 addr del "$clat/64" dev "$TB_RTR_LAN"
}

check_kill9() {
    local s0=$1
    tb_clatd_start v4-conncheck-delay=0
    tb_check "kill -9: Running" tb_clatd_wait_state Running 15
    tb_check "kill -9: proxy_delay 0" tb_equals "$(proxy_delay)" 0
    tb_clatd_stop KILL
    tb_check "kill -9: clatd killed" tb_equals "$TB_CLATD_RC" 137
    tb_check "kill -9: proxy_delay left at 0" tb_equals "$(proxy_delay)" 0
    tb_check "kill -9: its undo is journalled" grep -q \
        "set-sysctl path=net/ipv6/neigh/$TB_UPLINK/proxy_delay value=80 if-current=0" \
        "$(tb_run_dir)/clatd.journal"
    tb_clatd_start v4-conncheck-delay=0
    tb_check "kill -9: journal replayed" tb_clatd_log_wait "recover journal=" 10
    tb_check "kill -9: Running again" tb_clatd_wait_state Running 15
    tb_check_ipv4 "kill -9"
    tb_clatd_stop_check "kill -9, restarted" "$s0"
    tb_check "kill -9: proxy_delay 80 again" tb_equals "$(proxy_delay)" 80
}

scenarios() {
    local s0
    tb_bus_start
    tb_check "bed: the uplink keeps the kernel's proxy_delay" tb_equals "$(proxy_delay)" 80
    # With the kernel's timing the host's own DAD (link-local and SLAAC) takes up to 2 s; the
    # baseline is taken once no address is tentative.
    tb_check "bed: no tentative address left" tb_wait_for \
        "[ -z \"\$(ip -n $TB_NS_HOST -6 addr show tentative)\" ]" 10
    s0=$(tb_snapshot)
    check_cold_starts "$s0"
    check_conflict "$s0"
    check_kill9 "$s0"
}

tb_run_bed
