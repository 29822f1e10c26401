#!/usr/bin/env bash
# e2e.smoke: the 464XLAT test bed works WITHOUT clatd, from the host namespace: SLAAC, DNS64
# synthesis (ipv4only.arpa and an IPv4-only name), ping and HTTP to the IPv4-only server through
# the PLAT, PREF64 RAs seen and withdrawn; for a /96 and a /64 PLAT prefix (two bring-ups),
# then /56 /48 /40 and /32 (3fff:64::/32, RFC 9637: 2001:db8::/32 would cover the
# host's own addresses) by moving DNS64 and PLAT in the second bed. After each tb_down nothing
# of the bed may be left. Exit 77 (skipped) when not root or a tool is missing.
set -u
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: the test bed needs root (network namespaces)"
    exit 77
fi
for tool in ip nft tayga radvd unbound dig curl ping stdbuf /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "skipped: $tool is not installed" && exit 77; }
done
# shellcheck source=SCRIPTDIR/testbed.sh
. "$(dirname "$0")/testbed.sh"
tb_watchdog $((${TB_TIMEOUT:-180} - 15))
# The bed library's checks (testbed_clatd.sh): tb_check counts failures in TB_FAILURES.
check() { tb_check "$@"; }
equals() { tb_equals "$@"; }

# DNS64 answers and traffic to the IPv4-only server through the PLAT under the current prefix.
check_plat() {
    local p=$TB_PLAT_PREFIX synth answer expected ttl before
    synth=$(tb_synth "$TB_SERVER4")
    answer=$(tb_host dig +short +time=2 +tries=2 AAAA ipv4only.arpa "@$TB_DNS64" | sort)
    expected=$(printf '%s\n' "$(tb_synth 192.0.0.170)" "$(tb_synth 192.0.0.171)" | sort)
    check "$p: ipv4only.arpa AAAA synthesised" equals "$answer" "$expected"
    ttl=$(tb_host dig +noall +answer +time=2 AAAA ipv4only.arpa "@$TB_DNS64" |
        awk '{print $2; exit}')
    check "$p: DNS64 TTL ($ttl) at most $TB_DNS_TTL s" [ "${ttl:-99}" -le "$TB_DNS_TTL" ]
    # No server given: this goes through the bed's private resolv.conf.
    answer=$(tb_host dig +short +time=2 +tries=2 AAAA v4only.example)
    check "$p: v4only.example AAAA via resolv.conf" equals "$answer" "$synth"
    check "$p: ping6 $synth through the PLAT" tb_host ping -6 -q -c 1 -W 3 "$synth" >/dev/null
    before=$(grep -c "^203.0.113.1 .*GET $TB_URL_PATH" "$TB_DIR/http.log")
    answer=$(tb_host curl -g -sf --max-time 5 "http://[$synth]$TB_URL_PATH")
    check "$p: HTTP fetch of the token" equals "$answer" "$TB_TOKEN"
    # The server saw the request from the router's IPv4 link: the pool was masqueraded.
    check "$p: server saw the masqueraded pool" equals \
        "$(grep -c "^203.0.113.1 .*GET $TB_URL_PATH" "$TB_DIR/http.log")" $((before + 1))
}

check_pref64() {
    local p=$TB_PLAT_PREFIX seen
    seen=$(tb_host "$TB_PY" "$TB_LIB_DIR/nduseropt_listener.py" --type 38 --count 1 --timeout 8)
    check "$p: PREF64 RA reaches the host" equals "${seen%% ifindex=*}" \
        "pref64 prefix=$p lifetime=600"
    tb_host "$TB_PY" "$TB_LIB_DIR/nduseropt_listener.py" --type 38 --timeout 3 \
        --ready-file "$TB_DIR/listening" >"$TB_DIR/withdraw.out" &
    local listener=$!
    tb_wait_for "[ -e $TB_DIR/listening ]" 3
    tb_pref64_withdraw "$p"
    wait "$listener"
    check "$p: PREF64 withdrawal (lifetime 0) reaches the host" \
        grep -q "^pref64 prefix=$p lifetime=0 " "$TB_DIR/withdraw.out"
}

check_bring_up() {
    local head=${TB_SLAAC_PREFIX%::/*}:
    check "SLAAC address on the uplink is not tentative" tb_host sh -c \
        "ip -6 -o addr show dev $TB_UPLINK scope global -tentative | grep -q ' $head'"
    check "default route learnt from the RA" tb_host sh -c "ip -6 route show default | grep -q via"
    check "the host has no IPv4 but loopback" equals \
        "$(tb_host ip -4 -o addr show | awk '$2 != "lo"')" ""
}

check_gone() {
    local name=$TB_LAST_NAME pid alive=""
    check "$name: no namespace left" equals "$(ip netns list | grep -c "^$name-")" 0
    for pid in $TB_LAST_PIDS; do tb_alive "$pid" && alive="$alive $pid"; done
    check "$name: no process left" equals "$alive" ""
    check "$name: no directory left" equals "$(find /tmp -maxdepth 1 -name "$name.*")" ""
}

if tb_up --plat-prefix 2001:db8:64::/96 --pref64; then
    check_bring_up
    check_plat
    check_pref64
else
    check "bring-up with a /96 PLAT" false
fi
tb_down
check_gone

if tb_up --plat-prefix 2001:db8:64::/64 --pref64; then
    check_bring_up
    check_plat
    check_pref64
    for prefix in 2001:db8:64::/56 2001:db8:6400::/48 2001:db8:6400::/40 3fff:64::/32; do
        check "DNS64 and PLAT moved to $prefix" tb_dns64_prefix "$prefix" && check_plat
    done
else
    check "bring-up with a /64 PLAT" false
fi
tb_down
check_gone

tb_summary
