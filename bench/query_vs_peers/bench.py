#!/usr/bin/env python3
"""Times the dashboard queries of QUERIES against several Prometheus-API
servers, one request at a time, and writes table.txt and results.json.

  bench.py --server NAME=URL[=PID] ... --min-ms MS --max-ms MS [--repeat N]
           [--range-hours H] [--step S] --out DIR [--meta KEY=VALUE ...]

NAME is strata, prometheus or vm (the report compares strata to the other
two). Every request is a GET over a keep-alive connection (one per server);
its latency is the client's wall-clock time from sending the request to
having read the whole body. Per query: one check request per server (also
the warm-up), then REPEAT rounds of one timed request per server, the
server order rotating each round.
"""
import argparse
import json
import math
import os
import socket
import statistics
import sys
import time
import urllib.parse

# (id, kind, PromQL or path, params). kind: range (last RANGE_HOURS with
# STEP), instant (at the end of the data), meta (label values / series over
# the whole data range, as Grafana sends them with start/end).
QUERIES = [
    ("cpu_by_mode", "range", 'sum by (mode) (rate(node_cpu_seconds_total[5m]))'),
    ("net_rx_by_device", "range", 'sum by (device) (rate(node_network_receive_bytes_total[5m]))'),
    ("http_p90", "range",
     'histogram_quantile(0.9, sum by (le) (rate(prometheus_http_request_duration_seconds_bucket[5m])))'),
    ("topk_interrupts", "range", 'topk(5, rate(node_interrupts_total[5m]))'),
    ("disk_read_regex", "range", 'rate(node_disk_read_bytes_total{device=~"sd.*|vd.*|nvme.*"}[5m])'),
    ("mem_avail_ratio", "range", 'node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes'),
    ("load1_avg_15m", "range", 'avg_over_time(node_load1[15m])'),
    ("fs_used_pct", "range",
     '100 * (1 - node_filesystem_avail_bytes{fstype!="tmpfs"} / node_filesystem_size_bytes{fstype!="tmpfs"})'),
    ("http_req_by_handler", "range", 'sum by (handler) (rate(prometheus_http_requests_total[5m]))'),
    ("series_per_job", "range", 'count by (job) ({__name__=~".+"})'),
    ("i_cpu_increase_1h", "instant", 'sum by (mode) (increase(node_cpu_seconds_total[1h]))'),
    ("i_top_metrics", "instant", 'topk(10, count by (__name__) ({__name__=~".+"}))'),
    ("names", "meta", "/api/v1/label/__name__/values"),
    ("job_values", "meta", "/api/v1/label/job/values"),
    ("series_cpu", "meta", "/api/v1/series?match[]=node_cpu_seconds_total"),
]
LABELS = {"strata": "Strata", "prometheus": "Prometheus", "vm": "VictoriaMetrics"}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", action="append", required=True, help="NAME=URL[=PID]")
    ap.add_argument("--min-ms", type=int, required=True, help="first sample timestamp of the data (ms)")
    ap.add_argument("--max-ms", type=int, required=True, help="last sample timestamp of the data (ms)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--range-hours", type=float, default=6.0)
    ap.add_argument("--step", type=int, default=60, help="range query step, seconds")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", action="append", default=[], help="KEY=VALUE copied into results.json")
    return ap.parse_args()


