# shellcheck shell=bash disable=SC2034
# A 464XLAT test network in network namespaces, for the end-to-end tests (SPEC §11). Source it.
#
#   host (IPv6-only; clatd runs here)  eth0 ==veth== lan0  rtr  wan0 ==veth== eth0  v4
#   rtr: radvd (SLAAC 2001:db8:1::/64), unbound as DNS64 on 2001:db8:1::1, TAYGA as the PLAT
#        (dynamic-pool 192.0.2.0/24 on tun "nat64") + nftables masquerade out of wan0,
#        optional PREF64 RAs (ra_sender.py: radvd 2.19 cannot send option 38).
#   v4:  IPv4-only server 198.51.100.10 on lo (HTTP on port 80), 203.0.113.2/25 on eth0.
# IPv4 plan: 192.0.2.0/24 TAYGA's pool (rtr); 198.51.100.0/24 the server side (v4, routed
# by rtr via 203.0.113.2); 203.0.113.0/25 the rtr-v4 link (.1 rtr, .2 v4); 203.0.113.128/25
# native IPv4 for the host, only while `tb_native_v4 on` (.129 rtr, .130 host), masqueraded
# like the pool. 192.0.0.0/29 stays free for the CLAT. Nothing links to the root namespace,
# so no packet can leave the bed.
#
# Names are unique per bed (clat-e2e-<pid>-<n>-{host,rtr,v4}); interface names live inside the
# namespaces, so beds run side by side. tb_up installs `trap tb__exit EXIT` (plus INT/TERM ->
# exit), which runs tb_down. Use tb_watchdog to be stopped (with cleanup) before ctest's
# TIMEOUT would SIGKILL the script.
#
# Variables for tests: TB_NS_HOST/RTR/V4, TB_DIR, TB_UPLINK (eth0), TB_SLAAC_PREFIX,
# TB_PLAT_PREFIX, TB_DNS64_PREFIX, TB_DNS64 (server address), TB_SERVER4, TB_URL_PATH, TB_TOKEN
# (the file's content), TB_PY, TB_LIB_DIR; after tb_down, TB_LAST_NAME and TB_LAST_PIDS.
# A scenario:  . testbed.sh; tb_watchdog $((TB_TIMEOUT - 15)); tb_up --pref64 || exit 1
#              tb_spawn host clatd "$CLATD" ...; tb_wait_for "tb_host ping -c1 -W1 198.51.100.10" 10
#
# Functions: tb_up [options], tb_down, tb_host/tb_rtr/tb_v4 CMD..., tb_wait_for CMD TIMEOUT,
# tb_synth IPV4 [PREFIX], tb_pref64_announce PREFIX LIFETIME, tb_pref64_withdraw PREFIX,
# tb_renumber NEWPREFIX, tb_dns64_prefix PREFIX, tb_plat_prefix PREFIX,
# tb_native_v4 on|off [veth|uplink], tb_uplink down|up|carrier-down|carrier-up, tb_snapshot,
# tb_spawn NS NAME CMD..., tb_stop NAME, tb_alive PID, tb_watchdog SECONDS, tb_reap_stale.
# clatd on the bed (tb_clatd_start/stop, clatctl status, shared checks): testbed_clatd.sh.

TB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB_PY=/usr/bin/python3
[ -x "$TB_PY" ] || TB_PY=python3
TB_SEQ=${TB_SEQ:-0}
TB_UPLINK=eth0
TB_RTR_LAN=lan0
TB_RTR_WAN=wan0
TB_PLAT_DEV=nat64
TB_DNS64=2001:db8:1::1
TB_SERVER4=198.51.100.10
TB_POOL4=192.0.2.0/24
TB_NATIVE4_NET=203.0.113.128/25
TB_URL_PATH=/token.txt

tb__log() { echo "testbed: $*" >&2; }
tb__die() {
    tb__log "error: $*"
    return 1
}

# The command that runs CMD... in bed namespace $1 (host|rtr|v4) with that namespace's
# resolv.conf bind-mounted over /etc/resolv.conf: `ip netns exec` gives each exec a private
# mount namespace (mounts made slaves), so the bind stays there. Every step execs, so a
# process started in the background keeps the pid the shell reports in $!.
tb__exec() {
    local role=$1 ns
    shift
    case $role in
    host) ns=$TB_NS_HOST ;;
    rtr) ns=$TB_NS_RTR ;;
    v4) ns=$TB_NS_V4 ;;
    *) tb__die "no namespace $role" || return 1 ;;
    esac
    [ -n "${TB_DIR:-}" ] || tb__die "the test bed is not up" || return 1
    # shellcheck disable=SC2016
    exec ip netns exec "$ns" sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' \
        "$TB_DIR/resolv.$role" "$@"
}
## Runs a command in the host namespace (private resolv.conf pointing at the DNS64).
tb_host() { (tb__exec host "$@"); }
## Runs a command in the router namespace.
tb_rtr() { (tb__exec rtr "$@"); }
## Runs a command in the IPv4-only server namespace.
tb_v4() { (tb__exec v4 "$@"); }

