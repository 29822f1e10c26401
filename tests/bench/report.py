#!/usr/bin/env python3
"""The table (and JSON) of scripts/bench from the key=value lines its figures wrote.

Usage: report.py RESULTS ONLY JSON_FILE_OR_EMPTY [BASELINE_RESULTS BASELINE_REV]. With a
baseline, figures 1, 2, 3 and 5 are printed for both sides, then their headline numbers side
by side. Exits 1 when a requested figure of this tree has no result (the figures themselves
are never judged against their targets; a baseline figure missing is only reported)."""
import json
import statistics
import sys

TARGETS = {
    1: "median < 5 ms",
    2: "< 100 ms (kernel ND defaults)",
    3: "< 500 ms",
    4: "no wake-ups beyond scheduled timers, RSS < 8 MiB",
    5: "< 20 µs per event, nothing missed",
    6: "eBPF TCP >= 80 % of native IPv6, >= 5x TAYGA; UDP pps >= 5x TAYGA",
}


def load(path):
    """key=value lines; a key written again (a figure measured in several calls, as when
    scripts/bench alternates two binaries) collects its values, space-separated."""
    values = {}
    with open(path, encoding="utf-8") as f:
        for raw in f:
            key, _, value = raw.rstrip("\n").partition("=")
            values[key] = f"{values[key]} {value}" if key in values else value
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
    """Kernel ND defaults on the uplink (the figure); the bed's fast timers beside it."""
    samples = numbers(v.get("f2.samples_us"))
    if not samples:
        return None
    s = spread(samples)
    lines = ["kernel defaults (RetransTimer 1 s, proxy_delay 0.8 s): " +
             median_line(s, len(samples), sum(numbers(v.get("f2.runs"))))]
    fast = numbers(v.get("f2fast.samples_us"))
    if fast:
        s["fast"] = spread(fast)
        lines.append("fast timers (RetransTimer 100 ms, proxy_delay 0): " +
                     median_line(s["fast"], len(fast), sum(numbers(v.get("f2fast.runs")))))
    return "cold start -> first IPv4 reply", lines, s


def figure3(v):
    samples = numbers(v.get("f3.samples_us"))
    if not samples:
        return None
    s = spread(samples)
    lines = [median_line(s, len(samples), sum(numbers(v.get("f3.runs"))))]
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


STORM_KINDS = (("route4", "IPv4 routes in table 1234"), ("route6", "IPv6 routes in table 1234"),
               ("addr6", "IPv6 /128 addresses on bench0, beside the uplink"),
               ("addr6-acked", "the same, one request at a time, each acknowledged"))


def storm(v, kind):
    """One storm of figure 5 (keys f5.KIND.*), or None when it has no result."""
    key = lambda name: f"f5.{kind}.{name}"
    events = integer(v, key("events"))
    if not events:
        return None
    cpu, sched = integer(v, key("cpu_us")) or 0, integer(v, key("sched_us")) or 0
    end, restored = integer(v, key("storm_end_us")) or 0, integer(v, key("restored_us")) or 0
    brk = integer(v, key("break_us")) or 0
    missed = restored == 0
    return {"events": events, "rate_per_s": integer(v, key("rate_per_s")),
            "cpu_us": cpu, "cpu_us_per_event": round(cpu / events, 2),
            "schedstat_us": sched, "schedstat_us_per_event": round(sched / events, 2),
            "overruns": integer(v, key("overruns")),
            "resync_failures": integer(v, key("resync_failures")),
            "notifications": integer(v, key("batches")), "errors": integer(v, key("errors")),
            "missed": missed, "route_back_at_end": v.get(key("route_back")),
            "restored_after_storm_end_us": None if missed else restored - end,
            "restored_after_break_us": None if missed else restored - brk}


