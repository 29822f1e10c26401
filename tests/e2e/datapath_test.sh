#!/usr/bin/env bash
# e2e.datapath: the eBPF data path on the bed (SPEC §9, data-path); it sets data-path itself,
# so it does not run again under TB_DATA_PATH (e2e.tayga.*):
#   a. data-path=bpf: clatd's programs on clat's egress and eth0's ingress, DataPath bpf, the
#      IPv4 route's MTU 1480 (the 1500-byte uplink - 20); ping, HTTP, `ping -s 1400` (fits
#      whole: no fragmented ICMP), a 3000-byte UDP datagram each way (IPv4 fragments, left to
#      TAYGA), an ICMP port unreachable reaching the sender, traceroute answered by every hop
#      (the IPv6-only ones as 192.0.0.8); the fast path's counters grow with
#      the traffic; the uplink's MTU lowered to 1400 -> the route's MTU 1380;
#   b. a prefix change (reload of plat-prefix) is written into the attached programs: the same
#      program ids stay on both hooks, and IPv4 works on the new prefix;
#   c. reload to data-path=tayga detaches (DataPath tayga, route MTU 1260, IPv4 works); back to
#      auto attaches again;
#   d. a clsact qdisc with a filter someone else put on eth0 before the start: used, and left
#      exactly as it was after the stop;
#   e. SIGKILL while Running: the restart's journal replay removes the old hooks, the new
#      instance attaches again, and its stop leaves the host (tc included) as before;
#   f. without CAP_BPF/CAP_PERFMON, auto falls back to TAYGA alone, says why (DataPathReason),
#      attaches nothing, and IPv4 works.
# After every stop the host snapshot (tc qdiscs and filters included) is as before clatd.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2016,SC2119  # tb_wait_for evaluates its string; calls without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup capsh tc traceroute

PLAT=2001:db8:64::/96
UDP_PORT=7007

hook() { tb_host tc filter show dev "$1" "$2"; }
hooked() { hook "$1" "$2" | grep -q "$3"; }
program_ids() { { hook clat egress; hook "$TB_UPLINK" ingress; } | grep -o ' id [0-9]*' | tr -d '\n'; }
route_mtu() { tb_host ip -4 route show default dev clat | sed -n 's/.* mtu \([0-9]*\).*/\1/p'; }

# A UDP echo server on the IPv4-only server: answers each datagram with the same bytes, from
# the address it was sent to (bound to it: unbound, the answer would leave from eth0's).
start_udp_echo() {
    tb_spawn v4 udpecho "$TB_PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[2], int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(data, peer)' "$UDP_PORT" "$TB_SERVER4"
}

# The server's echo replies carry DF, as the requests do: Linux sends them without, and TAYGA
# 0.9.2 as the PLAT fragments an IPv4 packet without DF to fit 1280 bytes, and a fragmented
# ICMP message cannot be translated statelessly (by the CLAT's TAYGA or anyone). With DF the
# PLAT translates the 1428-byte reply whole, as the CLAT's programs do.
echo_replies_df() {
    tb_v4 nft -f - <<'EOF'
table ip clat_e2e_df {
    chain out {
        type filter hook output priority 0; policy accept;
        icmp type echo-reply ip frag-off set 0x4000
    }
}
EOF
}

# udp_roundtrip SIZE: sends SIZE bytes to the echo server through the CLAT, expects them back.
udp_roundtrip() {
    tb_host "$TB_PY" -c 'import os, socket, sys
size = int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
payload = os.urandom(size)
for _ in range(3):
    s.sendto(payload, (sys.argv[1], int(sys.argv[2])))
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        continue
    sys.exit(0 if data == payload else 1)
sys.exit(1)' "$TB_SERVER4" "$UDP_PORT" "$1"
}

# An ICMP port unreachable from the server reaches a connected UDP socket as ECONNREFUSED.
port_unreachable() {
    tb_host "$TB_PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], 9))
for _ in range(3):
    s.send(b"x")
    try:
        s.recv(100)
    except ConnectionRefusedError:
        sys.exit(0)
    except socket.timeout:
        continue
sys.exit(1)' "$TB_SERVER4"
}

counter() { tb_status "$1"; }

