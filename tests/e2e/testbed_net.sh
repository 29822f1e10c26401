# shellcheck shell=bash disable=SC2034
# Bring-up, teardown and the changes scenarios make to the bed. Sourced by testbed.sh.

## tb_up [--plat-prefix P] [--dns64-prefix P] [--no-dns64] [--pref64] [--pref64-lifetime S]
##       [--dns-ttl S] [--router-lifetime S] [--uplink-down]
## Builds the bed and waits until it works: the host has a non-tentative SLAAC address and a
## default route (unless --uplink-down), the DNS64 answers, TAYGA and the HTTP server run.
## The PLAT prefix may have any RFC 6052 length; the DNS64 prefix defaults to it.
tb_up() {
    [ -z "${TB_DIR:-}" ] || tb__die "tb_up: bed $TB_NAME is already up" || return 1
    tb__parse_options "$@" || return 1
    TB_SEQ=$((TB_SEQ + 1))
    TB_NAME=clat-e2e-$$-$TB_SEQ
    TB_NS_HOST=$TB_NAME-host
    TB_NS_RTR=$TB_NAME-rtr
    TB_NS_V4=$TB_NAME-v4
    TB_OLD_SLAAC_PREFIX=
    TB_NATIVE4=
    TB_DIR=$(mktemp -d "/tmp/$TB_NAME.XXXXXX") || return 1
    : >"$TB_DIR/pids"
    trap tb__exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    local started=$SECONDS
    if ! tb__build; then
        tb__log "bring-up of $TB_NAME failed"
        tb_logs >&2
        return 1
    fi
    tb__log "$TB_NAME up in $((SECONDS - started)) s (PLAT $TB_PLAT_PREFIX)"
}

tb__build() {
    local ns
    for ns in "$TB_NS_HOST" "$TB_NS_RTR" "$TB_NS_V4"; do
        ip netns add "$ns" && ip -n "$ns" link set lo up || return 1
    done
    echo "nameserver $TB_DNS64" >"$TB_DIR/resolv.host"
    echo "nameserver $TB_DNS64" >"$TB_DIR/resolv.rtr"
    echo "nameserver 127.0.0.1" >"$TB_DIR/resolv.v4"
    # Both ends are created inside their namespaces: no name ever exists in the root one.
    ip -n "$TB_NS_HOST" link add "$TB_UPLINK" type veth \
        peer name "$TB_RTR_LAN" netns "$TB_NS_RTR" &&
        ip -n "$TB_NS_RTR" link add "$TB_RTR_WAN" type veth peer name eth0 netns "$TB_NS_V4" &&
        tb__build_host && tb__build_rtr && tb__build_v4 || return 1
    tb__start_plat || return 1
    [ "$TB_WITH_DNS64" = 0 ] || tb__start_unbound
    tb__write_radvd
    tb_spawn rtr radvd radvd -n -C "$TB_DIR/radvd.conf" -p "$TB_DIR/radvd.pid" -m stderr
    [ -z "$TB_PREF64_LIFETIME" ] || tb_pref64_announce "$TB_PLAT_PREFIX" "$TB_PREF64_LIFETIME"
    [ "$TB_UPLINK_UP" = 0 ] || ip -n "$TB_NS_HOST" link set "$TB_UPLINK" up || return 1
    tb_wait_for "tb_v4 curl -sf --max-time 1 http://$TB_SERVER4$TB_URL_PATH" 5 ||
        tb__die "the HTTP server does not answer" || return 1
    if [ "$TB_WITH_DNS64" = 1 ]; then
        tb_wait_for tb__dns64_ready 5 || tb__die "unbound does not answer" || return 1
    fi
    [ "$TB_UPLINK_UP" = 0 ] || tb_wait_slaac 15 || tb__die "no SLAAC address" || return 1
}

