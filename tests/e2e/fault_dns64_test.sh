#!/usr/bin/env bash
# e2e.fault_dns64: the DNS64 misbehaves; clatd waits in DiscoverPLAT saying why, stays alive,
# retries with back-off and never spins (SPEC §4, §5, §8). One bed without unbound; the only
# DNS64 is fake_dns64.py on [2001:db8:1::53]:53 in the router namespace (dns64-servers), no
# PREF64, no configured or fallback prefix. c-ares reads "options retrans:1000 retry:2" (1.18;
# later versions read timeout:1 attempts:2) from the host's resolv.conf, so a silent server
# fails after 1 + 2 s (c-ares doubles the timeout per try; its defaults, 5 s x 4 tries, take
# 75 s). Packets to the server are counted by an nftables counter in the router namespace
# (the fake server cannot log what arrives while its port is closed). Each fault in turn:
#   down (silent), closed (ICMP port unreachable), servfail, garbage (a burst of malformed
#   replies per query), garbage-trunc / garbage-rdlen (malformed answer sections), nowka
#   (AAAA without 192.0.0.170/171), nodata:
#   state DiscoverPLAT, the D-Bus reason names the server and the fault, clatd alive, and the
#   queries that reach the server follow the back-off (counted from its log);
# then good (RFC 7050 synthesis of the PLAT's prefix, TTL 12) -> Running on it, IPv4 works;
# then servfail while Running -> the prefix is held until its TTL runs out (refreshes fail
# meanwhile) and then withdrawn: the CLAT is torn down and clatd waits again, saying why.
# After SIGTERM the host is as before; after tb_down nothing of the bed is left.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2016,SC2119  # tb_wait_for evaluates its string; calls without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup

SERVER=2001:db8:1::53
TTL=12

