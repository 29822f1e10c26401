#!/usr/bin/env bash
# e2e.fault_ra: crafted Router Advertisements with PREF64 options (RFC 8781), one by one and in
# floods; clatd uses only valid prefixes, never one from a malformed option, stays alive and
# does not grow (SPEC §4, §5). One bed without unbound (the host's resolver has nothing on
# port 53: DNS64 fails at once and keeps retrying in the background), clatd with pref64 on:
#   plc. one valid PREF64 of each RFC 8781 length in turn (/32 /40 /48 /56 /64 under
#        3fff::/20, then the PLAT's /96), each RA also withdrawing the previous one
#        (lifetime 0): D-Bus plat_prefix follows, source pref64; IPv4 works on the /96;
#   flood. 2000 RAs in 2 s (1000/s), cycling through a valid RA, reserved PLCs 6 and 7,
#        Length 1 and Length 3 options, a zero-length option, an option running past the
#        end, a withdrawal of a never-announced prefix and an RA of 60 bad options. Malformed
#        options carry prefixes under 2001:db8:0:bad::/64, which must never appear in the
#        status or the log; they sort before the valid ones, so that the agent (which takes
#        the lowest of several live PREF64 prefixes) would switch to one it wrongly took.
#        Watched during the flood (clatctl monitor --json, status samples) and checked
#        after it: the prefix is the PLAT's, IPv4 works, clatd is alive, its fd count is
#        unchanged and its RSS grew by less than 4 MiB (no per-RA state is kept);
#   switch. the PLAT moves to 2001:db8:65::/96 and a second flood announces it while
#        withdrawing the old one: clatd follows, IPv4 works.
# What the kernel (6.x; net/ipv6/ndisc.c) lets through, checked with nduseropt_listener.py:
# ndisc_parse_options() drops the WHOLE RA when an option has Length 0 or runs past the end
# of the RA, so neither those nor any valid option next to them reach user space; it does not
# look inside PREF64 options, so Length 1 (8 bytes), Length 3 (24 bytes), PLC 6/7 and
# lifetime 0 each arrive as their own RTM_NEWNDUSEROPT message, and the agent must ignore the
# first three (RFC 8781 §4: Length must be 2, PLC 0-5).
# After SIGTERM the host is as before; after tb_down nothing of the bed is left.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2016,SC2119  # tb_wait_for evaluates its string; calls without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup

P=2001:db8:64::/96
P2=2001:db8:65::/96
BAD=2001:db8:0:bad::/96
# Valid prefixes of every RFC 8781 length, outside the bed's SLAAC and PLAT prefixes.
PLC_PREFIXES="3fff:32::/32 3fff:40:4000::/40 3fff:48:48::/48 3fff:56:56:5600::/56
3fff:64:64:64::/64"

# ras COUNT RATE RA...: ra_sender.py --ra RA... in the router namespace (foreground).
ras() {
    local count=$1 rate=$2 args=()
    shift 2
    for ra in "$@"; do args+=(--ra "$ra"); done
    tb_rtr "$TB_PY" "$TB_LIB_DIR/ra_sender.py" --iface "$TB_RTR_LAN" \
        --router-lifetime "$TB_ROUTER_LIFETIME" --count "$count" --rate "$rate" "${args[@]}"
}