def storm_lines(kind, label, d):
    if d["missed"]:
        when = "NOT restored"
    elif d["restored_after_storm_end_us"] <= 0:
        when = f"restored during the storm, {ms(d['restored_after_break_us'])} after the delete"
    else:
        when = f"restored {ms(d['restored_after_storm_end_us'])} after the storm ended"
    return [f"{kind}: {d['cpu_us_per_event']:.2f} µs/event utime+stime, target < 20 "
            f"({d['schedstat_us_per_event']:.2f} µs/event by schedstat); {d['events']} events "
            f"({label}) sent at {d['rate_per_s']}/s",
            f"    {d['notifications']} notifications "
            f"({d['schedstat_us'] / max(d['notifications'] or 0, 1):.0f} µs of CPU each by "
            f"schedstat), overruns {d['overruns']} (each answered "
            f"by a resync), resync failures {d['resync_failures']}; missed: "
            f"{'yes' if d['missed'] else 'no'}: default route via clat deleted mid-storm, {when}"]


def figure5(v):
    kinds = {kind: storm(v, kind) for kind, _ in STORM_KINDS}
    if not any(kinds.values()):
        return None
    lines, data = [], {"kinds": {}}
    for kind, label in STORM_KINDS:
        if kinds[kind] is None:
            lines.append(f"{kind}: (no result: see the messages above)")
            data["incomplete"] = True
            continue
        lines += storm_lines(kind, label, kinds[kind])
        data["kinds"][kind] = kinds[kind]
    return "CPU per netlink event, storms of unrelated events", lines, data


def figure6(v):
    hz = integer(v, "f6.hz") or 100
    rows, data = [], {"seconds": integer(v, "f6.seconds"),
                      "uplink_mtu": integer(v, "f6.uplink_mtu"), "paths": {}}
    for name, label in (("bpf", "IPv4, eBPF"), ("tayga", "IPv4, TAYGA"),
                        ("native", "IPv6, native")):
        up, down = integer(v, f"f6.{name}_up_bps"), integer(v, f"f6.{name}_down_bps")
        pps = integer(v, f"f6.{name}_udp_pps")
        ticks, carried = integer(v, f"f6.{name}_up_cpu_ticks"), integer(v, f"f6.{name}_up_bytes")
        if not up:
            continue
        cpu = round(ticks / hz / (carried * 8 / 1e9), 2) if ticks and carried else None
        data["paths"][name] = {"tcp_up_bps": up, "tcp_down_bps": down, "udp64_pps": pps,
                               "cpu_s_per_gbit": cpu,
                               "route_mtu": integer(v, f"f6.{name}_route_mtu"),
                               "data_path": v.get(f"f6.{name}_data_path")}
        rows.append(f"{label:13} TCP up {up / 1e6:7.0f} Mbit/s  down {(down or 0) / 1e6:7.0f} "
                    f"Mbit/s  UDP 64 B {(pps or 0) / 1e3:6.0f} kpps  CPU {cpu} s/Gbit")
    paths = data["paths"]
    if not paths.get("native") or not (paths.get("bpf") or paths.get("tayga")):
        return None

    def ratio(a, b, key):
        x, y = paths.get(a, {}).get(key), paths.get(b, {}).get(key)
        return round(x / y, 2) if x and y else None
    data["bpf_vs_native_tcp_up"] = ratio("bpf", "native", "tcp_up_bps")
    data["bpf_vs_native_tcp_down"] = ratio("bpf", "native", "tcp_down_bps")
    data["bpf_vs_tayga_tcp_up"] = ratio("bpf", "tayga", "tcp_up_bps")
    data["bpf_vs_tayga_udp_pps"] = ratio("bpf", "tayga", "udp64_pps")
    rows.append(f"eBPF / native TCP up {data['bpf_vs_native_tcp_up']}, down "
                f"{data['bpf_vs_native_tcp_down']};  eBPF / TAYGA TCP up "
                f"{data['bpf_vs_tayga_tcp_up']}, UDP pps {data['bpf_vs_tayga_udp_pps']}")
    mtus = ", ".join(f"{n} {p['route_mtu']}" for n, p in paths.items() if p.get("route_mtu"))
    rows.append(f"the CLAT alone: {v.get('f6.ipv4_target')} holds the IPv4-embedded address, no "
                f"PLAT; native IPv6 to {v.get('f6.ipv6_target')}; iperf3 {data['seconds']} s "
                f"each; uplink MTU {data['uplink_mtu']}, IPv4 route MTU {mtus}")
    return "Throughput of the CLAT alone: eBPF vs TAYGA vs native IPv6", rows, data