class Client:
    """One keep-alive HTTP/1.1 connection to a server.

    A minimal client on a raw socket: the request bytes are built before the
    clock starts, and the response is read with one header scan and either
    Content-Length or chunked decoding. http.client parses headers with the
    email package, which cost 0.2-0.3 ms per request here -- the same for
    every server, but as large as the sub-millisecond answers being timed."""

    def __init__(self, name, url, pid, timeout):
        u = urllib.parse.urlsplit(url)
        self.name, self.host, self.port, self.pid, self.timeout = name, u.hostname, u.port, pid, timeout
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionResetError(f"{self.name}: connection closed mid-response")
        self.buf += chunk

    def _read_until(self, sep):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + len(sep):]
                return out
            self._fill()

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _response(self):
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")  # no trailers are sent by these servers
                    break
                parts.append(self._read_exact(size))
                self._read_exact(2)
            body = b"".join(parts)
        else:
            body = self._read_exact(int(headers.get("content-length", "0")))
        return status, headers, body

    def get(self, path):
        """Returns (status, body, seconds). The connection is (re)opened before
        the clock starts; a request on a connection the server had closed is
        retried once on a fresh one, and only that retry is timed."""
        request = (f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                   "User-Agent: strata-bench\r\nAccept: */*\r\n\r\n").encode()
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            try:
                t0 = time.perf_counter()
                self.sock.sendall(request)
                status, headers, body = self._response()
                dt = time.perf_counter() - t0
            except (BrokenPipeError, ConnectionResetError):
                self._close()
                if attempt:
                    raise
                continue
            if headers.get("connection", "").lower() == "close":
                self._close()
            return status, body, dt
        raise AssertionError("unreachable")

    def cpu_s(self):
        if not self.pid:
            return None
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return None


def path_for(kind, q, t):
    if kind == "range":
        return "/api/v1/query_range?" + urllib.parse.urlencode(
            {"query": q, "start": t["start"], "end": t["end"], "step": t["step"]})
    if kind == "instant":
        return "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": t["end"]})
    sep = "&" if "?" in q else "?"
    return q + sep + urllib.parse.urlencode({"start": t["data_start"], "end": t["end"]})


def summarize(status, body):
    """Shape of a response: series (or values) count, points, and a
    {labels: {ts: value}} map for value comparison."""
    out = {"http_status": status, "bytes": len(body)}
    try:
        doc = json.loads(body)
    except ValueError:
        out["error"] = f"HTTP {status}, not JSON: {body[:200]!r}"
        return out, None
    if status != 200 or doc.get("status") != "success":
        out["error"] = f"HTTP {status}: {doc.get('errorType', '')}: {str(doc.get('error', ''))[:300]}"
        return out, None
    data = doc.get("data")
    if isinstance(data, dict) and "result" in data:
        res = data["result"]
        out["result_type"] = data.get("resultType")
        out["series"] = len(res) if isinstance(res, list) else 1
        values = {}
        points = 0
        if isinstance(res, list):
            for s in res:
                key = tuple(sorted(s.get("metric", {}).items()))
                pts = s.get("values") or ([s["value"]] if "value" in s else [])
                points += len(pts)
                values[key] = {float(ts): float(v) for ts, v in pts}
        out["points"] = points
        return out, values
    if isinstance(data, list):
        out["series"] = len(data)
        out["points"] = 0
        return out, {(json.dumps(x, sort_keys=True),): {} for x in data}
    out["error"] = "unexpected response shape"
    return out, None


def compare(ref, other):
    """Series keys and values of OTHER against REF (Prometheus): series only
    in one of them, and the largest relative difference over common points."""
    if ref is None or other is None:
        return None
    only_ref = [k for k in ref if k not in other]
    only_other = [k for k in other if k not in ref]
    max_rel = 0.0
    common_points = differing = 0
    for k, pts in ref.items():
        o = other.get(k)
        if o is None:
            continue
        for ts, v in pts.items():
            w = o.get(ts)
            if w is None:
                continue
            common_points += 1
            if math.isnan(v) and math.isnan(w):
                continue
            d = abs(v - w) / max(abs(v), abs(w), 1e-300) if v != w else 0.0
            if math.isnan(d):
                d = math.inf
            if d > 1e-9:
                differing += 1
            max_rel = max(max_rel, d)
    fmt = lambda ks: ["{" + ",".join(f"{a}={b!r}" for a, b in k) + "}" if k and len(k[0]) == 2 else str(k) for k in ks[:3]]
    return {"series_only_in_prometheus": len(only_ref), "series_only_here": len(only_other),
            "examples_only_in_prometheus": fmt(only_ref), "examples_only_here": fmt(only_other),
            "common_points": common_points, "points_differing": differing,
            "max_rel_diff": None if common_points == 0 else max_rel}


