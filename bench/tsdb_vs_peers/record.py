#!/usr/bin/env python3
"""Records a real scrape dataset for bench/tsdb_vs_peers (see README.md).

Scrapes every --target (JOB=URL) every --interval seconds for --seconds,
fetching all targets of a tick in parallel, and appends each raw response to
a spool file. Then converts the spool into the dataset: Prometheus text
exposition, one sample per line, with

  * the target's `job` and `instance` labels added as Prometheus does (an
    exposed `job`/`instance` label is renamed `exported_job`/`exported_instance`),
  * labels sorted by name, empty-valued labels dropped,
  * an explicit millisecond timestamp on every line,
  * each scrape preceded by a `# scrape ...` comment line.

Timestamps: scrape slot i (the i-th tick of --interval) becomes scrape i of a
--scaled-interval (default 15 s) series, so 250 ms of wall time are 15 s of
dataset time. --time-mapping chooses how the real scrape time t (taken just
before the request; t_start = first tick) maps:

  jitter:           t' = base + i * scaled_interval + (t - (t_start + i * interval))
                    i.e. a regular 15 s grid plus the *real* scheduling delay,
                    unscaled (a few ms);
  prometheus (default): as jitter, then what Prometheus 2.42's scrape loop does
                    (AlignScrapeTimestamps, 2 ms tolerance): a scrape at most
                    2 ms later than its slot on the grid anchored at the
                    target's first scrape gets the grid timestamp;
  scale:            t' = base + (t - t_start) * (scaled_interval / interval)
                    i.e. the offset from the start scaled by 60 (jitter too).

base is aligned down to a 2 h boundary and chosen so that the dataset ends at
least an hour before the recording started (no future timestamps).
"""
import argparse
import http.client
import json
import math
import os
import sys
import threading
import time
import urllib.parse


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", action="append", required=True, metavar="JOB=URL",
                   help="a /metrics URL to scrape, with its job name; repeatable")
    p.add_argument("--interval", type=float, default=0.25, help="wall-clock scrape interval, seconds")
    p.add_argument("--seconds", type=float, required=True, help="how long to record")
    p.add_argument("--scaled-interval", type=float, default=15.0, help="dataset scrape interval, seconds")
    p.add_argument("--time-mapping", choices=["prometheus", "jitter", "scale"], default="prometheus")
    p.add_argument("--spool", required=True, help="raw responses go here (deleted after conversion)")
    p.add_argument("--out", required=True, help="dataset file to write")
    p.add_argument("--stats", required=True, help="JSON statistics file to write")
    return p.parse_args()


class Target:
    def __init__(self, spec):
        job, _, url = spec.partition("=")
        if not job or not url:
            sys.exit(f"record.py: bad --target {spec!r}, expected JOB=URL")
        u = urllib.parse.urlsplit(url)
        self.job, self.url = job, url
        self.host, self.port = u.hostname, u.port or 80
        self.path = u.path or "/metrics"
        self.instance = f"{self.host}:{self.port}"
        self.conn = None
        self.durations = []
        self.errors = 0

    def fetch(self):
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                self.conn.request("GET", self.path, headers={"Accept": "text/plain;version=0.0.4"})
                r = self.conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise RuntimeError(f"HTTP {r.status}")
                return body
            except Exception as e:  # reconnect once, then count an error
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 1:
                    self.errors += 1
                    print(f"record.py: scrape of {self.url} failed: {e}", file=sys.stderr)
                    return None


def record(args, targets):
    interval_ns = int(args.interval * 1e9)
    lock = threading.Lock()
    spool = open(args.spool, "wb")
    start_ns = time.time_ns()
    mono0 = time.monotonic_ns()
    deadline = mono0 + int(args.seconds * 1e9)
    slots = 0
    late = 0
    slot = 0

    def scrape(t, slot):
        t_ns = time.time_ns()
        m0 = time.monotonic_ns()
        body = t.fetch()
        t.durations.append((time.monotonic_ns() - m0) / 1e6)
        if body is None:
            return
        with lock:
            spool.write(f"#SPOOL {slot} {t.job} {t.instance} {t_ns // 1_000_000} {len(body)}\n".encode())
            spool.write(body)

    last_report = time.monotonic()
    while True:
        now = time.monotonic_ns()
        target_ns = mono0 + slot * interval_ns
        if now < target_ns:
            time.sleep((target_ns - now) / 1e9)
        if time.monotonic_ns() >= deadline:
            break
        threads = [threading.Thread(target=scrape, args=(t, slot)) for t in targets]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        slots += 1
        # Next free slot; slots we could not keep are skipped (missed scrapes).
        nxt = (time.monotonic_ns() - mono0) // interval_ns + 1
        if nxt > slot + 1:
            late += nxt - slot - 1
        slot = nxt
        if time.monotonic() - last_report >= 30:
            last_report = time.monotonic()
            print(f"record.py: {slots} scrapes so far ({slots * args.scaled_interval / 3600:.2f} h of dataset time)",
                  file=sys.stderr, flush=True)
    spool.close()
    return start_ns // 1_000_000, slot, slots, late