tb__build_host() {
    # accept_ra=2 before anything may enable forwarding: forwarding=1 purges RA-learned
    # default routes where accept_ra != 2, and with accept_ra=1 later RAs are ignored.
    # DAD stays on, one probe. Fast beds (the default): RetransTimer 100 ms, no RS/DAD delay,
    # proxy answers without delay. TB_ND_DEFAULTS=1 keeps the kernel's defaults for those
    # (1 s, 1 s, proxy_delay 0.8 s), as on a user's host; tb_nd_timing switches later.
    tb__sysctl "$TB_NS_HOST" "net.ipv6.conf.$TB_UPLINK.accept_ra=2" \
        "net.ipv6.conf.$TB_UPLINK.accept_dad=1" "net.ipv6.conf.$TB_UPLINK.dad_transmits=1" &&
        if [ "${TB_ND_DEFAULTS:-0}" = 1 ]; then tb_nd_timing defaults; else tb_nd_timing fast; fi
}

## tb_nd_timing defaults|fast: the host uplink's ND timing. defaults: the kernel's own
## (RetransTimer 1000 ms, router_solicitation_delay 1 s, proxy_delay 80 centiseconds);
## fast: 100 ms, 0, 0 (clatd sets proxy_delay to 0 itself while its proxy entry is there,
## and restores it on stop).
tb_nd_timing() {
    local retrans=100 delay=0 proxy=0
    [ "$1" = defaults ] && retrans=1000 delay=1 proxy=80
    tb__sysctl "$TB_NS_HOST" "net.ipv6.conf.$TB_UPLINK.router_solicitation_delay=$delay" \
        "net.ipv6.neigh.$TB_UPLINK.retrans_time_ms=$retrans" \
        "net.ipv6.neigh.$TB_UPLINK.proxy_delay=$proxy"
}

tb__build_rtr() {
    local r="ip -n $TB_NS_RTR"
    tb__sysctl "$TB_NS_RTR" net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1 \
        "net.ipv6.conf.$TB_RTR_LAN.accept_dad=0" "net.ipv6.conf.$TB_RTR_WAN.accept_dad=0" &&
        $r addr add "$(tb__router_addr "$TB_SLAAC_PREFIX")/64" dev "$TB_RTR_LAN" &&
        $r addr add 203.0.113.1/25 dev "$TB_RTR_WAN" &&
        $r link set "$TB_RTR_LAN" up && $r link set "$TB_RTR_WAN" up &&
        $r route add 198.51.100.0/24 via 203.0.113.2 &&
        ip netns exec "$TB_NS_RTR" nft -f - <<EOF
table ip clat_e2e_plat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "$TB_RTR_WAN" ip saddr { $TB_POOL4, $TB_NATIVE4_NET } masquerade
    }
}
EOF
}

tb__build_v4() {
    local v="ip -n $TB_NS_V4"
    mkdir -p "$TB_DIR/www"
    TB_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    echo "$TB_TOKEN" >"$TB_DIR/www$TB_URL_PATH"
    tb__sysctl "$TB_NS_V4" net.ipv6.conf.all.disable_ipv6=1 &&
        $v addr add "$TB_SERVER4/32" dev lo && $v addr add 203.0.113.2/25 dev eth0 &&
        $v link set eth0 up || return 1
    tb_spawn v4 http "$TB_PY" -u -m http.server 80 --bind "$TB_SERVER4" --directory "$TB_DIR/www"
}

tb__dns64_ready() {
    tb_rtr dig +short +time=1 +tries=1 AAAA ipv4only.arpa "@$TB_DNS64" | grep -q :
}

## tb_wait_slaac [TIMEOUT]: waits until the host's uplink has a non-tentative address in the
## current SLAAC prefix and a default route.
tb_wait_slaac() {
    local head=${TB_SLAAC_PREFIX%::/*}:
    tb_wait_for "ip -n $TB_NS_HOST -6 -o addr show dev $TB_UPLINK scope global -tentative \
        | grep -q ' $head' && ip -n $TB_NS_HOST -6 route show default | grep -q via" "${1:-10}"
}

## tb_down: ends every process of the bed, deletes its namespaces and its directory.
## Idempotent; runs from the EXIT trap.
tb_down() {
    [ -n "${TB_DIR:-}" ] || return 0
    local pid ns pids
    pids=$(cat "$TB_DIR/pids" 2>/dev/null)
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
    for pid in $pids; do
        tb_wait_for "! tb_alive $pid" 3 || kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for ns in "$TB_NS_HOST" "$TB_NS_RTR" "$TB_NS_V4"; do
        # Anything else a test started inside the bed.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    [ -s "$TB_DIR/run.path" ] && rm -rf "$(cat "$TB_DIR/run.path")"
    rm -rf "$TB_DIR"
    TB_LAST_NAME=$TB_NAME
    TB_LAST_PIDS=$pids
    unset TB_DIR TB_NAME
}

## tb_logs: prints the log of every process the bed started.
tb_logs() {
    local f
    for f in "$TB_DIR"/*.log; do
        [ -f "$f" ] || continue
        echo "---- ${f##*/}"
        tail -n 30 "$f"
    done
}

