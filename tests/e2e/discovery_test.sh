#!/usr/bin/env bash
# e2e.discovery: clatd finds the PLAT prefix every way SPEC §5 names and IPv4 works through
# the CLAT each time (ping and HTTP to the IPv4-only server), on one bed:
#   a. cold start, prefix from DNS64 (status and log: source dns64);
#   e. the DNS64 answer changes (unbound and the PLAT move to a /64) -> the new prefix is in use
#      within the short TTL, no restart;
#   b. PREF64 announcing a DIFFERENT prefix than DNS64's is preferred (RFC 9872), both while
#      running and on a cold start; the PLAT serves only the PREF64 prefix;
#   f. PREF64 withdrawn (lifetime 0) -> back to DNS64's prefix;
#   c. configured plat-prefix= of /64 and /48 wins over DNS64 (source config, no expiry).
# After every stop (SIGTERM, exit 0) the host is exactly as before the first start; after
# tb_down nothing of the bed is left. Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2119  # functions called without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup

P_DNS=2001:db8:64::/96
P_DNS2=2001:db8:46::/64
P_PREF=2001:db8:6464::/56

# check_running WHAT PREFIX SOURCE: Running on PREFIX from SOURCE, IPv4 through the CLAT.
check_running() {
    local what=$1 prefix=$2 source=$3 pid
    tb_check "$what: state Running" tb_clatd_wait_state Running 20
    tb_check_status "$what" state Running
    tb_check_status "$what" plat_prefix "$prefix" 15
    tb_check_status "$what" plat_source "$source"
    tb_check_status "$what" plat_dev "$TB_UPLINK"
    tb_check_status "$what" clat_dev clat
    tb_check_status "$what" clat_v4 192.0.0.1
    tb_check "$what: clat_v6 in the SLAAC prefix" tb_contains "$TB_SLAAC_PREFIX" \
        "$(tb_status clat_v6)/128"
    pid=$(tb_translator_pid)
    tb_check "$what: translator_pid is clatd's TAYGA ($pid)" tb_equals "$(tb_status translator_pid)" \
        "$pid"
    tb_check "$what: IPv4 default route via the CLAT" tb_host sh -c \
        "ip -4 route show default | grep -q 'dev clat'"
    tb_check_ipv4 "$what"
}

# check_expiry WHAT MAX: plat_expiry lies between now and now+MAX seconds.
check_expiry() {
    local expiry now
    expiry=$(tb_status plat_expiry)
    now=$(date +%s)
    tb_check "$1: plat_expiry ($expiry) within ${2} s from now" \
        test "${expiry:-0}" -ge $((now - 1)) -a "${expiry:-0}" -le $((now + $2 + 1))
}

scenarios() {
    local s0 pid mark
    s0=$(tb_snapshot)

    # a. DNS64
    tb_clatd_start v4-conncheck-delay=1
    pid=$(tb_clatd_pid)
    check_running "a (DNS64)" "$P_DNS" dns64
    tb_check "a: log names the DNS64 prefix" tb_clatd_log_has "dns64 prefix=$P_DNS "
    tb_check "a: log shows the provisioning" tb_clatd_log_has "provision plat=$P_DNS from dns64"
    check_expiry a "$TB_DNS_TTL"

# A prefix change means a new TAYGA mapping: the translator is replaced (same tun) and the
# status follows the new child.
    # e. the DNS64 answer changes at TTL expiry
    mark=$(tb_clatd_mark)
    tb_dns64_prefix "$P_DNS2"
    tb_check "e: new DNS64 prefix in use within 15 s" tb_wait_status plat_prefix "$P_DNS2" 15
    tb_check "e: log: reconciled to the new prefix" tb_clatd_log_has "dns64 prefix=$P_DNS2 " "$mark"
    check_running "e (DNS64 changed)" "$P_DNS2" dns64
    tb_check "e: same clatd, no restart" tb_alive "$pid"

    # b. PREF64 with a different prefix than DNS64's, while running
    tb_plat_prefix "$P_PREF"
    tb_pref64_announce "$P_PREF" 600
    tb_check "b: PREF64 prefix preferred within 10 s" tb_wait_status plat_prefix "$P_PREF" 10
    check_running "b (PREF64, running)" "$P_PREF" pref64
    check_expiry b 600

    # f. PREF64 withdrawn: back to DNS64 (the PLAT moves back first: IPv4 must come back)
    tb_plat_prefix "$P_DNS2"
    mark=$(tb_clatd_mark)
    tb_pref64_withdraw "$P_PREF"
    tb_check "f: back to the DNS64 prefix within 10 s" tb_wait_status plat_source dns64 10
    tb_check "f: log: PREF64 withdrawn" tb_clatd_log_has "pref64 withdrawn" "$mark"
    check_running "f (PREF64 withdrawn)" "$P_DNS2" dns64
    tb_check "f: same clatd, no restart" tb_alive "$pid"
    tb_clatd_stop_check "a-f: stop" "$s0"

    # b. cold start with PREF64 and DNS64 disagreeing
    tb_plat_prefix "$P_PREF"
    tb_pref64_announce "$P_PREF" 600
    tb_check "b: DNS64 still answers its own prefix" tb_equals \
        "$(tb_host dig +short AAAA ipv4only.arpa | sort | head -n 1)" "$(tb_synth 192.0.0.170 "$P_DNS2")"
    tb_clatd_start v4-conncheck-delay=1
    check_running "b (PREF64, cold start)" "$P_PREF" pref64
    tb_check "b: log names the PREF64 prefix" tb_clatd_log_has "pref64 prefix=$P_PREF "
    # RAs come every 3 s and this PREF64 sender answers no Router Solicitation (see
    # e2e.pref64_solicit): clatd may provision with the DNS64 prefix first and move to
    # PREF64's (a translator replacement).
    if tb_clatd_log_has "provision plat=$P_DNS2 from dns64"; then
        echo "note: b: the cold start provisioned with the DNS64 prefix before PREF64 arrived"
    fi
    tb_clatd_stop_check "b: stop" "$s0"
    tb_pref64_withdraw "$P_PREF"

    # c. configured prefixes of other RFC 6052 lengths; DNS64 still says $P_DNS2
    for prefix in 2001:db8:64::/64 2001:db8:6400::/48; do
        tb_plat_prefix "$prefix"
        tb_clatd_start v4-conncheck-delay=1 "plat-prefix=$prefix"
        check_running "c ($prefix configured)" "$prefix" config
        tb_check_status "c ($prefix)" plat_expiry 0
        tb_check "c ($prefix): no DNS64 query" tb_not tb_clatd_log_has "dns64 prefix="
        tb_clatd_stop_check "c ($prefix): stop" "$s0"
    done
}

tb_run_bed --plat-prefix "$P_DNS"
