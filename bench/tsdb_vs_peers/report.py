#!/usr/bin/env python3
"""Turns the KEY=VALUE measurements run.sh collected into the side-by-side
table (stdout and table.txt) and results.json. Missing or empty values print
as n/a. Usage: report.py RESULTS_ENV OUT_DIR"""
import json
import sys

SYSTEMS = [("strata", "Strata"), ("prom", "Prometheus"), ("vm", "VictoriaMetrics")]


def load(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line and not line.startswith("#"):
                k, _, v = line.partition("=")
                env[k] = v
    return env


def num(env, key):
    v = env.get(key, "")
    try:
        return float(v)
    except ValueError:
        return None


def div(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def fmt(v, digits=2):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if abs(v) >= 1e6:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def main():
    env = load(sys.argv[1])
    out_dir = sys.argv[2]
    m = {}
    for key, _ in SYSTEMS:
        cpu = num(env, f"{key}_cpu_s")
        samples = num(env, f"{key}_samples")
        series = num(env, f"{key}_series")
        disk_samples = num(env, f"{key}_disk_samples")
        m[key] = {
            "samples_loaded": samples,
            "series_loaded": series,
            "disk_method": env.get(f"{key}_disk_method") or None,
            "disk_samples": disk_samples,
            "chunk_bytes": num(env, f"{key}_chunk_bytes"),
            "total_bytes": num(env, f"{key}_total_bytes"),
            "bytes_per_sample_chunks": div(num(env, f"{key}_chunk_bytes"), disk_samples),
            "bytes_per_sample_total": div(num(env, f"{key}_total_bytes"), disk_samples),
            "ingest_cpu_seconds": cpu,
            "ingest_wall_seconds": num(env, f"{key}_wall_s"),
            "samples_per_cpu_second": div(samples, cpu),
            "rss_before_bytes": num(env, f"{key}_rss0_kb") * 1024 if num(env, f"{key}_rss0_kb") is not None else None,
            "rss_after_bytes": num(env, f"{key}_rss1_kb") * 1024 if num(env, f"{key}_rss1_kb") is not None else None,
        }
        m[key]["rss_bytes_per_series"] = div(m[key]["rss_after_bytes"], series)
        extra = {k[len(key) + 1:]: v for k, v in env.items() if k.startswith(key + "_x_")}
        if extra:
            m[key]["extra"] = extra

    rows = [
        ("samples loaded", "samples_loaded", 0),
        ("series loaded", "series_loaded", 0),
        ("bytes/sample on disk, chunks alone", "bytes_per_sample_chunks", 3),
        ("bytes/sample on disk, everything", "bytes_per_sample_total", 3),
        ("ingest samples per CPU-second", "samples_per_cpu_second", 0),
        ("ingest CPU seconds (server process)", "ingest_cpu_seconds", 2),
        ("ingest wall seconds (loader start -> absorbed)", "ingest_wall_seconds", 2),
        ("RSS before load, MiB", "rss_before_bytes", 1),
        ("RSS after load, MiB", "rss_after_bytes", 1),
        ("RSS per active series, KiB", "rss_bytes_per_series", 2),
    ]
    width = max(len(r[0]) for r in rows) + 2
    colw = 18
    lines = []
    lines.append("".ljust(width) + "".join(name.rjust(colw) for _, name in SYSTEMS))
    lines.append("-" * (width + colw * len(SYSTEMS)))
    for label, field, digits in rows:
        cells = []
        for key, _ in SYSTEMS:
            v = m[key][field]
            if v is not None and field.startswith("rss") and field != "rss_bytes_per_series":
                v = v / 1048576
            elif v is not None and field == "rss_bytes_per_series":
                v = v / 1024
            cells.append(fmt(v, digits).rjust(colw))
        lines.append(label.ljust(width) + "".join(cells))
    lines.append("")
    lines.append("disk measurement method:")
    for key, name in SYSTEMS:
        lines.append(f"  {name}: {m[key]['disk_method'] or 'n/a'}")

    # Targets.
    s, p, v = m["strata"], m["prom"], m["vm"]
    targets = []

    def check(desc, lhs, op, rhs, factor=1.0):
        if lhs is None or rhs is None:
            verdict, detail = "n/a", "missing measurement"
        else:
            ok = lhs <= rhs * factor if op == "<=" else lhs >= rhs * factor
            verdict = "PASS" if ok else "FAIL"
            detail = f"{lhs:.3f} {op} {factor:g} x {rhs:.3f}" if lhs < 1000 else f"{lhs:,.0f} {op} {factor:g} x {rhs:,.0f}"
            detail += f" (ratio {lhs / rhs:.2f})" if rhs else ""
        targets.append({"target": desc, "result": verdict, "detail": detail})
        lines.append(f"  [{verdict}] {desc}: {detail}")

    lines.append("")
    lines.append("targets:")
    check("Strata bytes/sample (chunks) <= VictoriaMetrics", s["bytes_per_sample_chunks"], "<=", v["bytes_per_sample_chunks"])
    check("Strata bytes/sample (chunks) <= 0.7 x Prometheus", s["bytes_per_sample_chunks"], "<=", p["bytes_per_sample_chunks"], 0.7)
    check("Strata bytes/sample (everything) <= VictoriaMetrics", s["bytes_per_sample_total"], "<=", v["bytes_per_sample_total"])
    check("Strata bytes/sample (everything) <= 0.7 x Prometheus", s["bytes_per_sample_total"], "<=", p["bytes_per_sample_total"], 0.7)
    check("Strata samples/CPU-s >= 2 x Prometheus", s["samples_per_cpu_second"], ">=", p["samples_per_cpu_second"], 2.0)
    check("Strata samples/CPU-s >= VictoriaMetrics", s["samples_per_cpu_second"], ">=", v["samples_per_cpu_second"])

    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(f"{out_dir}/table.txt", "w") as f:
        f.write(text)
    doc = {"systems": m, "targets": targets,
           "dataset": {k[3:]: v for k, v in env.items() if k.startswith("ds_")},
           "run": {k[4:]: v for k, v in env.items() if k.startswith("run_")}}
    with open(f"{out_dir}/results.json", "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