tb__pref64_name() { echo "pref64-$(echo "$1" | tr ':/' '_-')"; }

## tb_pref64_announce PREFIX LIFETIME: PREF64 RAs every 3 s (and on solicitation) until
## tb_pref64_withdraw; several prefixes may be announced at once.
tb_pref64_announce() {
    local name
    name=$(tb__pref64_name "$1")
    tb_stop "$name"
    tb_spawn rtr "$name" "$TB_PY" -u "$TB_LIB_DIR/ra_sender.py" --iface "$TB_RTR_LAN" \
        --prefix "$1" --lifetime "$2" --router-lifetime "$TB_ROUTER_LIFETIME"
}

## tb_pref64_withdraw PREFIX: stops announcing PREFIX and sends it with lifetime 0.
tb_pref64_withdraw() {
    tb_stop "$(tb__pref64_name "$1")"
    tb_rtr "$TB_PY" "$TB_LIB_DIR/ra_sender.py" --iface "$TB_RTR_LAN" --prefix "$1" \
        --lifetime 0 --router-lifetime "$TB_ROUTER_LIFETIME" --once
}

## tb_renumber NEWPREFIX: the router advertises NEWPREFIX (a /64) and the current SLAAC prefix
## with lifetimes 0, so the host deprecates its old address and forms a new one. The DNS64
## stays at 2001:db8:1::1 (the router keeps that address).
tb_renumber() {
    ip -n "$TB_NS_RTR" addr add "$(tb__router_addr "$1")/64" dev "$TB_RTR_LAN" || return 1
    TB_OLD_SLAAC_PREFIX=$TB_SLAAC_PREFIX
    TB_SLAAC_PREFIX=$1
    tb__write_radvd
    kill -HUP "$(cat "$TB_DIR/radvd.pid")"
}

## tb_plat_prefix PREFIX: restarts the PLAT (TAYGA) on PREFIX; the old prefix stops working.
tb_plat_prefix() {
    tb__stop_plat
    TB_PLAT_PREFIX=$1
    tb__start_plat
}

## tb_dns64_prefix PREFIX: restarts unbound synthesising under PREFIX and moves the PLAT too.
tb_dns64_prefix() {
    TB_DNS64_PREFIX=$1
    if [ "$TB_WITH_DNS64" = 1 ]; then
        tb_stop unbound
        tb__start_unbound
    fi
    tb_plat_prefix "$1" || return 1
    [ "$TB_WITH_DNS64" = 0 ] || tb_wait_for tb__dns64_ready 5
}

## tb_native_v4 on|off [veth|uplink]: gives the host native IPv4 (203.0.113.130/25, default
## route via 203.0.113.129, masqueraded by the router) on a second veth "eth1" (default) or on
## the uplink itself; off removes it again (deletes eth1, or the addresses).
tb_native_v4() {
    local h="ip -n $TB_NS_HOST" r="ip -n $TB_NS_RTR" mode=${2:-veth} hdev rdev
    if [ "$1" = off ]; then
        case $TB_NATIVE4 in
        veth) $h link del eth1 ;;
        uplink)
            $h addr del 203.0.113.130/25 dev "$TB_UPLINK"
            $r addr del 203.0.113.129/25 dev "$TB_RTR_LAN"
            ;;
        esac
        TB_NATIVE4=
        return 0
    fi
    [ -z "$TB_NATIVE4" ] || tb__die "native IPv4 is already on ($TB_NATIVE4)" || return 1
    hdev=$TB_UPLINK rdev=$TB_RTR_LAN
    if [ "$mode" = veth ]; then
        hdev=eth1 rdev=lan4
        $h link add eth1 type veth peer name lan4 netns "$TB_NS_RTR" &&
            $r link set lan4 up && $h link set eth1 up || return 1
    fi
    $r addr add 203.0.113.129/25 dev "$rdev" && $h addr add 203.0.113.130/25 dev "$hdev" &&
        $h route add default via 203.0.113.129 dev "$hdev" || return 1
    TB_NATIVE4=$mode
}