def parse_labels(s):
    """Parses the inside of {...} into a list of (name, raw-escaped value)."""
    out = []
    i, n = 0, len(s)
    while i < n:
        while i < n and s[i] in ", ":
            i += 1
        if i >= n:
            break
        eq = s.index("=", i)
        name = s[i:eq].strip()
        if s[eq + 1] != '"':
            raise ValueError(f"bad label in {{{s}}}")
        j = eq + 2
        buf = []
        while s[j] != '"':
            if s[j] == "\\":
                buf.append(s[j:j + 2])
                j += 2
            else:
                buf.append(s[j])
                j += 1
        out.append((name, "".join(buf)))
        i = j + 1
    return out


def canonical(series, job, instance):
    brace = series.find("{")
    if brace < 0:
        name, labels = series, []
    else:
        name, labels = series[:brace], parse_labels(series[brace + 1:series.rindex("}")])
    renamed = []
    for k, v in labels:
        if k in ("job", "instance"):
            k = "exported_" + k
        if v != "":
            renamed.append((k, v))
    renamed += [("instance", instance), ("job", job)]
    renamed.sort()
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in renamed) + "}"


def convert(args, targets, start_ms, total_slots):
    interval_ms = args.interval * 1000
    scaled_ms = int(args.scaled_interval * 1000)
    factor = args.scaled_interval / args.interval
    two_h = 7_200_000
    base = (start_ms - total_slots * scaled_ms - 3_600_000) // two_h * two_h
    cache = {}
    first_delay = {}
    series_seen = set()
    samples = nan = dup = 0
    scrapes = {t.job: 0 for t in targets}
    min_ts = max_ts = None
    with open(args.spool, "rb") as sp, open(args.out, "w", encoding="utf-8") as out:
        out.write("# strata-bench-dataset v1: Prometheus text exposition, one sample per line, "
                  "timestamps in ms\n")
        out.write(f"# interval_ms={scaled_ms} raw_interval_ms={interval_ms:g} time_mapping={args.time_mapping} "
                  f"recorded_at_ms={start_ms} base_ms={base} targets={','.join(t.job + '=' + t.url for t in targets)}\n")
        while True:
            hdr = sp.readline()
            if not hdr:
                break
            _, slot, job, instance, t_ms, length = hdr.decode().split()
            slot, t_ms, length = int(slot), int(t_ms), int(length)
            body = sp.read(length).decode("utf-8")
            if args.time_mapping in ("prometheus", "jitter"):
                delay = round(t_ms - (start_ms + slot * interval_ms))
                ts = base + slot * scaled_ms + delay
                if args.time_mapping == "prometheus":
                    # Prometheus' scrape loop (scrape/scrape.go, AlignScrapeTimestamps):
                    # a scrape at most 2 ms after its slot on the grid anchored at the
                    # target's first scrape gets the grid timestamp.
                    d0 = first_delay.setdefault(job, delay)
                    if delay - d0 <= 2:
                        ts = base + slot * scaled_ms + d0
            else:
                ts = base + round((t_ms - start_ms) * factor)
            min_ts = ts if min_ts is None else min(min_ts, ts)
            max_ts = ts if max_ts is None else max(max_ts, ts)
            scrapes[job] += 1
            out.write(f"# scrape {slot} job={job} instance={instance} raw_ms={t_ms} ts={ts}\n")
            in_scrape = set()
            lines = []
            for line in body.split("\n"):
                if not line or line[0] == "#":
                    continue
                rb = line.rfind("}")
                if rb >= 0:
                    series, rest = line[:rb + 1], line[rb + 1:].split()
                else:
                    parts = line.split()
                    series, rest = parts[0], parts[1:]
                value = rest[0]
                key = (job, series)
                c = cache.get(key)
                if c is None:
                    c = cache[key] = canonical(series, job, instance)
                if c in in_scrape:
                    dup += 1
                    continue
                in_scrape.add(c)
                series_seen.add(c)
                samples += 1
                if value == "NaN":
                    nan += 1
                lines.append(f"{c} {value} {ts}\n")
            out.write("".join(lines))
    return {
        "scrape_slots": total_slots, "scrapes": scrapes, "series": len(series_seen),
        "samples": samples, "nan_samples": nan, "duplicate_lines_dropped": dup,
        "min_ts": min_ts, "max_ts": max_ts,
        "dataset_hours": (max_ts - min_ts) / 3_600_000 if min_ts is not None else 0,
        "time_mapping": args.time_mapping, "raw_interval_s": args.interval,
        "scaled_interval_s": args.scaled_interval, "base_ms": base, "recorded_at_ms": start_ms,
    }


def main():
    args = parse_args()
    targets = [Target(s) for s in args.target]
    start_ms, total_slots, slots, late = record(args, targets)
    stats = convert(args, targets, start_ms, total_slots)
    os.unlink(args.spool)
    stats["ticks"] = slots
    stats["skipped_slots"] = late
    for t in targets:
        d = sorted(t.durations) or [0]
        stats[f"scrape_ms_{t.job}"] = {"p50": d[len(d) // 2], "p99": d[min(len(d) - 1, int(len(d) * 0.99))],
                                        "max": d[-1], "errors": t.errors}
    stats["dataset_bytes"] = os.path.getsize(args.out)
    with open(args.stats, "w") as f:
        json.dump(stats, f, indent=1)
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
