#!/usr/bin/env bash
# e2e.firewall: the firewall that is really in use (issue 12 item 4) on the host, with nft
# installed and data-path=tayga (packets the eBPF path translates meet no forward hook):
#   l. a legacy ip6tables FORWARD DROP (ip6tables-legacy, which nft does not show): clatd's
#      rules go into the legacy table (status firewall=ip6tables-legacy), IPv4 works through
#      the CLAT, and after the stop the rules are gone (host exactly as before);
#   b. nftables and legacy both drop: rules in both (firewall=nftables,ip6tables-legacy);
#      `ip6tables-legacy -F FORWARD` while Running -> the rules are back within the 5 s poll
#      and IPv4 works; `nft flush ruleset` and the ruleset loaded again (a firewalld reload)
#      -> the same; the journal did not grow; stop -> host as before;
#   k. SIGKILL while Running with both: the rules stay behind; the next start replays the
#      journal (the old mark's rules go), adds its own, and its stop leaves the host as before.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2016,SC2119  # tb_wait_for evaluates its string; calls without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup ip6tables-legacy ip6tables-legacy-save

PLAT=2001:db8:64::/96
# What a firewall (firewalld, nftables.service) loads: a forward chain that drops.
HOST_RULESET="table inet clat_e2e_fw {
    chain forward { type filter hook forward priority 0; policy drop; }
}"

# legacy_rules [MARK]: clatd's rules in the legacy FORWARD chain (of MARK, default any).
legacy_rules() { tb_host ip6tables-legacy -S FORWARD | grep -c -- "--comment clatd-${1:-}"; }
# nft_rules [MARK]: clatd's rules in the nftables ruleset.
nft_rules() { tb_host nft list ruleset | grep -c "comment \"clatd-${1:-}"; }
# mark_in_use: the mark of the running instance's rules (from the legacy table).
mark_in_use() {
    tb_host ip6tables-legacy -S FORWARD | sed -n 's/.*--comment clatd-\([0-9a-f]*\).*/\1/p' |
        sort -u
}
journal_lines() { wc -l <"$TB_DIR/run/clatd.journal"; }

drop_legacy() { tb_host ip6tables-legacy -P FORWARD DROP; }
drop_nft() { echo "$HOST_RULESET" | tb_host nft -f -; }
# open_host: no drop left on the host (the bed's own state before each scenario).
open_host() {
    tb_host nft delete table inet clat_e2e_fw 2>/dev/null
    tb_host ip6tables-legacy -P FORWARD ACCEPT
    tb_host ip6tables-legacy -F FORWARD
}

start_running() {
    local what=$1
    # TAYGA carries every packet: the eBPF path's tc redirects meet no forward hook, so a
    # ping through it would pass any firewall and show nothing.
    printf 'v4-conncheck-delay=1\nplat-prefix=%s\ndata-path=tayga\n' "$PLAT" >"$TB_DIR/clatd.conf"
    tb_clatd_start
    tb_check "$what: Running" tb_clatd_wait_state Running 15
}

# l. Legacy only.
check_legacy() {
    local s0
    drop_legacy
    s0=$(tb_snapshot)
    tb_check "l: without clatd the legacy table drops forwarded IPv6" tb_equals \
        "$(tb_host ip6tables-legacy -S FORWARD | head -n1)" "-P FORWARD DROP"
    start_running l || return
    tb_check_ipv4 l
    tb_check_status l firewall ip6tables-legacy
    tb_check "l: two rules in the legacy FORWARD chain" tb_equals "$(legacy_rules)" 2
    tb_check "l: none in nftables" tb_equals "$(nft_rules)" 0
    tb_clatd_stop_check l "$s0"
    tb_check "l: no clatd rule left" tb_equals "$(legacy_rules)" 0
    open_host
}

# b. Both drop; each flushed behind clatd's back while Running.
check_flushes() {
    local s0 lines mark
    drop_legacy
    drop_nft
    s0=$(tb_snapshot)
    start_running b || return
    tb_check_ipv4 b
    tb_check_status b firewall nftables,ip6tables-legacy
    tb_check "b: two rules in each" tb_equals "$(legacy_rules) $(nft_rules)" "2 2"
    mark=$(mark_in_use)
    lines=$(journal_lines)

    tb_host ip6tables-legacy -F FORWARD
    tb_check "b (ip6tables-legacy -F): rules back within 12 s" \
        tb_wait_for "[ \$(legacy_rules $mark) = 2 ]" 12
    tb_check_ipv4 "b (ip6tables-legacy -F)"
    tb_check "b (ip6tables-legacy -F): the log says so" \
        tb_clatd_log_has "firewall rules lost backend=ip6tables-legacy"

    tb_host nft flush ruleset
    drop_nft
    tb_check "b (nft flush ruleset, reloaded): rules back within 12 s" \
        tb_wait_for "[ \$(nft_rules $mark) = 2 ]" 12
    tb_check_ipv4 "b (nft flush ruleset)"
    tb_check "b: the legacy rules untouched" tb_equals "$(legacy_rules $mark)" 2
    tb_check_status b state Running
    tb_check_status b firewall nftables,ip6tables-legacy
    tb_check "b: the journal did not grow ($lines lines)" tb_equals "$(journal_lines)" "$lines"
    tb_clatd_stop_check b "$s0"
    tb_check "b: no clatd rule left" tb_equals "$(legacy_rules) $(nft_rules)" "0 0"
    open_host
}

# k. SIGKILL, then a restart.
check_sigkill() {
    local s0 old new
    drop_legacy
    drop_nft
    s0=$(tb_snapshot)
    start_running k || return
    tb_check_ipv4 k
    old=$(mark_in_use)
    tb_clatd_stop KILL
    tb_check "k: clatd killed" tb_equals "$TB_CLATD_RC" 137
    tb_check "k: its rules are left behind" tb_equals "$(legacy_rules "$old") $(nft_rules "$old")" \
        "2 2"
    start_running "k (restart)" || return
    tb_check "k: journal replayed" tb_clatd_log_has "recover journal="
    new=$(mark_in_use)
    tb_check "k: the old mark's rules are gone" tb_equals \
        "$(legacy_rules "$old") $(nft_rules "$old")" "0 0"
    tb_check "k: the new instance's rules are in both ($new)" tb_equals \
        "$(legacy_rules "$new") $(nft_rules "$new")" "2 2"
    tb_check_ipv4 "k (restart)"
    tb_clatd_stop_check "k (restart)" "$s0"
    open_host
}

scenarios() {
    check_legacy
    check_flushes
    check_sigkill
}

tb_run_bed
