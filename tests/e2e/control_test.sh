#!/usr/bin/env bash
# e2e.control: how clatd applies changes and answers its controls (SPEC §4, §5, §8, §9), on one
# bed; clatd is started afresh for each part and, when it stops, the host must be as before:
#   cold: a cold start applies every kernel operation once: after Running, no "applied X" line
#      repeats, "applied create-tun" appears exactly once, and one "plan operations=N" line
#      (with -d) has N > 0, each applied line following its plan; then the CLAT's IPv4 default
#      route deleted behind clatd's back is one burst: one plan line (operations=1) and one
#      applied line (the echo of the repair plans nothing);
#   dns64: `clatctl reload` moving dns64-servers from the bed's unbound to a second DNS64
#      (fake_dns64.py on 2001:db8:1::53, good answers with TTL 5) while Running: the new server
#      is asked within the TTL and again at each TTL (at least 2 queries in 16 s, about 5 s
#      apart), the old one no more, and the PLAT expiry (clatctl status) never falls into the
#      past while clatd stays Running;
#   admin: a throwaway group and user (removed at the end, even on failure; the bus policy is
#      a copy of units/net.clatd.conf with its admin-group block uncommented for that group,
#      as its comment tells an administrator to do): the member's `clatctl reload` is refused
#      by clatd until dbus-admin-group=<group> is written to clatd.conf AND clatd gets SIGHUP
#      (systemctl reload's ExecReload); afterwards it succeeds, and a non-member stays refused;
#   notify: NOTIFY_SOCKET names a datagram socket (notify_listener.py): READY=1 after start;
#      `clatctl reload` and SIGHUP each send RELOADING=1 with MONOTONIC_USEC=<CLOCK_MONOTONIC
#      µs> (sd_notify(3)) followed by READY=1; in order, STATUS= messages aside.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2016,SC2119  # tb_wait_for evaluates its string; calls without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup setpriv useradd userdel groupadd groupdel getent ss

SERVER2=2001:db8:1::53
TTL=5
ADMIN_GROUP=clat-e2e-$$-adm
ADMIN_USER=clat-e2e-$$-usr

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.3f\", $* }"; }
# within T LOW HIGH: LOW <= T <= HIGH for decimal numbers, printing T otherwise.
within() {
    awk -v t="$1" -v l="$2" -v h="$3" 'BEGIN { exit !(t >= l && t <= h) }' ||
        { echo "  got $1, expected $2..$3" && false; }
}

# ---- cold: each operation applied once

# applied_ops: the text after "applied " of each such line of the current log, in order.
applied_ops() { sed -n 's/^.* info: applied //p' "$TB_DIR/clatd.log"; }
# applied_settled SECONDS: no new "applied" line for SECONDS (polled every 0.2 s).
applied_settled() {
    local n last=-1 since
    since=$(date +%s%N)
    while :; do
        n=$(applied_ops | wc -l)
        [ "$n" = "$last" ] || { last=$n && since=$(date +%s%N); }
        [ $(($(date +%s%N) - since)) -lt $(($1 * 1000000000)) ] || return 0
        sleep 0.2
    done
}
no_repeated_op() {
    ! applied_ops | sort | uniq -d | awk '{ print "  applied more than once: " $0 } END { exit NR == 0 }'
}

check_cold() {
    printf 'v4-conncheck-delay=0\n' >"$TB_DIR/clatd.conf"
    tb_clatd_start
    tb_check "cold: Running" tb_clatd_wait_state Running 20
    tb_check_ipv4 cold
    tb_check "cold: no operation applied for 2 s" tb_wait_for "applied_settled 2" 15
    echo "  cold: $(applied_ops | wc -l) operations applied"
    tb_check "cold: some operations applied" test "$(applied_ops | wc -l)" -gt 0
    tb_check "cold: no 'applied X' line twice" no_repeated_op
    tb_check "cold: 'applied create-tun' exactly once" tb_equals \
        "$(applied_ops | grep -c '^create-tun ')" 1
    check_one_plan
    tb_clatd_stop_check cold "$S0"
}

