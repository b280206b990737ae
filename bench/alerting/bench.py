#!/usr/bin/env python3
"""bench/alerting helper: loads a node_exporter-shaped dataset into Strata
through the collector, generates the rule files, feeds fresh samples while
the evaluator runs, receives its webhooks, and measures it.

  bench.py load  --collector URL --hosts N --history-min M
  bench.py rules --out DIR --rules N --groups G --interval S
  bench.py run   --collector URL --alerting URL --pid PID --tsdb-pid PID
                 --rounds R --interval S --hosts N --out DIR --hook-port P

Measurements (run): CPU of strata-alerting from /proc/PID/stat (utime +
stime) over R whole evaluation rounds, divided by R: CPU seconds per round
and % of one core; per round and group, the evaluation duration and lag
(how long after its scheduled timestamp a group's round finished) from
/api/v1/rules and /metrics; rule health; notifications received.
"""
import argparse
import http.client
import http.server
import json
import math
import os
import random
import sys
import threading
import time
import urllib.parse
import urllib.request

CPUS = 4
MODES = ["idle", "user", "system", "iowait"]
MOUNTS = ["/", "/var", "/home"]
HANDLERS = ["/api/v1/query", "/api/v1/push", "/healthz", "/metrics"]


def series_for(host, t_ms, rnd):
    """Every series of one host with its value at t_ms (deterministic per host/time)."""
    inst = f"host{host:04d}:9100"
    base = {"job": "node", "instance": inst}
    secs = t_ms / 1000.0
    out = []
    load = 0.5 + 3.0 * (host % 10) / 10 + 0.5 * math.sin(secs / 300 + host)
    out.append(({"__name__": "node_load1", **base}, load))
    out.append(({"__name__": "node_load5", **base}, load * 0.9))
    for cpu in range(CPUS):
        for i, mode in enumerate(MODES):
            rate = [0.6, 0.25, 0.1, 0.05][i] if host % 7 else [0.05, 0.8, 0.1, 0.05][i]
            out.append(({"__name__": "node_cpu_seconds_total", **base, "cpu": str(cpu), "mode": mode},
                        secs * rate))
    out.append(({"__name__": "node_memory_MemTotal_bytes", **base}, 16e9))
    out.append(({"__name__": "node_memory_MemAvailable_bytes", **base}, 16e9 * (0.05 + 0.9 * ((host * 37) % 100) / 100)))
    for m in MOUNTS:
        size = 100e9
        out.append(({"__name__": "node_filesystem_size_bytes", **base, "mountpoint": m, "fstype": "ext4"}, size))
        out.append(({"__name__": "node_filesystem_avail_bytes", **base, "mountpoint": m, "fstype": "ext4"},
                    size * (0.02 + 0.96 * ((host * 13 + len(m)) % 100) / 100)))
    out.append(({"__name__": "node_network_receive_bytes_total", **base, "device": "eth0"}, secs * 1e6 * (1 + host % 5)))
    for h in HANDLERS:
        for code in ("200", "500"):
            r = 50.0 if code == "200" else (5.0 if host % 11 == 0 else 0.1)
            out.append(({"__name__": "http_requests_total", **base, "handler": h, "code": code}, secs * r))
    out.append(({"__name__": "up", **base}, 0.0 if host % 50 == 49 else 1.0))
    return out


