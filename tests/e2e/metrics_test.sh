#!/usr/bin/env bash
# e2e.metrics: a fleet's view of clatd (SPEC §10, metrics-file). clatd on the bed writes
# metrics-file=$TB_DIR/textfile/clatd.prom (metrics-interval=1); the real Debian
# prometheus-node-exporter runs in the host namespace with only its textfile collector pointed
# at that directory, on 127.0.0.1:9100 of the host's private loopback, and is scraped:
#   running. clatd_state{state="Running"} 1 and 0 for every other state, clatd_plat_info with
#      the bed's prefix and source dns64, clatd_clat_info with the status' CLAT address, the
#      packet counters (TAYGA's equal to the CLAT device's within a ping's worth, the eBPF
#      programs' beside them), no scrape error (node_textfile_scrape_error 0) and no parse
#      error in node_exporter's log;
#   renumber. after tb_renumber 2001:db8:2::/64 and a ping, the scrape shows the new CLAT
#      address and more packets in both directions;
#   stop. after SIGTERM the file is gone, the scrape has no clatd_ metric, and the host is as
#      before.
# Exit 77 (skipped) when not root or a tool is missing.
# shellcheck disable=SC2016,SC2119  # tb_wait_for evaluates its string; calls without arguments
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testbed.sh
. "$here/testbed.sh"
tb_e2e_setup prometheus-node-exporter

scrape() { tb_host curl -fsS --max-time 2 http://127.0.0.1:9100/metrics; }
# metric LINE_PREFIX: the value of the first sample starting with LINE_PREFIX.
metric() { scrape | awk -v p="$1" 'index($0, p) == 1 { print $NF; exit }'; }
device_counter() { tb_host cat "/sys/class/net/clat/statistics/$1"; }
# carried DIRECTION: packets translated that way, by TAYGA (the CLAT device's counters) and by
# the eBPF programs (absent with data-path=tayga).
carried() {
    local slow fast
    slow=$(metric "clatd_packets_total{direction=\"$1\"}")
    fast=$(metric "clatd_fast_path_packets_total{direction=\"$1\"}")
    echo $((${slow:-0} + ${fast:-0}))
}

check_running() {
    local state v6 in out dev_in slow_in
    tb_check "running: the metrics file exists" test -s "$TB_DIR/textfile/clatd.prom"
    tb_check "running: node_exporter serves clatd_state" tb_wait_for \
        "scrape | grep -q '^clatd_state{state=\"Running\"} 1$'" 10
    for state in Idle ProbeV4 DiscoverPLAT Provision Failed Teardown Stopped; do
        tb_check "running: clatd_state{state=\"$state\"} 0" tb_equals \
            "$(metric "clatd_state{state=\"$state\"}")" 0
    done
    tb_check "running: clatd_plat_info names $TB_PLAT_PREFIX from dns64" tb_equals \
        "$(metric "clatd_plat_info{prefix=\"$TB_PLAT_PREFIX\",source=\"dns64\"}")" 1
    v6=$(tb_status clat_v6)
    tb_check "running: clatd_clat_info has the CLAT address $v6" tb_equals \
        "$(metric "clatd_clat_info{device=\"clat\",ipv4=\"192.0.0.1\",ipv6=\"$v6\",plat_device=\"$TB_UPLINK\"}")" 1
    tb_check_ipv4 running
    sleep 1.5 # one metrics-interval: the counters after the pings are in the file
    in=$(carried in)
    out=$(carried out)
    slow_in=$(metric 'clatd_packets_total{direction="in"}')
    dev_in=$(device_counter rx_packets)
    tb_check "running: packets in ($in) > 0 and out ($out) > 0" test "${in:-0}" -gt 0 -a "${out:-0}" -gt 0
    tb_check "running: the slow path's packets in ($slow_in) equal the device's ($dev_in) within 5" \
        test $((dev_in - slow_in)) -ge 0 -a $((dev_in - slow_in)) -le 5
    if [ "$(tb_status data_path)" = bpf ]; then
        tb_check "running: the eBPF programs' packets are in the metrics" \
            test "$(metric 'clatd_fast_path_packets_total{direction="out"}')" -gt 0
    fi
    tb_check "running: node_textfile_scrape_error 0" tb_equals "$(metric node_textfile_scrape_error)" 0
    tb_check "running: node_exporter logged no parse error" tb_not \
        grep -Eqi 'error|fail' "$TB_DIR/node-exporter.log"
    echo "$in $out"
}

check_renumber() {
    local before_in=$1 before_out=$2 old new in out
    old=$(tb_status clat_v6)
    tb_renumber 2001:db8:2::/64
    tb_check "renumber: new SLAAC address" tb_wait_slaac 15
    tb_check "renumber: clat_v6 moves into 2001:db8:2::/64" tb_wait_for \
        "tb_contains 2001:db8:2::/64 \$(tb_status clat_v6)/128" 15
    new=$(tb_status clat_v6)
    tb_check_ipv4 renumber
    tb_check "renumber: the scrape shows $new" tb_wait_for \
        "scrape | grep -q 'ipv6=\"$new\"'" 5
    tb_check "renumber: and no longer $old" tb_not scrape_has "ipv6=\"$old\""
    sleep 1.5 # one metrics-interval: the counters after the pings are in the file
    in=$(carried in)
    out=$(carried out)
    tb_check "renumber: packets in grew ($before_in -> $in)" test "${in:-0}" -gt "$before_in"
    tb_check "renumber: packets out grew ($before_out -> $out)" test "${out:-0}" -gt "$before_out"
}
scrape_has() { scrape | grep -q "$1"; }

scenarios() {
    local s0 counters
    s0=$(tb_snapshot)
    mkdir -p "$TB_DIR/textfile"
    tb_spawn host node-exporter prometheus-node-exporter --web.listen-address=127.0.0.1:9100 \
        --collector.disable-defaults --collector.textfile \
        --collector.textfile.directory="$TB_DIR/textfile"
    tb_check "node_exporter answers" tb_wait_for "scrape >/dev/null 2>&1" 10
    printf 'v4-conncheck-delay=1\nmetrics-file=%s\nmetrics-interval=1\n' \
        "$TB_DIR/textfile/clatd.prom" >"$TB_DIR/clatd.conf"
    tb_clatd_start
    tb_check "state Running" tb_clatd_wait_state Running 20
    counters=$(check_running | tee /dev/stderr | tail -n 1)
    # shellcheck disable=SC2086  # two numbers
    check_renumber $counters
    TB_SNAPSHOT_FILTER=tb_without_slaac tb_clatd_stop_check "stop (SLAAC changes aside)" "$s0"
    tb_check "stop: the metrics file is removed" tb_not test -e "$TB_DIR/textfile/clatd.prom"
    tb_check "stop: no clatd_ metric is scraped" tb_not scrape_has '^clatd_'
    tb_stop node-exporter
}

tb_run_bed