# dns_mode WORDS...: what the fake DNS64 does from its next packet on.
dns_mode() { echo "$*" >"$TB_DIR/dns64.mode"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.3f\", $* }"; }
# queries_since T [MODE]: packets the fake DNS64 received at or after unix time T (in MODE).
queries_since() {
    awk -v t="$1" -v m="${2:-}" '$1 >= t && (m == "" || $3 == m)' "$TB_DIR/dns64_queries.log" |
        wc -l
}
# packets: UDP packets that reached the server's address and port so far.
packets() {
    ip netns exec "$TB_NS_RTR" nft list counter inet clat_e2e_dns queries |
        sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
# last_query_time MODE: unix time of the last packet answered in MODE.
last_query_time() {
    awk -v m="$1" '$3 == m { t = $1 } END { print t }' "$TB_DIR/dns64_queries.log"
}
reason_matches() { tb_status reason | grep -Eiq -- "$1"; }
# between N LOW HIGH: LOW <= N <= HIGH, printing N otherwise.
between() {
    [ "$1" -ge "$2" ] && [ "$1" -le "$3" ] && return 0
    echo "  got $1"
    return 1
}
# within T LOW HIGH: LOW <= T <= HIGH for decimal numbers.
within() {
    awk -v t="$1" -v l="$2" -v h="$3" 'BEGIN { exit !(t >= l && t <= h) }' ||
        { echo "  got $1, expected $2..$3" && false; }
}

# check_waiting WHAT REGEX [TIMEOUT]: DiscoverPLAT with a reason matching REGEX, clatd alive.
check_waiting() {
    tb_check "$1: reason names $SERVER and matches /$2/" tb_wait_for \
        "reason_matches '$SERVER.*$2'" "${3:-6}"
    tb_check_status "$1" state DiscoverPLAT 1
    tb_check "$1: clatd alive" tb_alive "$(tb_clatd_pid)"
    echo "  $1: reason: $(tb_status reason)"
}

# fault MODE: switches the fake DNS64 to MODE and asks for a rediscovery (resets the back-off
# and queries at once); sets T0 to the time just before.
fault() {
    dns_mode "$@"
    T0=$(now)
    P0=$(packets)
    tb_ctl rediscover >/dev/null
}

check_faults() {
    local n

    # Silent: every try times out (1 s, then 2 s), then back-off 1 s, 2 s...
    fault down
    check_waiting down "timeout" 8
    sleep 4
    n=$(queries_since "$T0")
    # 7 s: round 1 (2 packets) fails at 3 s, round 2 starts at 4 s -> 3 or 4 packets.
    tb_check "down: retries, not spinning: 2..6 queries in 7 s" between "$n" 2 6

    # Nothing listens: ICMP port unreachable ends each try at once; only the back-off paces.
    fault closed
    check_waiting closed "refused|unreachable"
    sleep 6
    n=$(($(packets) - P0))
    # Rounds at 0, 1, 3 s (back-off 1 s, 2 s, then 4 s), each at most retry=2 packets.
    tb_check "closed: retries with back-off: 3..8 packets in 6 s" between "$n" 3 8

    fault servfail
    check_waiting servfail "SERVFAIL"
    sleep 6
    n=$(queries_since "$T0" servfail)
    tb_check "servfail: retries with back-off: 3..8 queries in 6 s" between "$n" 3 8

    # A burst of replies per query; a client must ignore the ones with a wrong ID or question
    # and may fail on the others. Several rounds, so every final variant is served.
    fault garbage
    check_waiting garbage "timeout|malformed|misformatted"
    sleep 6
    n=$(queries_since "$T0" garbage)
    # trunc, count and loop fail at once: rounds at 0, 1, 3 s.
    tb_check "garbage: queries keep coming, not spinning: 3..8 in 6 s" between "$n" 3 8
    tb_check "garbage: clatd survived every variant" tb_alive "$(tb_clatd_pid)"
    tb_check_status garbage state DiscoverPLAT 1
    tb_check "garbage: no prefix taken from a malformed answer" tb_equals \
        "$(tb_status plat_prefix)" ""

    fault garbage-trunc
    check_waiting garbage-trunc "malformed"
    # An AAAA record with 4 bytes of RDATA: c-ares skips it, leaving no AAAA at all.
    fault garbage-rdlen
    check_waiting garbage-rdlen "none a valid AAAA"
    # TC set: c-ares asks again over TCP, where the reply never completes.
    fault garbage-tc
    check_waiting garbage-tc "timeout" 8
    tb_check "garbage-tc: the query was repeated over TCP" test \
        "$(awk -v t="$T0" '$1 >= t && $2 == "tcp"' "$TB_DIR/dns64_queries.log" | wc -l)" -ge 1

    # A definite answer that there is no DNS64 here: re-checked only after 30 s.
    fault nowka
    check_waiting nowka "neither 192\.0\.0\.170 nor \.171"
    fault nodata
    check_waiting nodata "NODATA"
    sleep 2
    tb_check "nodata: one query, the next only after 30 s" tb_equals \
        "$(queries_since "$T0" nodata)" 1
}

# good, then servfail while Running: the prefix lasts its TTL, then goes.
check_good_then_lapse() {
    local tg t_lost expiry
    fault good "$TB_PLAT_PREFIX" "$TTL"
    tb_check "good: Running" tb_wait_status state Running 15
    tb_check_status good plat_prefix "$TB_PLAT_PREFIX"
    tb_check_status good plat_source dns64
    tb_check_ipv4 good

    # Right after a good answer, so that the whole hold is observed.
    n=$(queries_since 0 good)
    tb_wait_for "[ \$(queries_since 0 good) -gt $n ]" 10
    dns_mode servfail
    tg=$(last_query_time good)
    expiry=$(tb_status plat_expiry)
    # The status rounds both "now" and "time left" down to seconds: up to 2 s early.
    tb_check "hold: plat_expiry ($expiry) is the answer's time + TTL $TTL" within "$expiry" \
        "$(calc "$tg + $TTL - 2.5")" "$(calc "$tg + $TTL + 1")"
    # Refreshes at tg+5 (TTL - 10 s, floored at 5 s), then tg+6, tg+8, tg+12 (the expiry).
    sleep "$(calc "$tg + $TTL - 2 - $(now)")"
    tb_check "hold: still Running 2 s before expiry" tb_equals "$(tb_status state)" Running
    tb_check_status hold plat_prefix "$TB_PLAT_PREFIX" 1
    tb_check "hold: refreshes failed meanwhile (>= 2 SERVFAIL)" test \
        "$(queries_since "$tg" servfail)" -ge 2
    tb_check "hold: IPv4 still works" tb_ping4
    tb_check "lapse: CLAT torn down after expiry" tb_wait_for \
        '[ "$(tb_status state)" != Running ]' 8
    t_lost=$(now)
    tb_check "lapse: not before the TTL ran out" within "$t_lost" "$(calc "$tg + $TTL")" \
        "$(calc "$tg + $TTL + 6")"
    check_waiting lapse "SERVFAIL" 10
    tb_check "lapse: no IPv4 default route via the CLAT" tb_wait_for \
        '! tb_host ip -4 route show default | grep -q "dev clat"' 5
}

scenarios() {
    local s0
    ip -n "$TB_NS_RTR" addr add "$SERVER/64" dev "$TB_RTR_LAN" nodad
    dns_mode down
    : >"$TB_DIR/dns64_queries.log"
    tb_spawn rtr fake_dns64 "$TB_PY" -u "$here/fake_dns64.py" --listen "$SERVER" \
        --mode-file "$TB_DIR/dns64.mode" --log "$TB_DIR/dns64_queries.log"
    echo "options timeout:1 attempts:2 retrans:1000 retry:2" >>"$TB_DIR/resolv.host"
    ip netns exec "$TB_NS_RTR" nft -f - <<EOF
table inet clat_e2e_dns {
    counter queries { }
    chain input {
        type filter hook input priority filter; policy accept;
        ip6 daddr $SERVER udp dport 53 counter name queries
    }
}
EOF
    tb_wait_for "ss -N $TB_NS_RTR -lun | grep -q '$SERVER\]:53 '" 10 ||
        tb_check "fake DNS64 listens" false
    s0=$(tb_snapshot)
    printf 'v4-conncheck-delay=0\ndns64-servers=%s\n' "$SERVER" >"$TB_DIR/clatd.conf"
    tb_clatd_start
    check_faults
    check_good_then_lapse
    tb_check "end: same clatd throughout" tb_alive "$(tb_clatd_pid)"
    tb_clatd_stop_check "stop" "$s0"
}

tb_run_bed --no-dns64