## tb_wait_for CMD TIMEOUT: polls CMD (a shell string) every 0.1 s; 1 if it never succeeds.
tb_wait_for() {
    local cmd=$1 timeout=$2 end
    end=$(($(date +%s%N) + timeout * 1000000000))
    until eval "$cmd" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$end" ] || return 1
        sleep 0.1
    done
}

## tb_alive PID: true if PID runs and is not a zombie (PID 1 here reaps late).
tb_alive() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [ -n "$state" ] && [[ $state != Z* ]]
}

## tb_spawn NS NAME CMD...: starts CMD in namespace NS (host|rtr|v4) in the background, output
## to $TB_DIR/NAME.log; records its pid (in $TB_DIR/NAME.pid) so tb_stop and tb_down end it.
tb_spawn() {
    local role=$1 name=$2
    shift 2
    (tb__exec "$role" "$@") >"$TB_DIR/$name.log" 2>&1 </dev/null &
    echo "$!" >"$TB_DIR/$name.pid"
    echo "$!" >>"$TB_DIR/pids"
}

## tb_stop NAME: SIGTERM, up to 3 s, then SIGKILL, for a process started by tb_spawn.
tb_stop() {
    local file="$TB_DIR/$1.pid" pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    rm -f "$file"
    kill -TERM "$pid" 2>/dev/null
    tb_wait_for "! tb_alive $pid" 3 || kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

## tb_synth IPV4 [PREFIX]: the RFC 6052 address of IPV4 under PREFIX (default: the PLAT's).
tb_synth() { "$TB_PY" "$TB_LIB_DIR/rfc6052.py" "${2:-$TB_PLAT_PREFIX}" "$1"; }

tb__sysctl() {
    local ns=$1
    shift
    ip netns exec "$ns" sysctl -qw "$@" >/dev/null
}

# First address of a /64 given as 2001:db8:1::/64 -> 2001:db8:1::1.
tb__router_addr() { echo "${1%/*}1"; }

tb__write_radvd() {
    local old=${TB_OLD_SLAAC_PREFIX:-}
    {
        echo "interface $TB_RTR_LAN {"
        echo "    AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4;"
        echo "    AdvDefaultLifetime $TB_ROUTER_LIFETIME;"
        # Deprecated (RFC 4862 section 5.5.3: the host keeps the address, not preferred).
        [ -z "$old" ] || echo "    prefix $old { AdvValidLifetime 0; AdvPreferredLifetime 0; };"
        echo "    prefix $TB_SLAAC_PREFIX { AdvValidLifetime 600; AdvPreferredLifetime 300; };"
        echo "};"
    } >"$TB_DIR/radvd.conf"
}

tb__write_unbound() {
    local dir="$TB_DIR/unbound"
    mkdir -p "$dir"
    # shellcheck disable=SC2016
    printf '$TTL %s\n@ SOA ns.invalid. hostmaster.invalid. 1 %s %s %s %s\n' "$TB_DNS_TTL" \
        "$TB_DNS_TTL" "$TB_DNS_TTL" "$TB_DNS_TTL" "$TB_DNS_TTL" >"$dir/soa"
    { cat "$dir/soa"; printf '@ A 192.0.0.170\n@ A 192.0.0.171\n'; } >"$dir/ipv4only.arpa.zone"
    { cat "$dir/soa"; printf 'v4only A %s\n' "$TB_SERVER4"; } >"$dir/example.zone"
    # auth-zone, not local-data: local-data answers before the module chain, so AAAA would
    # get NODATA without synthesis. do-not-query-address keeps every query inside the bed.
    cat >"$dir/unbound.conf" <<EOF
server:
    directory: "$dir"
    chroot: ""
    username: ""
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    interface: $TB_DNS64
    ip-freebind: yes
    access-control: ::/0 allow
    access-control: 0.0.0.0/0 allow
    module-config: "dns64 iterator"
    dns64-prefix: $TB_DNS64_PREFIX
    do-not-query-address: 0.0.0.0/0
    do-not-query-address: ::/0
    qname-minimisation: no
    cache-max-ttl: $TB_DNS_TTL
    cache-max-negative-ttl: $TB_DNS_TTL
auth-zone:
    name: "ipv4only.arpa."
    zonefile: "$dir/ipv4only.arpa.zone"
    for-upstream: yes
    for-downstream: no
auth-zone:
    name: "example."
    zonefile: "$dir/example.zone"
    for-upstream: yes
    for-downstream: no
EOF
}

tb__start_unbound() {
    tb__write_unbound
    tb_spawn rtr unbound unbound -d -c "$TB_DIR/unbound/unbound.conf"
}

## tb_contains PREFIX ADDRESS_OR_PREFIX: true if the second lies inside (or overlaps) PREFIX.
tb_contains() {
    "$TB_PY" -c 'import ipaddress as a, sys
n = a.ip_network(sys.argv[1]); m = a.ip_network(sys.argv[2], strict=False)
sys.exit(0 if n.overlaps(m) else 1)' "$1" "$2"
}

# TAYGA as the PLAT for TB_PLAT_PREFIX. TAYGA refuses an ipv6-addr inside the prefix: for a
# prefix covering 2001:db8:ff64::1 take 3fff:ff64::1 (RFC 9637, documentation too). A prefix
# covering the host's SLAAC prefix cannot work: TAYGA would treat the host's own addresses as
# IPv4-embedded (e.g. 2001:db8::/32); use one outside it, e.g. 3fff:64::/32.
tb__start_plat() {
    local self6=2001:db8:ff64::1
    if tb_contains "$TB_PLAT_PREFIX" "$TB_SLAAC_PREFIX"; then
        tb__die "PLAT prefix $TB_PLAT_PREFIX covers the SLAAC prefix $TB_SLAAC_PREFIX"
        return 1
    fi
    tb_contains "$TB_PLAT_PREFIX" "$self6" && self6=3fff:ff64::1
    cat >"$TB_DIR/tayga.conf" <<EOF
tun-device $TB_PLAT_DEV
ipv4-addr 192.0.2.1
ipv6-addr $self6
prefix $TB_PLAT_PREFIX
dynamic-pool $TB_POOL4
EOF
    # A persistent tun (--mktun) keeps its routes while TAYGA restarts.
    if ! ip -n "$TB_NS_RTR" link show "$TB_PLAT_DEV" >/dev/null 2>&1; then
        ip netns exec "$TB_NS_RTR" tayga -c "$TB_DIR/tayga.conf" --mktun >/dev/null &&
            ip -n "$TB_NS_RTR" link set "$TB_PLAT_DEV" up &&
            ip -n "$TB_NS_RTR" route add "$TB_POOL4" dev "$TB_PLAT_DEV" || return 1
    fi
    ip -n "$TB_NS_RTR" -6 route replace "$TB_PLAT_PREFIX" dev "$TB_PLAT_DEV" &&
        ip -n "$TB_NS_RTR" -6 route replace "$self6" dev "$TB_PLAT_DEV" || return 1
    # TAYGA logs to stdout only with -d; stdout is block-buffered into a file.
    tb_spawn rtr tayga stdbuf -oL tayga -c "$TB_DIR/tayga.conf" -d
    # The tun has carrier only while TAYGA holds it open.
    tb_wait_for "ip -n $TB_NS_RTR link show $TB_PLAT_DEV | grep -q LOWER_UP" 5 ||
        tb__die "TAYGA did not start: $(cat "$TB_DIR/tayga.log")"
}

tb__stop_plat() {
    tb_stop tayga
    ip -n "$TB_NS_RTR" -6 route flush dev "$TB_PLAT_DEV" proto boot 2>/dev/null
}

tb__parse_options() {
    TB_PLAT_PREFIX=2001:db8:64::/96
    TB_DNS64_PREFIX=
    TB_WITH_DNS64=1
    TB_PREF64_LIFETIME=
    TB_DNS_TTL=5
    TB_ROUTER_LIFETIME=300
    TB_SLAAC_PREFIX=2001:db8:1::/64
    TB_UPLINK_UP=1
    while [ $# -gt 0 ]; do
        case $1 in
        --plat-prefix) TB_PLAT_PREFIX=$2 && shift ;;
        --dns64-prefix) TB_DNS64_PREFIX=$2 && shift ;;
        --no-dns64) TB_WITH_DNS64=0 ;;
        --pref64) TB_PREF64_LIFETIME=${TB_PREF64_LIFETIME:-600} ;;
        --pref64-lifetime) TB_PREF64_LIFETIME=$2 && shift ;;
        --dns-ttl) TB_DNS_TTL=$2 && shift ;;
        --router-lifetime) TB_ROUTER_LIFETIME=$2 && shift ;;
        --uplink-down) TB_UPLINK_UP=0 ;;
        *) tb__die "tb_up: unknown option $1" || return 1 ;;
        esac
        shift
    done
    TB_DNS64_PREFIX=${TB_DNS64_PREFIX:-$TB_PLAT_PREFIX}
}

tb__exit() {
    local rc=$?
    tb_down
    [ -z "${TB_WATCHDOG_PID:-}" ] || kill "$TB_WATCHDOG_PID" 2>/dev/null
    exit "$rc"
}

## tb_watchdog SECONDS: after SECONDS, SIGTERMs this script and its children (a foreground
## child would delay the trap), so the EXIT trap still tears the bed down when a test hangs;
## ctest's own TIMEOUT would SIGKILL the script and leave the bed behind.
tb_watchdog() {
    local me=$$
    (
        sleep "$1" &
        sleeper=$!
        trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
        wait "$sleeper"
        echo "testbed: watchdog: $1 s passed, stopping the test" >&2
        kill -TERM "$me"
        for child in $(ps -o pid= --ppid "$me"); do
            [ "$child" = "$BASHPID" ] || kill -TERM "$child" 2>/dev/null
        done
    ) &
    TB_WATCHDOG_PID=$!
}

# shellcheck source=SCRIPTDIR/testbed_net.sh
. "$TB_LIB_DIR/testbed_net.sh"
# shellcheck source=SCRIPTDIR/testbed_clatd.sh
. "$TB_LIB_DIR/testbed_clatd.sh"
