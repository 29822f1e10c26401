#!/usr/bin/env python3
"""The table (and JSON) of scripts/bench from the key=value lines its figures wrote.

Usage: report.py RESULTS ONLY JSON_FILE_OR_EMPTY. Exits 1 when a requested figure has no
result (the figures themselves are never judged against their targets)."""
import json
import statistics
import sys

TARGETS = {
    1: "median < 5 ms",
    2: "< 300 ms",
    3: "< 500 ms",
    4: "no wake-ups beyond scheduled timers, RSS < 8 MiB",
    5: "< 20 µs per event, nothing missed",
    6: "(none: for comparison)",
}


def load(path):
    values = {}
    with open(path, encoding="utf-8") as f:
        for raw in f:
            key, _, value = raw.rstrip("\n").partition("=")
            values[key] = value
    return values


def pairs(text):
    """'median=1 p99=2' -> {'median': 1, 'p99': 2}"""
    out = {}
    for item in (text or "").split():
        k, _, v = item.partition("=")
        try:
            out[k] = int(v)
        except ValueError:
            pass
    return out


def numbers(text):
    return [int(x) for x in (text or "").split() if x.lstrip("-").isdigit()]


def ms(us):
    return f"{us / 1000:.1f} ms" if abs(us) >= 100 else f"{us / 1000:.3f} ms"


def spread(samples):
    med = statistics.median(samples)
    return {"median_us": int(med), "min_us": min(samples), "max_us": max(samples),
            "samples_us": samples}


def integer(v, key):
    try:
        return int(v.get(key, ""))
    except ValueError:
        return None


def figure1(v):
    total, internal = pairs(v.get("f1.total")), pairs(v.get("f1.internal"))
    if not total.get("n"):
        return None
    lines = [f"median {ms(total['median'])}, p99 {ms(total['p99'])} "
             f"({total['n']} events, missed {v.get('f1.missed', '?')}; "
             f"{pairs(v.get('f1.messages')).get('median', '?')} messages per batch)",
             f"agent-internal (first message read -> done): median {ms(internal['median'])}, "
             f"p99 {ms(internal['p99'])}"]
    data = {"event_to_done_us": total, "agent_internal_us": internal,
            "messages_per_batch": pairs(v.get("f1.messages")),
            "missed": integer(v, "f1.missed")}
    return "netlink event -> reconcile done", lines, data


def median_line(s, count, runs):
    """One line for a spread() of samples: median, extremes, samples per run asked for."""
    return (f"median {ms(s['median_us'])} (min {ms(s['min_us'])}, max {ms(s['max_us'])}; "
            f"{count}/{runs} runs)")


def figure2(v):
    samples = numbers(v.get("f2.samples_us"))
    if not samples:
        return None
    s = spread(samples)
    lines = [median_line(s, len(samples), v.get("f2.runs"))]
    return "cold start -> first IPv4 reply", lines, s


def figure3(v):
    samples = numbers(v.get("f3.samples_us"))
    if not samples:
        return None
    s = spread(samples)
    lines = [median_line(s, len(samples), v.get("f3.runs"))]
    addrs, paths = numbers(v.get("f3.address_us")), numbers(v.get("f3.path_us"))
    if addrs:
        s["address_usable_us"] = int(statistics.median(addrs))
        lines.append(f"of which: new SLAAC address usable at {ms(s['address_usable_us'])}")
    if paths:
        s["first_reply_on_new_address_us"] = int(statistics.median(paths))
        lines.append("first IPv6 reply to the new CLAT address at "
                     f"{ms(s['first_reply_on_new_address_us'])} (medians)")
    return "renumbering -> IPv4 working again", lines, s


PROXY_POLL_S = 10


def figure4(v):
    secs = integer(v, "f4.seconds")
    vol = integer(v, "f4.voluntary")
    if not secs or vol is None:
        return None
    per_min = lambda key: (integer(v, key) or 0) * 60 / secs
    rss, hwm = (integer(v, "f4.rss_kb") or 0) / 1024, (integer(v, "f4.hwm_kb") or 0) / 1024
    data = {"seconds": secs, "voluntary_per_min": round(per_min("f4.voluntary"), 1),
            "nonvoluntary_per_min": round(per_min("f4.nonvoluntary"), 1),
            "rss_mib": round(rss, 2), "hwm_mib": round(hwm, 2),
            "threads": integer(v, "f4.threads"),
            "netlink_batches_per_min": round(per_min("f4.netlink_batches"), 1),
            "dns64_queries_per_min": round(per_min("f4.dns64_queries"), 1),
            "dns64_ttl_s": integer(v, "f4.dns64_ttl_s"),
            "other_log_lines": integer(v, "f4.other_lines"),
            "armed_timerfds_next_expiry": v.get("f4.timers", "")}
    # The proxy-table poll is silent: its rate is agent/agent.hpp's kProxyPollInterval (10 s)
    # while proxynd-enable is on, as on the bed.
    data["proxy_polls_per_min"] = 60 / PROXY_POLL_S
    causes = (data["netlink_batches_per_min"] + data["dns64_queries_per_min"]
              + data["proxy_polls_per_min"])
    per_cause = f"{data['voluntary_per_min'] / causes:.1f}" if causes else "-"
    lines = [f"{data['voluntary_per_min']:.0f} wake-ups/min (voluntary ctxt switches; "
             f"{data['nonvoluntary_per_min']:.0f}/min involuntary) over {secs} s; "
             f"{per_cause} per cause below",
             f"RSS {rss:.2f} MiB, HWM {hwm:.2f} MiB, {data['threads']} thread(s)",
             f"causes seen: {data['netlink_batches_per_min']:.0f} netlink batches/min "
             f"(any kernel change), {data['dns64_queries_per_min']:.0f} "
             f"DNS64 refreshes/min (TTL {data['dns64_ttl_s']} s), "
             f"{data['proxy_polls_per_min']:.0f} proxy-table polls/min; "
             f"{data['other_log_lines']} other log lines",
             f"armed timerfd(s), next expiry in: {data['armed_timerfds_next_expiry'] or '-'}"]
    return "idle in Running", lines, data