def post(url, body):
    req = urllib.request.Request(url, data=body.encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()


def push(collector, hosts, times):
    """One push per host: all its series at all `times` (ms)."""
    for host in range(hosts):
        by_key = {}
        for t in times:
            for labels, v in series_for(host, t, None):
                key = tuple(sorted(labels.items()))
                by_key.setdefault(key, []).append([t, v])
        batch = {"version": 1, "series": [{"labels": dict(k), "samples": s} for k, s in by_key.items()]}
        post(collector + "/api/v1/push/metrics", json.dumps(batch))


def cmd_load(a):
    now = int(time.time() * 1000) // 15000 * 15000
    times = list(range(now - a.history_min * 60000, now + 1, 15000))
    t0 = time.time()
    push(a.collector, a.hosts, times)
    n = len(series_for(0, 0, None)) * a.hosts
    print(f"loaded {a.hosts} hosts, {n} series, {n * len(times)} samples in {time.time() - t0:.1f} s",
          file=sys.stderr)


# Rule shapes of a node-exporter mixin (thresholds and selectors varied by index).
SHAPES = [
    ("HighLoad{i}", 'node_load1{{instance="host{h:04d}:9100"}} > {x}', "load {{{{ $value | humanize }}}}"),
    ("CPUBusy{i}", 'sum without (mode) (avg without (cpu) (rate(node_cpu_seconds_total{{mode!="idle",instance=~"host00{h2}.*"}}[2m]))) * 100 > {p}',
     "CPU {{{{ printf \"%.1f\" $value }}}}%"),
    ("FsFull{i}", 'node_filesystem_avail_bytes{{fstype!="",mountpoint="{m}"}} / node_filesystem_size_bytes{{fstype!="",mountpoint="{m}"}} * 100 < {q}',
     "{{{{ $labels.mountpoint }}}} has {{{{ $value | humanize }}}}% free"),
    ("MemLow{i}", '100 - (node_memory_MemAvailable_bytes{{job="node"}} / node_memory_MemTotal_bytes{{job="node"}} * 100) > {r}',
     "memory at {{{{ printf \"%.0f\" $value }}}}%"),
    ("Errors{i}", 'sum by (instance) (rate(http_requests_total{{code="500"}}[5m])) / sum by (instance) (rate(http_requests_total[5m])) > {e}',
     "{{{{ $value | humanizePercentage }}}} errors"),
    ("Down{i}", 'up{{job="node",instance=~"host00{d}.*"}} == 0', "{{{{ $labels.instance }}}} down"),
    ("NetBusy{i}", 'rate(node_network_receive_bytes_total{{device="eth0",instance=~"host00{n}.*"}}[5m]) > {b}',
     "{{{{ $value | humanize1024 }}}}B/s"),
]


def cmd_rules(a):
    os.makedirs(a.out, exist_ok=True)
    per = a.rules // a.groups
    k = 0
    for g in range(a.groups):
        lines = ["groups:", f"- name: bench-{g}", f"  interval: {a.interval}s", "  rules:"]
        for j in range(per):
            name, expr, summary = SHAPES[k % len(SHAPES)]
            expr = expr.format(h=k % 100, h2=k % 10, x=4 + (k % 3), p=60 + k % 30, m=MOUNTS[k % 3],
                               q=3 + k % 5, r=90 + k % 9, e=0.01 + (k % 10) / 100, d=k % 10,
                               n=k % 10, b=int(1e6 * (1 + k % 6)))
            lines += [f"  - alert: {name.format(i=k)}",
                      f"    expr: '{expr}'",
                      "    for: 1m" if k % 2 else "    for: 0s",
                      "    labels: {severity: warning, team: 'team-" + str(k % 8) + "'}",
                      "    annotations:",
                      f"      summary: '{{{{ $labels.instance }}}}: {summary.format()}'"]
            k += 1
        with open(os.path.join(a.out, f"bench-{g}.yml"), "w") as f:
            f.write("\n".join(lines) + "\n")
    print(f"wrote {k} rules in {a.groups} groups to {a.out}", file=sys.stderr)


class Hooks(http.server.BaseHTTPRequestHandler):
    count = 0
    alerts = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hooks.count += 1
        Hooks.alerts += len(json.loads(body)["alerts"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def cmd_run(a):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.hook_port), Hooks)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    stop = threading.Event()

    def feed():  # fresh samples every interval, as agents would send
        while not stop.is_set():
            now = int(time.time() * 1000)
            try:
                push(a.collector, a.hosts, [now])
            except Exception as e:  # noqa: BLE001
                print(f"feed: {e}", file=sys.stderr)
            stop.wait(a.interval)

    threading.Thread(target=feed, daemon=True).start()
    # Warm-up: let every group run once.
    time.sleep(a.interval * 1.5)
    rounds = []
    c0, t0 = cpu_seconds(a.pid), time.time()
    d0 = cpu_seconds(a.tsdb_pid)
    for r in range(a.rounds):
        time.sleep(a.interval)
        rules = get_json(a.alerting + "/api/v1/rules")["data"]["groups"]
        lag = {}
        with urllib.request.urlopen(a.alerting + "/metrics", timeout=30) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("strata_alerting_group_last_lag_seconds{"):
                    lag[line.split('"')[1]] = float(line.rsplit(" ", 1)[1])
        health = {}
        for g in rules:
            for rule in g["rules"]:
                health[rule["health"]] = health.get(rule["health"], 0) + 1
        rounds.append({
            "group_seconds": [g["evaluationTime"] for g in rules],
            "lag_seconds": list(lag.values()),
            "health": health,
        })
        print(f"round {r + 1}: max group evaluation {max(rounds[-1]['group_seconds']):.3f} s, "
              f"max lag {max(rounds[-1]['lag_seconds'] or [0]):.3f} s, health {health}", file=sys.stderr)
    c1, t1 = cpu_seconds(a.pid), time.time()
    d1 = cpu_seconds(a.tsdb_pid)
    stop.set()
    nrounds = (t1 - t0) / a.interval
    alerts = get_json(a.alerting + "/api/v1/alerts")["data"]["alerts"]
    all_group = [x for r in rounds for x in r["group_seconds"]]
    all_lag = [x for r in rounds for x in r["lag_seconds"]]
    res = {
        "rules": sum(len(g["rules"]) for g in rules),
        "groups": len(rules),
        "interval_s": a.interval,
        "rounds": nrounds,
        "alerting_cpu_s_per_round": (c1 - c0) / nrounds,
        "alerting_core_pct": 100 * (c1 - c0) / (t1 - t0),
        "tsdb_cpu_s_per_round": (d1 - d0) / nrounds,
        "group_eval_s_median": sorted(all_group)[len(all_group) // 2],
        "group_eval_s_max": max(all_group),
        "lag_s_median": sorted(all_lag)[len(all_lag) // 2] if all_lag else None,
        "lag_s_max": max(all_lag) if all_lag else None,
        "active_alerts": len(alerts),
        "firing_alerts": sum(1 for x in alerts if x["state"] == "firing"),
        "webhooks_received": Hooks.count,
        "health_last_round": rounds[-1]["health"],
        "per_round": rounds,
    }
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    table = "\n".join([
        f"rules / groups / interval      {res['rules']} / {res['groups']} / {a.interval} s",
        f"rounds measured                {nrounds:.1f}",
        f"alerting CPU per round         {res['alerting_cpu_s_per_round']:.3f} s  ({res['alerting_core_pct']:.1f}% of one core)",
        f"group evaluation (100 rules)   median {res['group_eval_s_median']:.3f} s, max {res['group_eval_s_max']:.3f} s",
        f"lag (finish - scheduled time)  median {res['lag_s_median']:.3f} s, max {res['lag_s_max']:.3f} s",
        f"tsdb CPU per round             {res['tsdb_cpu_s_per_round']:.3f} s",
        f"alerts active / firing         {res['active_alerts']} / {res['firing_alerts']}",
        f"webhooks received              {Hooks.count}",
        f"rule health (last round)       {res['health_last_round']}",
    ])
    with open(os.path.join(a.out, "table.txt"), "w") as f:
        f.write(table + "\n")
    print(table)
    srv.shutdown()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("load")
    p.add_argument("--collector", required=True)
    p.add_argument("--hosts", type=int, default=100)
    p.add_argument("--history-min", type=int, default=30)
    p = sub.add_parser("rules")
    p.add_argument("--out", required=True)
    p.add_argument("--rules", type=int, default=1000)
    p.add_argument("--groups", type=int, default=10)
    p.add_argument("--interval", type=int, default=15)
    p = sub.add_parser("run")
    for k in ("--collector", "--alerting", "--out"):
        p.add_argument(k, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--tsdb-pid", type=int, required=True)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--interval", type=int, default=15)
    p.add_argument("--hosts", type=int, default=100)
    p.add_argument("--hook-port", type=int, required=True)
    a = ap.parse_args()
    {"load": cmd_load, "rules": cmd_rules, "run": cmd_run}[a.cmd](a)


if __name__ == "__main__":
    main()