## tb_uplink down|up|carrier-down|carrier-up: the host's uplink administratively down/up, or
## the router's end of it (the host sees the carrier go and come back).
tb_uplink() {
    case $1 in
    down | up) ip -n "$TB_NS_HOST" link set "$TB_UPLINK" "$1" ;;
    carrier-down) ip -n "$TB_NS_RTR" link set "$TB_RTR_LAN" down ;;
    carrier-up) ip -n "$TB_NS_RTR" link set "$TB_RTR_LAN" up ;;
    *) tb__die "tb_uplink down|up|carrier-down|carrier-up" ;;
    esac
}

## tb_snapshot: the host namespace as text, everything the agent may change (as the C++
## harness's snapshot()): links, addresses, routes of all tables, rules, ND proxies, sysctls,
## tc qdiscs and clsact filters, nftables, ip6tables (nf_tables and legacy); lifetimes, expiry
## timers, counters and MAC addresses stripped.
tb_snapshot() {
    # shellcheck disable=SC2016
    tb_host bash -c '
        echo "## links"
        ip -d -o link show | sed -E "s/ link\/ether [0-9a-f:]+ brd [0-9a-f:]+//"
        echo "## addresses"
        ip -o addr show | sed -E "s/(valid|preferred)_lft [^ ]+//g"
        echo "## routes4"; ip -4 route show table all
        echo "## routes6"; ip -6 route show table all | sed -E "s/expires [0-9]+sec//"
        echo "## rules4"; ip -4 rule show
        echo "## rules6"; ip -6 rule show
        echo "## neigh-proxy"; ip -6 neigh show proxy
        echo "## sysctl"
        for f in /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/forwarding \
            /proc/sys/net/ipv6/conf/*/forwarding /proc/sys/net/ipv6/conf/*/accept_ra \
            /proc/sys/net/ipv6/conf/*/proxy_ndp /proc/sys/net/ipv6/conf/*/accept_dad \
            /proc/sys/net/ipv6/neigh/*/proxy_delay; do
            echo "$f=$(cat "$f")"
        done
        echo "## tc"
        for dev in $(ip -o link show | sed -E "s/^[0-9]+: ([^:@]+).*/\1/"); do
            tc qdisc show dev "$dev"
            tc filter show dev "$dev" ingress 2>/dev/null
            tc filter show dev "$dev" egress 2>/dev/null
        done
        echo "## nft"; nft list ruleset 2>/dev/null
        echo "## ip6tables"
        ip6tables-save 2>/dev/null | grep -v "^#" | sed -E "s/\[[0-9]+:[0-9]+\]//"
        echo "## ip6tables-legacy"
        ip6tables-legacy-save 2>/dev/null | grep -v "^#" | sed -E "s/\[[0-9]+:[0-9]+\]//"'
}

## tb_reap_stale [PID]: deletes beds left by test scripts that died without cleaning up
## (SIGKILL): namespaces clat-e2e-<pid>-* whose <pid> no longer runs (only PID's, if given),
## the processes still inside them, and their directories.
tb_reap_stale() {
    local ns pid p
    for ns in $(ip netns list | awk '{print $1}' | grep -E "^clat-e2e-${1:-[0-9]+}-"); do
        pid=${ns#clat-e2e-}
        pid=${pid%%-*}
        kill -0 "$pid" 2>/dev/null && continue
        for p in $(ip netns pids "$ns"); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" && tb__log "removed stale namespace $ns"
        rm -rf "/tmp/clat-e2e-$pid-"* "/dev/shm/clat-e2e-$pid-"*
    done
}