check_bpf() {
    local e0 i0 e1 i1
    tb_check "a: DataPath bpf" tb_wait_status data_path bpf 10
    tb_check_status a data_path_reason ""
    tb_check "a: clat_egress on clat's egress" hooked clat egress clat_egress
    tb_check "a: clat_ingress on $TB_UPLINK's ingress" hooked "$TB_UPLINK" ingress clat_ingress
    tb_check "a: route MTU 1480" tb_wait_for '[ "$(route_mtu)" = 1480 ]' 5
    tb_check_ipv4 a
    e0=$(counter fast_egress_packets)
    i0=$(counter fast_ingress_packets)
    tb_check "a: 20 pings" tb_host ping -4 -c 20 -i 0.05 -W 2 -q "$TB_SERVER4"
    e1=$(counter fast_egress_packets)
    i1=$(counter fast_ingress_packets)
    tb_check "a: fast path out $e0 -> $e1 (+20 or more)" test "$e1" -ge $((e0 + 20))
    tb_check "a: fast path in $i0 -> $i1 (+20 or more)" test "$i1" -ge $((i0 + 20))
    tb_check "a: ping -s 1400 (DF, fits whole)" tb_host ping -4 -c 3 -W 2 -M do -s 1400 "$TB_SERVER4"
    tb_check "a: 3000-byte UDP datagram each way (fragments)" udp_roundtrip 3000
    tb_check "a: 1000-byte UDP datagram each way" udp_roundtrip 1000
    tb_check "a: fragments left to TAYGA" tb_wait_for \
        'counter fast_slow_path | grep -q "fragment="' 2
    tb_check "a: ICMP port unreachable reaches the sender" port_unreachable
    # Every hop answers: TAYGA on clat (192.0.0.2, TTL 1 is left to it), the router's IPv6
    # forwarding and the PLAT's IPv6 side (IPv6-only: 192.0.0.8), the PLAT's IPv4 router, the
    # server.
    tb_host traceroute -n -I -w 2 -q 1 -m 8 "$TB_SERVER4" >"$TB_DIR/traceroute.out" 2>&1
    sed 's/^/    /' "$TB_DIR/traceroute.out"
    tb_check "a: traceroute: no hop without an answer" tb_not grep -q '\*' "$TB_DIR/traceroute.out"
    tb_check "a: traceroute: an IPv6-only hop shows as 192.0.0.8" \
        grep -Eq '^ *[0-9]+ +192\.0\.0\.8 ' "$TB_DIR/traceroute.out"
    tb_check "a: traceroute reaches $TB_SERVER4" \
        grep -Eq "^ *[0-9]+ +${TB_SERVER4//./\\.} " "$TB_DIR/traceroute.out"
    tb_host ip link set dev "$TB_UPLINK" mtu 1400
    tb_check "a: uplink MTU 1400 -> route MTU 1380" tb_wait_for '[ "$(route_mtu)" = 1380 ]' 5
    tb_check_ipv4 "a (MTU 1400)"
    tb_host ip link set dev "$TB_UPLINK" mtu 1500
    tb_check "a: uplink MTU 1500 -> route MTU 1480" tb_wait_for '[ "$(route_mtu)" = 1480 ]' 5
}

check_prefix_in_place() {
    local ids
    ids=$(program_ids)
    tb_check "b: program ids on both hooks ($ids)" test -n "$ids"
    printf 'v4-conncheck-delay=1\nplat-prefix=2001:db8:6400::/40\ndata-path=bpf\n' \
        >"$TB_DIR/clatd.conf"
    kill -HUP "$(tb_clatd_pid)"
    tb_check "b: new prefix in the status" tb_wait_status plat_prefix 2001:db8:6400::/40 10
    tb_check "b: the same programs stay attached" tb_equals "$(program_ids)" "$ids"
    tb_plat_prefix 2001:db8:6400::/40
    tb_check_ipv4 "b (2001:db8:6400::/40)" 15
    printf 'v4-conncheck-delay=1\nplat-prefix=%s\ndata-path=bpf\n' "$PLAT" >"$TB_DIR/clatd.conf"
    kill -HUP "$(tb_clatd_pid)"
    tb_check "b: back to $PLAT" tb_wait_status plat_prefix "$PLAT" 10
    tb_plat_prefix "$PLAT"
    tb_check "b: still the same programs" tb_equals "$(program_ids)" "$ids"
    tb_check_ipv4 "b ($PLAT)" 15
}