def figure5(v):
    events = integer(v, "f5.events")
    if not events:
        return None
    cpu, sched = integer(v, "f5.cpu_us") or 0, integer(v, "f5.sched_us") or 0
    end, restored = integer(v, "f5.storm_end_us") or 0, integer(v, "f5.restored_us") or 0
    brk = integer(v, "f5.break_us") or 0
    missed = restored == 0
    data = {"events": events, "rate_per_s": integer(v, "f5.rate_per_s"),
            "cpu_us": cpu, "cpu_us_per_event": round(cpu / events, 2),
            "schedstat_us": sched, "schedstat_us_per_event": round(sched / events, 2),
            "overruns": integer(v, "f5.overruns"),
            "resync_failures": integer(v, "f5.resync_failures"),
            "notifications": integer(v, "f5.batches"), "errors": integer(v, "f5.errors"),
            "missed": missed, "route_back_at_end": v.get("f5.route_back"),
            "restored_after_storm_end_us": None if missed else restored - end,
            "restored_after_break_us": None if missed else restored - brk}
    if missed:
        when = "NOT restored"
    elif restored <= end:
        when = f"restored during the storm, {ms(restored - brk)} after the delete"
    else:
        when = f"restored {ms(restored - end)} after the storm ended"
    lines = [f"{data['cpu_us_per_event']:.2f} µs/event utime+stime "
             f"({data['schedstat_us_per_event']:.2f} µs/event by schedstat) over {events} events "
             f"sent at {data['rate_per_s']}/s",
             f"{data['notifications']} notifications, overruns {data['overruns']} "
             f"(each answered by a resync), resync failures {data['resync_failures']}",
             f"missed: {'yes' if missed else 'no'}: default route via clat deleted mid-storm, "
             f"{when}"]
    return "CPU per netlink event, unrelated route storm", lines, data


def figure6(v):
    v4, v6 = integer(v, "f6.ipv4_bps"), integer(v, "f6.ipv6_bps")
    if not v4 or not v6:
        return None
    data = {"seconds": integer(v, "f6.seconds"), "ipv4_via_clat_bps": v4,
            "ipv6_native_bps": v6, "ratio": round(v4 / v6, 3),
            "clat_mtu": integer(v, "f6.clat_mtu"), "route_mtu": integer(v, "f6.route_mtu"),
            "uplink_mtu": integer(v, "f6.uplink_mtu")}
    lines = [f"IPv4 via CLAT+PLAT {v4 / 1e6:.0f} Mbit/s  vs  native IPv6 {v6 / 1e6:.0f} Mbit/s "
             f"(ratio {data['ratio']:.2f}; iperf3 TCP {data['seconds']} s each)",
             f"IPv4: host -> TAYGA on clat (default route MTU {data['route_mtu']}) -> veth -> "
             f"router: TAYGA + masquerade -> veth -> {v.get('f6.ipv4_target')}",
             f"IPv6: host -> veth (MTU {data['uplink_mtu']}) -> router (forwarding) -> veth -> "
             f"{v.get('f6.ipv6_target')}"]
    return "TCP throughput: IPv4 through the CLAT vs native IPv6", lines, data


FIGURES = {1: figure1, 2: figure2, 3: figure3, 4: figure4, 5: figure5, 6: figure6}


def main():
    values = load(sys.argv[1])
    only = [int(x) for x in sys.argv[2].split(",") if x]
    meta = {k[5:]: val for k, val in values.items() if k.startswith("meta.")}
    print(f"clatd benchmarks — bed {meta.get('bed')}, kernel {meta.get('kernel')}, "
          f"{meta.get('cpus')} CPUs, load {meta.get('load')} at start,")
    print(f"clatd built with {meta.get('cxx_flags') or '?'}, quick {meta.get('quick')}, "
          f"{meta.get('wall_s')} s")
    print(f"{'#':<2} {'figure':<48} target")
    report, missing = {"meta": meta, "figures": {}}, []
    for n in only:
        result = FIGURES[n](values)
        if result is None:
            print(f"{n:<2} {'(no result: see the messages above)':<48} {TARGETS[n]}")
            missing.append(n)
            continue
        title, lines, data = result
        print(f"{n:<2} {title:<48} {TARGETS[n]}")
        for text in lines:
            print(f"     {text}")
        report["figures"][str(n)] = {"title": title, "target": TARGETS[n], **data}
    if sys.argv[3]:
        with open(sys.argv[3], "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