# malformed_ras: the RAs of a flood that carry nothing valid (see the header).
malformed_ras() {
    local many="" i b=2001:db8:0:bad
    for i in $(seq 1 10); do
        many+=" len1=$b:$i::/96 plc6=$b:$i::/96 plc7=$b:$i::/96 len3=$b:$i::/96 other"
        many+=" pref64=$b:$i::/96@0"
    done
    printf '%s\n' "plc6=$BAD plc7=$b:1::/96" "len1=$BAD len3=$b:2::/96" \
        "pref64=$b:3::/96@600 zero" "pref64=$b:4::/96@600 overrun=$BAD" "pref64=$b:5::/96@0" \
        "${many# }"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$(tb_clatd_pid)/stat"; }
le() { [ "$1" -le "$2" ] || { echo "  got $1, limit $2" && false; }; }

# host_ras: Router Advertisements the host's kernel has received.
host_ras() {
    ip netns exec "$TB_NS_HOST" awk '$1 == "Icmp6InRouterAdvertisements" { print $2 }' \
        /proc/net/snmp6
}

# flood WHAT RAS_FILE: 2000 RAs in 2 s cycling through the lines of RAS_FILE in the
# background, while `clatctl monitor --json` records every status change ($TB_DIR/WHAT.monitor)
# and the status is sampled ($TB_DIR/WHAT.samples: "prefix source" lines).
flood() {
    local what=$1 pid mon ras_list=() ras0
    mapfile -t ras_list <"$2"
    ras0=$(host_ras)
    tb_ctl monitor --json >"$TB_DIR/$what.monitor" 2>&1 &
    mon=$!
    sleep 0.5
    ras 2000 1000 "${ras_list[@]}" >"$TB_DIR/$what.flood" 2>&1 &
    pid=$!
    : >"$TB_DIR/$what.samples"
    while kill -0 "$pid" 2>/dev/null; do
        tb_ctl status --json 2>/dev/null | "$TB_PY" -c 'import json, sys
s = json.load(sys.stdin); print(s["plat_prefix"], s["plat_source"])' >>"$TB_DIR/$what.samples"
    done
    wait "$pid"
    sleep 0.5
    kill "$mon" 2>/dev/null
    wait "$mon" 2>/dev/null
    tb_check "$what: 2000 RAs sent ($(cat "$TB_DIR/$what.flood"))" grep -q '2000 crafted' \
        "$TB_DIR/$what.flood"
    echo "  $what: the host's kernel received $(($(host_ras) - ras0)) RAs;" \
        "$(wc -l <"$TB_DIR/$what.monitor") status changes;" \
        "$(wc -l <"$TB_DIR/$what.samples") samples"
}

# monitored FIELD WHAT: the distinct values of FIELD in WHAT's monitor output.
monitored() {
    grep -o "\"$1\":\"[^\"]*\"" "$TB_DIR/$2.monitor" | sed 's/.*:"\(.*\)"/\1/' | sort -u
}

# check_flood WHAT PREFIX MARK: during and after a flood, only PREFIX was in use.
check_flood() {
    local what=$1 prefix=$2 mark=$3
    tb_check "$what: clatctl monitor saw the agent's changes" grep -q timestamp \
        "$TB_DIR/$what.monitor"
    tb_check "$what: every plat_prefix change during the flood: $prefix" tb_equals \
        "$(monitored plat_prefix "$what" | grep -vx "$prefix")" ""
    tb_check "$what: every plat_source change during the flood: pref64" tb_equals \
        "$(monitored plat_source "$what" | grep -vx pref64)" ""
    tb_check "$what: status sampled during the flood" test -s "$TB_DIR/$what.samples"
    tb_check "$what: every sample during the flood: $prefix pref64" tb_equals \
        "$(sort -u "$TB_DIR/$what.samples" | grep -vx "$prefix pref64")" ""
    tb_check "$what: no malformed option's prefix in the log" tb_not tb_clatd_log_has \
        "2001:db8:0:bad" "$mark"
    tb_check "$what: clatd alive" tb_alive "$(tb_clatd_pid)"
    tb_check_status "$what" state Running
    tb_check_status "$what" plat_prefix "$prefix"
    tb_check_status "$what" plat_source pref64
    tb_check_ipv4 "$what"
}

check_plc_lengths() {
    local prev="" prefix withdraw
    for prefix in $PLC_PREFIXES $P; do
        withdraw=${prev:+ pref64=$prev@0}
        ras 3 20 "pref64=$prefix@600$withdraw" >/dev/null
        tb_check "plc: ${prefix#*/} -> plat_prefix $prefix" tb_wait_status plat_prefix "$prefix" 10
        tb_check_status "plc ${prefix#*/}" plat_source pref64 1
        prev=$prefix
    done
    tb_check "plc: Running on the PLAT's prefix" tb_wait_status state Running 15
    tb_check_ipv4 "plc (/96)"
}

scenarios() {
    local s0 mark fds0 rss0 cpu0 fds1 rss1 cpu1
    s0=$(tb_snapshot)
    printf 'v4-conncheck-delay=0\npref64-enable=yes\n' >"$TB_DIR/clatd.conf"
    tb_clatd_start
    tb_check "start: waits in DiscoverPLAT (no PREF64 yet)" tb_wait_status state DiscoverPLAT 10
    check_plc_lengths
    sleep 1
    fds0=$(tb_clatd_fds) rss0=$(tb_clatd_rss_kib) cpu0=$(cpu_ticks)

    mark=$(tb_clatd_mark)
    { echo "pref64=$P@600" && malformed_ras; } >"$TB_DIR/flood1.ras"
    flood flood1 "$TB_DIR/flood1.ras"
    check_flood flood1 "$P" "$mark"
    sleep 1
    fds1=$(tb_clatd_fds) rss1=$(tb_clatd_rss_kib) cpu1=$(cpu_ticks)
    echo "  flood1: fds $fds0 -> $fds1, RSS $rss0 -> $rss1 KiB, CPU $((cpu1 - cpu0)) ticks," \
        "$(tb_clatd_log_has 'netlink overrun' "$mark" && echo 'with' || echo 'no') netlink overrun"
    tb_check "flood1: fd count unchanged ($fds0 -> $fds1)" tb_equals "$fds1" "$fds0"
    tb_check "flood1: RSS grew by less than 4 MiB ($rss0 -> $rss1 KiB)" le "$rss1" \
        $((rss0 + 4096))

    tb_plat_prefix "$P2"
    mark=$(tb_clatd_mark)
    { echo "pref64=$P2@600 pref64=$P@0" && malformed_ras; } >"$TB_DIR/flood2.ras"
    flood flood2 "$TB_DIR/flood2.ras"
    # The samples taken before the first RA of the flood arrived still show the old prefix.
    sed -i "\\|^$P pref64\$|d" "$TB_DIR/flood2.samples"
    check_flood flood2 "$P2" "$mark"
    tb_check "switch: log: pref64 prefix=$P2" tb_clatd_log_has "pref64 prefix=$P2 " "$mark"
    fds1=$(tb_clatd_fds) rss1=$(tb_clatd_rss_kib)
    tb_check "flood2: fd count unchanged ($fds0 -> $fds1)" tb_equals "$fds1" "$fds0"
    tb_check "flood2: RSS grew by less than 4 MiB ($rss0 -> $rss1 KiB)" le "$rss1" \
        $((rss0 + 4096))
    tb_clatd_stop_check "stop" "$s0"
}

tb_run_bed --no-dns64