check_switch() {
    printf 'v4-conncheck-delay=1\nplat-prefix=%s\ndata-path=tayga\n' "$PLAT" >"$TB_DIR/clatd.conf"
    kill -HUP "$(tb_clatd_pid)"
    tb_check "c: DataPath tayga" tb_wait_status data_path tayga 10
    tb_check "c: no hook on $TB_UPLINK" tb_wait_for "! hooked $TB_UPLINK ingress clat_ingress" 5
    tb_check "c: route MTU 1260" tb_wait_for '[ "$(route_mtu)" = 1260 ]' 5
    tb_check_ipv4 "c (tayga)" 15
    printf 'v4-conncheck-delay=1\nplat-prefix=%s\ndata-path=bpf\n' "$PLAT" >"$TB_DIR/clatd.conf"
    kill -HUP "$(tb_clatd_pid)"
    tb_check "c: DataPath bpf again" tb_wait_status data_path bpf 10
    tb_check "c: route MTU 1480 again" tb_wait_for '[ "$(route_mtu)" = 1480 ]' 5
    tb_check_ipv4 "c (bpf again)" 15
}

check_foreign_clsact() {
    local s1 s2
    s1=$(tb_snapshot)
    tb_host tc qdisc add dev "$TB_UPLINK" clsact
    tb_host tc filter add dev "$TB_UPLINK" ingress prio 1 handle 7 bpf bytecode '1,6 0 0 0,'
    s2=$(tb_snapshot)
    tb_clatd_start
    tb_check "d: Running" tb_clatd_wait_state Running 20
    tb_check "d: DataPath bpf" tb_wait_status data_path bpf 10
    tb_check "d: the foreign filter is still there" hooked "$TB_UPLINK" ingress "handle 0x7"
    tb_check_ipv4 d
    tb_clatd_stop_check "d (foreign clsact)" "$s2"
    tb_host tc qdisc del dev "$TB_UPLINK" clsact
    tb_check "d: host as before" tb_same_snapshot "$(tb_snapshot)" "$s1"
}

check_sigkill() {
    local s1=$1
    tb_clatd_start
    tb_check "e: Running" tb_clatd_wait_state Running 20
    tb_check "e: DataPath bpf" tb_wait_status data_path bpf 10
    tb_clatd_stop KILL
    tb_check "e: the hooks are left behind" hooked "$TB_UPLINK" ingress clat_ingress
    tb_check "e: the journal holds them" grep -q "remove-tc-filter dev=$TB_UPLINK" \
        "$TB_DIR/run/clatd.journal"
    tb_clatd_start
    tb_check "e: journal replayed" tb_clatd_log_wait "recover journal=" 10
    tb_check "e: Running again" tb_clatd_wait_state Running 20
    tb_check "e: DataPath bpf again" tb_wait_status data_path bpf 10
    tb_check_ipv4 e
    tb_clatd_stop_check "e (restart after SIGKILL)" "$s1"
}

check_no_cap_bpf() {
    local s1=$1 real=$CLATD wrapper=$TB_DIR/clatd-nocap
    printf '#!/bin/sh\nexec capsh --drop=cap_bpf,cap_perfmon,cap_sys_admin -- -c '\''exec "$0" "$@"'\'' %s "$@"\n' \
        "$real" >"$wrapper"
    chmod 755 "$wrapper"
    CLATD=$wrapper tb_clatd_start
    tb_check "f: Running" tb_clatd_wait_state Running 20
    tb_check_status f data_path tayga
    tb_check "f: the reason names the eBPF load" tb_wait_for \
        'tb_status data_path_reason | grep -q "eBPF load"' 5
    tb_check "f: no hook" tb_not hooked "$TB_UPLINK" ingress clat_ingress
    tb_check "f: route MTU 1260" tb_wait_for '[ "$(route_mtu)" = 1260 ]' 5
    tb_check_ipv4 f
    tb_clatd_stop_check "f (no CAP_BPF)" "$s1"
}

scenarios() {
    local s0
    s0=$(tb_snapshot)
    start_udp_echo
    echo_replies_df
    printf 'v4-conncheck-delay=1\nplat-prefix=%s\ndata-path=bpf\n' "$PLAT" >"$TB_DIR/clatd.conf"
    tb_clatd_start
    tb_check "start: Running" tb_clatd_wait_state Running 20
    check_bpf
    check_prefix_in_place
    check_switch
    tb_clatd_stop_check "a-c: stop" "$s0"
    # auto from here on (the default), as a user gets it.
    printf 'v4-conncheck-delay=1\nplat-prefix=%s\n' "$PLAT" >"$TB_DIR/clatd.conf"
    check_foreign_clsact
    check_sigkill "$s0"
    check_no_cap_bpf "$s0"
}

tb_run_bed --no-dns64