def pct(xs, p):
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def fnum(v, nd=1):
    if v is None:
        return "n/a"
    return f"{v:.{nd}f}" if v < 100 else f"{v:.0f}"


def main():
    a = parse_args()
    clients = []
    for spec in a.server:
        parts = spec.split("=")
        name, url = parts[0], parts[1]
        pid = int(parts[2]) if len(parts) > 2 and parts[2] else None
        clients.append(Client(name, url, pid, a.timeout))
    names = [c.name for c in clients]

    end_s = (a.max_ms // 1000) // a.step * a.step   # aligned to the step, as Grafana does
    t = {"start": end_s - int(a.range_hours * 3600), "end": end_s, "step": a.step,
         "data_start": a.min_ms / 1000.0}
    print(f"range queries: [{t['start']}, {t['end']}] step {a.step}s "
          f"({int(a.range_hours * 3600 / a.step) + 1} points); instant queries at {end_s}; "
          f"{a.repeat} timed requests per server per query", file=sys.stderr)

    results = []
    cpu0 = {c.name: c.cpu_s() for c in clients}
    t_run0 = time.time()
    for qid, kind, q in QUERIES:
        path = path_for(kind, q, t)
        row = {"id": qid, "kind": kind, "query": q, "path": path, "servers": {}}
        values = {}
        # Check request (doubles as the warm-up).
        for c in clients:
            try:
                st, body, dt = c.get(path)
                shape, vals = summarize(st, body)
                shape["check_ms"] = dt * 1000
            except Exception as e:  # noqa: BLE001 - report any transport failure
                shape, vals = {"error": f"{type(e).__name__}: {e}"}, None
            values[c.name] = vals
            row["servers"][c.name] = shape
        # Timed rounds, one request at a time, rotating the order.
        lat = {c.name: [] for c in clients}
        errors = {c.name: 0 for c in clients}
        for r in range(a.repeat):
            k = r % len(clients)
            for c in clients[k:] + clients[:k]:
                if "error" in row["servers"][c.name]:
                    continue
                try:
                    st, body, dt = c.get(path)
                except Exception:  # noqa: BLE001
                    errors[c.name] += 1
                    continue
                if st != 200:
                    errors[c.name] += 1
                    continue
                lat[c.name].append(dt * 1000)
        for c in clients:
            s = row["servers"][c.name]
            xs = lat[c.name]
            s["timed_requests"] = len(xs)
            s["timed_errors"] = errors[c.name]
            s["median_ms"] = statistics.median(xs) if xs else None
            s["p90_ms"] = pct(xs, 90) if xs else None
            s["min_ms"] = min(xs) if xs else None
            s["latencies_ms"] = [round(x, 3) for x in xs]
            if c.name != "prometheus" and "prometheus" in values:
                s["vs_prometheus"] = compare(values["prometheus"], values[c.name])
        results.append(row)
        line = "  ".join(f"{LABELS.get(n, n)} {fnum(row['servers'][n].get('median_ms'))} ms" for n in names)
        print(f"  {qid:<20} {line}", file=sys.stderr)
    run_s = time.time() - t_run0
    cpu1 = {c.name: c.cpu_s() for c in clients}
    cpu = {n: (cpu1[n] - cpu0[n] if cpu0[n] is not None and cpu1[n] is not None else None) for n in names}

    table = render(results, names, a, t, cpu, run_s)
    print(table)
    with open(os.path.join(a.out, "table.txt"), "w") as f:
        f.write(table + "\n")
    meta = dict(m.split("=", 1) for m in a.meta)
    doc = {"meta": meta, "window": t, "repeat": a.repeat, "run_seconds": run_s,
           "server_cpu_seconds_during_run": cpu, "queries": results,
           "targets": "Strata median <= 0.5 x Prometheus median and <= VictoriaMetrics median"}
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)