FIGURES = {1: figure1, 2: figure2, 3: figure3, 4: figure4, 5: figure5, 6: figure6}
COMPARED = (1, 2, 3, 5)  # the figures --baseline measures for both sides


def headlines(n, data):
    """(label, value) pairs summing up a figure, for the side-by-side table."""
    if data is None:
        return []
    if n == 1:
        t = data["event_to_done_us"]
        return [("1 event -> reconcile done, median / p99",
                 f"{ms(t['median'])} / {ms(t['p99'])}")]
    if n in (2, 3):
        name = "2 cold start -> IPv4" if n == 2 else "3 renumbering -> IPv4"
        return [(f"{name}, median (min-max)",
                 f"{ms(data['median_us'])} ({ms(data['min_us'])}-{ms(data['max_us'])})")]
    if n == 5:
        return [(f"5 {kind}: µs per event / per notification, missed",
                 f"{d['schedstat_us_per_event']:.2f}, "
                 f"{d['schedstat_us'] / max(d['notifications'] or 0, 1):.0f}, "
                 f"{'yes' if d['missed'] else 'no'}")
                for kind, d in data["kinds"].items()]
    return []


def show(n, result, indent="     "):
    for text in result[1]:
        print(f"{indent}{text}")


def compare(only, this, base, label):
    """The headline numbers of both sides, one line each."""
    print(f"side by side (figure 5: schedstat){'':<20} {'this':<24} baseline {label}")
    for n in only:
        if n not in COMPARED:
            continue
        mine = dict(headlines(n, this.get(n) and this[n][2]))
        theirs = dict(headlines(n, base.get(n) and base[n][2]))
        for name in list(mine) + [k for k in theirs if k not in mine]:
            print(f"  {name:<52} {mine.get(name, '-'):<24} {theirs.get(name, '-')}")


def main():
    values = load(sys.argv[1])
    only = [int(x) for x in sys.argv[2].split(",") if x]
    base_values = load(sys.argv[4]) if len(sys.argv) > 5 else None
    label = sys.argv[5] if base_values is not None else ""
    meta = {k[5:]: val for k, val in values.items() if k.startswith("meta.")}
    print(f"clatd benchmarks — bed {meta.get('bed')}, kernel {meta.get('kernel')}, "
          f"{meta.get('cpus')} CPUs, load {meta.get('load')} at start,")
    print(f"clatd built with {meta.get('cxx_flags') or '?'}, quick {meta.get('quick')}, "
          f"{meta.get('wall_s')} s")
    if base_values is not None:
        print(f"this: {meta.get('commit') or '?'}; baseline {label}: "
              f"{meta.get('baseline_commit') or '?'} (both measured in this run, same bed)")
    print(f"{'#':<2} {'figure':<48} target")
    report, missing = {"meta": meta, "figures": {}}, []
    this, base = {}, {}
    if base_values is not None:
        report["baseline"] = {"rev": label, "commit": meta.get("baseline_commit"),
                              "figures": {}}
    for n in only:
        result = FIGURES[n](values)
        this[n] = result
        compared = base_values is not None and n in COMPARED
        if compared:
            base[n] = FIGURES[n](base_values)
        if result is None:
            print(f"{n:<2} {'(no result: see the messages above)':<48} {TARGETS[n]}")
            missing.append(n)
        else:
            title, _, data = result
            print(f"{n:<2} {title:<48} {TARGETS[n]}")
            if data.get("incomplete"):
                missing.append(n)
            report["figures"][str(n)] = {"title": title, "target": TARGETS[n], **data}
        if not compared:
            if result is not None:
                show(n, result)
            continue
        print("     this:")
        if result is not None:
            show(n, result, "       ")
        print(f"     baseline {label}:")
        if base[n] is None:
            print("       (no result: see the messages above)")
        else:
            show(n, base[n], "       ")
            report["baseline"]["figures"][str(n)] = {"title": base[n][0], **base[n][2]}
    if base_values is not None:
        compare(only, this, base, label)
    if sys.argv[3]:
        with open(sys.argv[3], "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
