#!/usr/bin/env bash
# e2e.pref64_solicit: on a PREF64-only network (RFC 8781; no DNS64: the bed runs no unbound,
# so the host's resolver has nothing on port 53) whose router sends PREF64 only in answer to a
# Router Solicitation (ra_sender.py --answer-rs; radvd's periodic RAs carry no PREF64), clatd
# started after the uplink is up solicits (RFC 4861 §6.3.7) and so learns the prefix at once:
#   cold. Running within 8 s, plat_source pref64, IPv4 ping and HTTP through the CLAT; the
#        router saw an RS with hop limit 255 and no options (8 bytes) from a link-local address,
#        and no second RS 4 s later (the round stops once a PREF64 is heard);
#   restart. the same again after a stop (the kernel kept no RA option for the new process).
# Without solicitations clatd would wait for a periodic RA that never carries PREF64 here and
# stay in DiscoverPlat. After each SIGTERM the host is as before; after tb_down nothing is left.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2119  # functions called without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup

P=2001:db8:64::/96

# rs_answered: how many RS the router answered so far.
rs_answered() { grep -c 'RS from fe80:.* hop limit 255 length 8: answered' "$TB_DIR/pref64-rs.log"; }

# cold_start WHAT RS_BEFORE: clatd starts, learns PREF64 through one RS, IPv4 works.
cold_start() {
    local what=$1 before=$2 started
    started=$(date +%s%N)
    tb_clatd_start v4-conncheck-delay=1
    if tb_clatd_wait_state Running 8; then
        echo "ok: $what: state Running $((($(date +%s%N) - started) / 1000000)) ms after the start"
    else
        tb_check "$what: state Running within 8 s" false
    fi
    tb_check_status "$what" plat_source pref64
    tb_check_status "$what" plat_prefix "$P"
    tb_check "$what: log: solicited on the uplink" tb_clatd_log_has "router-solicit dev=$TB_UPLINK "
    tb_check "$what: log: PREF64 heard" tb_clatd_log_has "pref64 prefix=$P "
    tb_check_ipv4 "$what"
    # The second RS of a round would follow 4 s after the first.
    while [ $(($(date +%s%N) - started)) -lt 5500000000 ]; do sleep 0.2; done
    tb_check "$what: the router answered exactly one RS (hop limit 255, 8 bytes)" tb_equals \
        "$(rs_answered)" $((before + 1))
    tb_check "$what: no RS ignored by the router" tb_not grep -q ignored "$TB_DIR/pref64-rs.log"
}

scenarios() {
    local s0
    s0=$(tb_snapshot)
    tb_spawn rtr pref64-rs "$TB_PY" -u "$TB_LIB_DIR/ra_sender.py" --iface "$TB_RTR_LAN" \
        --prefix "$P" --lifetime 600 --router-lifetime "$TB_ROUTER_LIFETIME" --answer-rs
    tb_check "router answers RS only" tb_wait_for \
        "grep -q 'answering RS only' '$TB_DIR/pref64-rs.log'" 5
    tb_check "no RS before clatd starts" tb_equals "$(rs_answered)" 0

    cold_start cold 0
    tb_clatd_stop_check "cold: stop" "$s0"
    cold_start restart 1
    tb_clatd_stop_check "restart: stop" "$s0"
}

tb_run_bed --plat-prefix "$P" --no-dns64