def verdict(row):
    s, p, v = (row["servers"].get(n, {}) for n in ("strata", "prometheus", "vm"))
    sm, pm, vm = s.get("median_ms"), p.get("median_ms"), v.get("median_ms")
    if "error" in s or sm is None:
        return "FAIL (error)"
    if pm is None or vm is None:
        return "n/a"
    return "PASS" if sm <= 0.5 * pm and sm <= vm else "FAIL"


def check(row, names):
    """Series counts of the three; a note when they differ or Strata's values do."""
    counts = []
    for n in names:
        sv = row["servers"][n]
        counts.append("ERR" if "error" in sv else str(sv.get("series", "?")))
    note = ""
    if len(set(counts)) > 1:
        note = "WARN count"
    cmp = row["servers"].get("strata", {}).get("vs_prometheus")
    if cmp:
        if cmp["series_only_in_prometheus"] or cmp["series_only_here"]:
            note = (note + " " if note else "") + "labels!=P"
        elif cmp["max_rel_diff"] is not None and cmp["max_rel_diff"] > 1e-6:
            note = (note + " " if note else "") + f"vals!=P({cmp['max_rel_diff']:.0e})"
    return "/".join(counts), note or "ok"


def render(results, names, a, t, cpu, run_s):
    hdr = ["query", "kind", "series S/P/V", "check", "Strata ms", "Prom ms", "VM ms",
           "S/P", "S/VM", "target"]
    rows = []
    for row in results:
        sv = {n: row["servers"].get(n, {}) for n in ("strata", "prometheus", "vm")}
        med = {n: sv[n].get("median_ms") for n in sv}
        p90 = {n: sv[n].get("p90_ms") for n in sv}
        cell = lambda n: "ERR" if "error" in sv[n] else f"{fnum(med[n])} ({fnum(p90[n])})"
        ratio = lambda x, y: f"{x / y:.2f}" if x is not None and y else "n/a"
        counts, note = check(row, ["strata", "prometheus", "vm"])
        rows.append([row["id"], row["kind"], counts, note, cell("strata"), cell("prometheus"), cell("vm"),
                     ratio(med["strata"], med["prometheus"]), ratio(med["strata"], med["vm"]), verdict(row)])
    widths = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
    line = lambda r: "  ".join(c.ljust(w) if i < 4 else c.rjust(w) if i < 9 else c
                               for i, (c, w) in enumerate(zip(r, widths)))
    out = [f"== query_vs_peers: median (p90) client latency in ms over {a.repeat} requests after 1 warm-up ==",
           f"range queries: last {a.range_hours:g} h of the data, step {a.step} s; instant queries at its end "
           f"({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t['end']))})",
           line(hdr), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    passed = sum(1 for r in rows if r[-1] == "PASS")
    out.append("")
    out.append(f"target: Strata median <= 0.5 x Prometheus median AND <= VictoriaMetrics median: "
               f"{passed}/{len(rows)} PASS")
    cpu_s = ", ".join(f"{LABELS.get(n, n)} {cpu[n]:.2f} s" if cpu[n] is not None else f"{LABELS.get(n, n)} n/a"
                      for n in names)
    out.append(f"server CPU during the {run_s:.0f} s of requests (own queries + background): {cpu_s}")
    out.append("series S/P/V: result series (or values) from Strata/Prometheus/VM; check: 'WARN count' when they "
               "differ, labels!=P / vals!=P when Strata's series labels or values (rel. diff > 1e-6) differ "
               "from Prometheus' (details in results.json)")
    out.append("VM runs with -search.disableCache (no rollup result cache) and -search.latencyOffset=0s; its "
               "other caches (index, metric names) stay on, as do Prometheus' and Strata's")
    out.append("2 shared cores: latencies include noise from other work on the host; compare ratios, repeat runs")
    return "\n".join(out)


if __name__ == "__main__":
    main()