# plan_lines [MARK]: the "plan operations=N" debug lines after MARK.
plan_lines() { tail -n "+$((${1:-0} + 1))" "$TB_DIR/clatd.log" | grep ' debug: plan operations='; }
# ops_follow_plans [MARK]: after MARK, every "applied" line follows a plan line, and no plan is
# followed by more applied lines than its operations=N.
ops_follow_plans() {
    tail -n "+$((${1:-0} + 1))" "$TB_DIR/clatd.log" | awk '
        / debug: plan operations=/ { if (n > max) bad = 1; split($0, a, "operations=");
                                     max = a[2] + 0; n = 0; seen = 1; next }
        / info: applied / { if (!seen) bad = 1; n++ }
        END { if (n > max) bad = 1; if (bad) print "  an applied line outside its plan"; exit bad }'
}

# check_one_plan: one relevant change (the CLAT's IPv4 default route deleted behind clatd's
# back) is one netlink burst: one plan with one operation, one "applied" line; the kernel's
# echo of clatd's own repair plans nothing more.
check_one_plan() {
    local mark
    tb_check "cold: every applied line belongs to its plan" ops_follow_plans
    # The kernel's echo of the provisioning is absorbed: one plan changes anything; later
    # bursts (TAYGA bringing its tun up) plan nothing.
    tb_check "cold: one plan with operations" tb_equals \
        "$(plan_lines | grep -vc 'operations=0 ')" 1
    mark=$(tb_clatd_mark)
    tb_host ip -4 route del default dev clat
    tb_check "plan: the route is put back" tb_wait_for \
        "tb_host ip -4 route show default dev clat | grep -q ." 5
    tb_check "plan: settled" tb_wait_for "applied_settled 2" 10
    plan_lines "$mark" | sed 's/^/  /'
    tb_check "plan: one plan line for the burst" tb_equals "$(plan_lines "$mark" | wc -l)" 1
    tb_check "plan: ... with one operation" tb_equals \
        "$(plan_lines "$mark" | grep -c 'operations=1 ')" 1
    tb_check "plan: one applied line" tb_equals \
        "$(tail -n "+$((mark + 1))" "$TB_DIR/clatd.log" | grep -c ' info: applied ')" 1
    tb_check "plan: every applied line belongs to its plan" ops_follow_plans "$mark"
}

# ---- dns64: reload to another DNS64 server while Running

