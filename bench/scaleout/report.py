#!/usr/bin/env python3
"""bench/scaleout/report.py RESULTS_ENV "QUERY NAMES": prints the tables of run.sh."""
import sys


def main():
    env = {}
    for line in open(sys.argv[1]):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            env[k] = v
    queries = sys.argv[2].split()
    shards = sorted({int(k[1:].split("_")[0]) for k in env if k[0] == "s" and k[1].isdigit()})

    def f(key, default=None):
        v = env.get(key)
        return float(v) if v not in (None, "") else default

    def num(x, nd=0):
        return "-" if x is None else f"{x:,.{nd}f}"

    print(f"== bench/scaleout: {env.get('run_host', '?')}; build {env.get('run_build', '?')}; "
          f"load before {env.get('run_load_before', '?')} ==")
    s0 = shards[0]
    print(f"dataset: {int(f(f's{s0}_samples', 0)):,} samples of {env.get(f's{s0}_series', '?')} "
          f"series, pushed as {env.get(f's{s0}_requests', '?')} JSON requests over 4 connections\n")

    # Main table.
    hdr = ["shards", "ingest samples/s (wall)", "samples / tsdb CPU-s", "tsdb CPU-s"]
    hdr += [f"{q} ms" for q in queries]
    rows = []
    direct = ["direct shard", "-", "-", "-"] + [num(f(f"s1_direct_q_{q}_median_ms"), 1) for q in queries]
    for n in shards:
        samples, wall, cpu = f(f"s{n}_samples"), f(f"s{n}_wall_s"), f(f"s{n}_tsdb_cpu_s")
        rows.append([str(n), num(samples / wall), num(samples / cpu), num(cpu, 2)] +
                    [num(f(f"s{n}_via_query_q_{q}_median_ms"), 1) for q in queries])
    if "s1_direct_q_" + queries[0] + "_median_ms" in env:
        rows.append(direct)
        over = ["fan-out overhead (1 shard)", "-", "-", "-"]
        for q in queries:
            a, b = f(f"s1_via_query_q_{q}_median_ms"), f(f"s1_direct_q_{q}_median_ms")
            over.append("-" if a is None or b is None else f"+{a - b:.1f} (x{a / b:.2f})")
        rows.append(over)
    print_table(hdr, rows)
    print("(query columns: median latency over the runs, through strata-query unless 'direct shard')\n")

    # Ingest details.
    hdr = ["shards", "wall s", "push answered s", "tsdb CPU-s", "per shard CPU-s", "collector CPU-s",
           "broker CPU-s", "loader CPU-s", "machine busy cores (others' CPU-s)", "series per shard",
           "dup samples", "check (query node)"]
    rows = []
    for n in shards:
        per = "/".join(env.get(f"s{n}_tsdb{i}_cpu_s", "?") for i in range(n))
        counted = env.get(f"s{n}_counted_via_query", "?")
        ok = "ok" if counted.split(".")[0] == env.get(f"s{n}_samples") else f"MISMATCH {counted}"
        ours = sum(f(f"s{n}_{k}_cpu_s", 0) for k in ("tsdb", "collector", "broker", "loader", "query_idle"))
        others = f(f"s{n}_machine_busy_cpu_s", 0) - ours
        busy = f"{env.get(f's{n}_machine_busy_cores', '?')} ({max(others, 0):.2f})"
        rows.append([str(n), env.get(f"s{n}_wall_s"), env.get(f"s{n}_push_s"), env.get(f"s{n}_tsdb_cpu_s"), per,
                     env.get(f"s{n}_collector_cpu_s"), env.get(f"s{n}_broker_cpu_s"),
                     env.get(f"s{n}_loader_cpu_s"), busy, env.get(f"s{n}_head_series_per_shard"),
                     env.get(f"s{n}_duplicate_samples"), ok])
    print("ingest:")
    print_table(hdr, rows)
    print()

    # Query details: median / p90 and CPU per run.
    targets = []
    if f"s1_direct_q_{queries[0]}_median_ms" in env:
        targets.append(("direct shard", "s1_direct_"))
    targets += [(f"{n} shard{'s' if n > 1 else ''} via query", f"s{n}_via_query_") for n in shards]
    hdr = ["query"] + [t for t, _ in targets] + ["result series"]
    rows = []
    for q in queries:
        row = [q]
        for _, p in targets:
            cpu = f"{num(f(p + f'q_{q}_cpu_ms_per_run'), 0)} CPU-ms"
            if "via_query" in p:
                cpu += f" ({num(f(p + f'q_{q}_cpu_ms_per_run_first_pid'), 0)} query node)"
            row.append(f"{num(f(p + f'q_{q}_median_ms'), 1)} / {num(f(p + f'q_{q}_p90_ms'), 1)} ms, {cpu}")
        hashes = {env.get(p + f"q_{q}_hash") for _, p in targets}
        series = env.get(targets[0][1] + f"q_{q}_series", "?")
        row.append(series + ("" if len(hashes) == 1 else " (ANSWERS DIFFER)"))
        rows.append(row)
    print("queries: median / p90 latency; CPU-ms per run of strata-query + every shard (of it strata-query"
          " alone), direct: the shard")
    print_table(hdr, rows)


def print_table(hdr, rows):
    widths = [max(len(str(r[i])) for r in [hdr] + rows) for i in range(len(hdr))]
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(hdr, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).rjust(w) if i else str(c).ljust(w)
                                for i, (c, w) in enumerate(zip(r, widths))) + " |")


if __name__ == "__main__":
    main()