server2_queries_since() {
    awk -v t="$1" '$1 >= t' "$TB_DIR/dns64_queries.log" | wc -l
}
# old_server_packets: UDP packets that reached the bed's unbound (counted from the rule's start).
old_server_packets() {
    ip netns exec "$TB_NS_RTR" nft list counter inet clat_e2e_ctl old_dns64 |
        sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
# first_query_within T0 SECONDS: server 2 got a query at most SECONDS after T0.
first_query_within() {
    awk -v t="$1" -v s="$2" '$1 >= t { d = $1 - t; exit } END {
        if (d == "") print "  no query"; else if (d > s) printf "  first after %.1f s\n", d
        exit !(d != "" && d <= s) }' "$TB_DIR/dns64_queries.log"
}
# gaps_ok T0 LOW HIGH: the queries to server 2 after T0 are LOW..HIGH s apart (each gap).
gaps_ok() {
    awk -v t="$1" -v l="$2" -v h="$3" '$1 >= t { if (n++ && ($1 - p < l || $1 - p > h)) {
        printf "  gap %.2f s before the query at %.3f\n", $1 - p, $1; bad = 1 } p = $1 }
        END { exit bad }' "$TB_DIR/dns64_queries.log"
}
# watch_expiry SECONDS: samples the status every 0.5 s; sets WORST_MARGIN (the smallest
# plat_expiry - now seen, s) and NOT_RUNNING (states other than Running seen).
watch_expiry() {
    local end=$(($(date +%s%N) + $1 * 1000000000)) json margin
    WORST_MARGIN=1000000
    NOT_RUNNING=
    while [ "$(date +%s%N)" -lt "$end" ]; do
        json=$(tb_ctl status --json 2>/dev/null) || { NOT_RUNNING="$NOT_RUNNING (no answer)"; }
        margin=$(echo "$json" | "$TB_PY" -c 'import json, sys, time
s = json.load(sys.stdin)
print("%s %.3f" % (s["state"], s["plat_expiry"] - time.time()))' 2>/dev/null)
        if [ -n "$margin" ]; then
            [ "${margin% *}" = Running ] || NOT_RUNNING="$NOT_RUNNING ${margin% *}"
            WORST_MARGIN=$(awk -v a="$WORST_MARGIN" -v b="${margin#* }" \
                'BEGIN { print (b < a ? b : a) }')
        fi
        sleep 0.5
    done
}

start_server2() {
    ip -n "$TB_NS_RTR" addr add "$SERVER2/64" dev "$TB_RTR_LAN" nodad
    echo "good $TB_PLAT_PREFIX $TTL" >"$TB_DIR/dns64.mode"
    : >"$TB_DIR/dns64_queries.log"
    tb_spawn rtr fake_dns64 "$TB_PY" -u "$here/fake_dns64.py" --listen "$SERVER2" \
        --mode-file "$TB_DIR/dns64.mode" --log "$TB_DIR/dns64_queries.log"
    tb_check "dns64: second DNS64 listens on [$SERVER2]:53" tb_wait_for \
        "ss -N $TB_NS_RTR -lun | grep -q '$SERVER2\]:53 '" 10
    ip netns exec "$TB_NS_RTR" nft -f - <<EOF
table inet clat_e2e_ctl {
    counter old_dns64 { }
    chain input {
        type filter hook input priority filter; policy accept;
        ip6 daddr $TB_DNS64 udp dport 53 counter name old_dns64
    }
}
EOF
}

check_dns64_reload() {
    local t0 mark old1 n
    start_server2
    printf 'v4-conncheck-delay=0\ndns64-servers=%s\n' "$TB_DNS64" >"$TB_DIR/clatd.conf"
    tb_clatd_start
    tb_check "dns64: Running" tb_clatd_wait_state Running 20
    tb_check_status dns64 plat_source dns64
    tb_check "dns64: the first server is the one asked (server 2: 0 queries)" tb_equals \
        "$(server2_queries_since 0)" 0
    tb_check "dns64: the first server was asked" test "$(old_server_packets)" -gt 0

    printf 'v4-conncheck-delay=0\ndns64-servers=%s\n' "$SERVER2" >"$TB_DIR/clatd.conf"
    mark=$(tb_clatd_mark)
    t0=$(now)
    tb_check "dns64: clatctl reload exits 0" tb_ctl reload
    tb_check "dns64: log: reload accepted" tb_clatd_log_wait "reload accepted" 5 "$mark"
    # A query already on its way to the old server may still be counted for a second.
    sleep 1
    old1=$(old_server_packets)
    watch_expiry 15
    n=$(server2_queries_since "$t0")
    echo "  dns64: server 2 got $n queries in 16 s, at$(awk -v t="$t0" \
        '$1 >= t { printf " +%.1f", $1 - t }' "$TB_DIR/dns64_queries.log") s"
    tb_check "dns64: server 2 asked within $((TTL + 3)) s of the reload" first_query_within \
        "$t0" $((TTL + 3))
    tb_check "dns64: server 2 asked again at the TTL: >= 2 queries in 16 s" test "$n" -ge 2
    tb_check "dns64: ... each about $TTL s after the previous one (3..8 s)" gaps_ok "$t0" 3 8
    tb_check "dns64: the old server is no longer asked" tb_equals "$(old_server_packets)" "$old1"
    tb_check "dns64: Running throughout" tb_equals "$NOT_RUNNING" ""
    # The status rounds the expiry to seconds; a refresh is due when the hold ends.
    tb_check "dns64: plat_expiry never in the past (worst: $WORST_MARGIN s from now)" \
        within "$WORST_MARGIN" -1.5 100000
    tb_check_status dns64 plat_prefix "$TB_PLAT_PREFIX" 1
    tb_check_ipv4 "dns64 (after the reload)"
    tb_clatd_stop_check dns64 "$S0"
    tb_stop fake_dns64
}

# ---- admin: dbus-admin-group applied by SIGHUP

remove_admin_ids() {
    getent passwd "$ADMIN_USER" >/dev/null && userdel "$ADMIN_USER"
    getent group "$ADMIN_GROUP" >/dev/null && groupdel "$ADMIN_GROUP"
    return 0
}
# Users and groups this script left when it was SIGKILLed (their pid no longer runs).
reap_stale_ids() {
    local name pid
    for name in $(getent passwd | cut -d: -f1 | grep -E '^clat-e2e-[0-9]+-usr$'); do
        pid=${name#clat-e2e-} && pid=${pid%-usr}
        kill -0 "$pid" 2>/dev/null || userdel "$name"
    done
    for name in $(getent group | cut -d: -f1 | grep -E '^clat-e2e-[0-9]+-adm$'); do
        pid=${name#clat-e2e-} && pid=${pid%-adm}
        kill -0 "$pid" 2>/dev/null || groupdel "$name"
    done
}
# The group must exist before the bus reads its policy (the bed's first clatd start).
setup_admin_ids() {
    reap_stale_ids
    groupadd "$ADMIN_GROUP" &&
        useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
            --no-user-group --gid nogroup --groups "$ADMIN_GROUP" "$ADMIN_USER" || return 1
    # The shipped policy's admin block, uncommented and given our group.
    sed -e '/<!-- Members of an admin group may call/d' -e '/^  -->$/d' \
        -e "s/<policy group=\"clatd-admin\">/<policy group=\"$ADMIN_GROUP\">/" \
        "$TB_SRC_DIR/units/net.clatd.conf" >"$TB_DIR/net.clatd.conf"
    grep -q "<policy group=\"$ADMIN_GROUP\">" "$TB_DIR/net.clatd.conf" || return 1
    TB_BUS_POLICY=$TB_DIR/net.clatd.conf
    # The member and nobody must reach the bus socket and a clatctl they may execute.
    chmod 711 "$TB_DIR"
    install -m 755 "$CLATCTL" "$TB_DIR/clatctl"
}
# as USER CLATCTL-ARGS...: clatctl as USER with that user's groups; output in $TB_DIR/as.out.
as() {
    local user=$1
    shift
    setpriv --reuid="$user" --regid=nogroup --init-groups \
        env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$TB_DIR/bus" "$TB_DIR/clatctl" "$@" \
        >"$TB_DIR/as.out" 2>&1
}
exits() {
    local want=$1 rc
    shift
    "$@"
    rc=$?
    [ "$rc" = "$want" ] && return 0
    echo "  exit $rc, expected $want: $(head -c 300 "$TB_DIR/as.out")"
    return 1
}

check_admin_sighup() {
    local mark
    tb_check "admin: $ADMIN_USER is in $ADMIN_GROUP" sh -c \
        "id -nG '$ADMIN_USER' | grep -qw '$ADMIN_GROUP'"
    printf 'v4-conncheck-delay=0\n' >"$TB_DIR/clatd.conf"
    tb_clatd_start
    tb_check "admin: Running" tb_clatd_wait_state Running 20
    tb_check "admin: member may read the status" exits 0 as "$ADMIN_USER" status
    tb_check "admin: member's reload refused by clatd (no admin group yet, exit 4)" exits 4 \
        as "$ADMIN_USER" reload
    tb_check "admin: ... by clatd itself, not by the bus policy" grep -q "only root" \
        "$TB_DIR/as.out"
    printf 'v4-conncheck-delay=0\ndbus-admin-group=%s\n' "$ADMIN_GROUP" >"$TB_DIR/clatd.conf"
    tb_check "admin: group in the file, no SIGHUP yet: still refused" exits 4 \
        as "$ADMIN_USER" reload
    mark=$(tb_clatd_mark)
    kill -HUP "$(tb_clatd_pid)"
    tb_check "admin: SIGHUP: reload accepted" tb_clatd_log_wait "reload accepted" 5 "$mark"
    tb_check "admin: after SIGHUP the member's clatctl reload succeeds" exits 0 \
        as "$ADMIN_USER" reload
    tb_check "admin: after SIGHUP the member's clatctl rediscover succeeds" exits 0 \
        as "$ADMIN_USER" rediscover
    tb_check "admin: a non-member (nobody) is still refused" exits 4 as nobody reload
    tb_check_status admin state Running 10
    tb_clatd_stop_check admin "$S0"
}

# ---- notify: sd_notify messages and their order

# notify_order: the notification messages in order, one word each (a datagram's assignments
# joined by "+"), STATUS= messages and the MONOTONIC_USEC= field left out.
notify_order() {
    awk -F '\t' '{ w = ""; for (i = 2; i <= NF; i++) if ($i !~ /^(STATUS|MONOTONIC_USEC)=/)
        w = w (w == "" ? "" : "+") $i; if (w != "") printf "%s%s", (n++ ? " " : ""), w }
        END { print "" }' "$TB_DIR/notify.txt"
}
ready_count() { notify_order | tr ' ' '\n' | grep -c '^READY=1$'; }
# reloading_stamped N: the Nth RELOADING=1 message carries MONOTONIC_USEC=<n>, at most 5 s
# before the listener received it.
reloading_stamped() {
    awk -F '\t' -v want="$1" '{ r = 0; u = ""; for (i = 2; i <= NF; i++) {
        if ($i == "RELOADING=1") r = 1; if ($i ~ /^MONOTONIC_USEC=[0-9]+$/) u = substr($i, 16) }
        if (r && ++n == want) { line = $0; ok = u != "" && u <= $1 && $1 - u < 5000000; exit } }
        END { if (!ok) { gsub(/\t/, " | ", line); print "  message: " (line == "" ? "none" : line) }
        exit !ok }' "$TB_DIR/notify.txt"
}

check_notify() {
    local mark
    : >"$TB_DIR/notify.txt"
    tb_spawn host notify "$TB_PY" -u "$here/notify_listener.py" --socket "$TB_DIR/notify.sock" \
        --out "$TB_DIR/notify.txt"
    tb_check "notify: listener bound" tb_wait_for "[ -S '$TB_DIR/notify.sock' ]" 10
    printf 'v4-conncheck-delay=0\n' >"$TB_DIR/clatd.conf"
    TB_CLATD_ENV="NOTIFY_SOCKET=$TB_DIR/notify.sock" tb_clatd_start
    tb_check "notify: Running" tb_clatd_wait_state Running 20
    tb_check "notify: READY=1 after start" tb_wait_for '[ "$(ready_count)" -ge 1 ]' 5
    tb_check "notify: order after start" tb_equals "$(notify_order)" READY=1

    tb_check "notify: clatctl reload exits 0" tb_ctl reload
    tb_check "notify: READY=1 again after clatctl reload" tb_wait_for \
        '[ "$(ready_count)" -ge 2 ]' 5
    tb_check "notify: order after clatctl reload" tb_equals "$(notify_order)" \
        "READY=1 RELOADING=1 READY=1"
    tb_check "notify: RELOADING=1 of clatctl reload carries MONOTONIC_USEC" reloading_stamped 1

    mark=$(tb_clatd_mark)
    kill -HUP "$(tb_clatd_pid)"
    tb_check "notify: SIGHUP: reload accepted" tb_clatd_log_wait "reload accepted" 5 "$mark"
    tb_check "notify: READY=1 again after SIGHUP" tb_wait_for '[ "$(ready_count)" -ge 3 ]' 5
    tb_check "notify: order after SIGHUP" tb_equals "$(notify_order)" \
        "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1"
    tb_check "notify: RELOADING=1 of SIGHUP carries MONOTONIC_USEC" reloading_stamped 2
    tb_check_status notify state Running
    tb_clatd_stop_check notify "$S0"
    tb_check "notify: STOPPING=1 on SIGTERM" tb_wait_for \
        "notify_order | grep -q 'STOPPING=1\$'" 5
    tb_stop notify
}

scenarios() {
    # Our EXIT trap first, then the bed's (tb__exit reads the exit status from $?).
    trap 'rc=$?; remove_admin_ids; (exit $rc); tb__exit' EXIT
    tb_check "admin: throwaway group $ADMIN_GROUP and user $ADMIN_USER" setup_admin_ids
    S0=$(tb_snapshot)
    check_cold
    check_dns64_reload
    check_admin_sighup
    check_notify
    remove_admin_ids
    tb_check "admin: group and user removed" tb_not getent group "$ADMIN_GROUP"
}

tb_run_bed
