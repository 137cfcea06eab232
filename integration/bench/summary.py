#!/usr/bin/env python3
"""Summarise compare.sh results: summary.py OUT_DIR [OUT_DIR...].

Each OUT_DIR holds results.jsonl (one `-json` result per line, with the
label compare.sh gave the run) and rss.txt ("LABEL KiB KiB ..."). With
several directories every figure is the median over them. Prints Markdown.
"""
import json
import os
import statistics
import sys


def load(dirs):
    runs, rss = {}, {}
    for d in dirs:
        with open(os.path.join(d, "results.jsonl")) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    runs.setdefault(r["label"], []).append(r)
        path = os.path.join(d, "rss.txt")
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) > 1:
                        rss.setdefault(parts[0], []).append([int(x) for x in parts[1:]])
    return runs, rss


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def figure(runs, label, get):
    if label not in runs:
        return None
    return med([get(r) for r in runs[label]])


def ops(r):
    return r["ops_per_sec"]


def fmt_ops(v):
    return "-" if v is None else f"{v:,.0f}"


def fmt_ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.2f}x"


def fmt_ms(us):
    return "-" if us is None else f"{us / 1000:.2f}"


def per_run_ratios(dirs, steal_max=5):
    """One-folder Meridian / etcd figures of each OUT_DIR (one compare.sh
    run: Meridian's and etcd's figures measured minutes apart), and their
    medians, over every run and over the runs where no figure lost more
    than steal_max % of a core to the hypervisor. Two figures per
    operation: the throughput ratio, and the cost ratio (the agents' CPU
    per operation, etcd's over Meridian's: above 1 when a Meridian
    operation costs less)."""
    print()
    print(f"Each run, one folder: throughput ratio (Meridian 3 servers / etcd 3 members) and cost ratio (server CPU per operation, etcd / Meridian); stolen = the most CPU (% of a core) the hypervisor took during any of the run's figures; medians over every run and over runs with at most {steal_max} % stolen.")
    print()
    ops_ = ("put", "get", "mixed")
    print("| run | " + " | ".join(f"{op} | {op} cost" for op in ops_) + " | stolen |")
    print("|---|" + "--:|--:|" * len(ops_) + "--:|")
    every, calm = {}, {}
    cost = lambda r: (r.get("cpu_pct") or {}).get("agents", 0) / r["ops_per_sec"] if r["ops_per_sec"] else None
    for d in dirs:
        runs, _ = load([d])
        figs, stolen = {}, []
        for op in ops_:
            m, e = runs.get(f"meridian-f1-{op}"), runs.get(f"etcd-{op}")
            if m and e:
                figs[op] = m[0]["ops_per_sec"] / e[0]["ops_per_sec"]
                cm, ce = cost(m[0]), cost(e[0])
                if cm and ce:
                    figs[op + " cost"] = ce / cm
            for r in (m or []) + (e or []):
                stolen.append((r.get("cpu_pct") or {}).get("steal"))
        stolen = [x for x in stolen if x is not None]
        worst = max(stolen) if stolen else None
        for k, v in figs.items():
            every.setdefault(k, []).append(v)
            if worst is not None and worst <= steal_max:
                calm.setdefault(k, []).append(v)
        cells = [f"{figs[k]:.2f}x" if k in figs else "-" for op in ops_ for k in (op, op + " cost")]
        print(f"| {os.path.basename(d.rstrip('/'))} | " + " | ".join(cells) + f" | {'-' if worst is None else worst} |")
    for name, group in (("median, every run", every), (f"median, at most {steal_max} % stolen", calm)):
        cells = [f"{statistics.median(group[k]):.2f}x ({len(group[k])})" if group.get(k) else "-" for op in ops_ for k in (op, op + " cost")]
        print(f"| {name} | " + " | ".join(cells) + " | |")


def main(dirs):
    runs, rss = load(dirs)
    n = len(dirs)
    print(f"Throughput, ops/s ({'median of %d runs' % n if n > 1 else 'one run'}); ratio = Meridian 3 servers / etcd 3 members.")
    print()
    print("| workload | meridian dev | meridian 3 servers, 4 folders | meridian 3 servers, 1 folder | etcd 3 members | ratio 4 folders | ratio 1 folder |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    names = {"put": "put", "get": "get (linearizable)", "mixed": "mixed (90% get)"}
    for op in ("put", "get", "mixed"):
        dev = figure(runs, f"dev-{op}", ops)
        f4 = figure(runs, f"meridian-f4-{op}", ops)
        f1 = figure(runs, f"meridian-f1-{op}", ops)
        et = figure(runs, f"etcd-{op}", ops)
        print(f"| {names[op]} | {fmt_ops(dev)} | {fmt_ops(f4)} | {fmt_ops(f1)} | {fmt_ops(et)} | {fmt_ratio(f4, et)} | {fmt_ratio(f1, et)} |")
    if any(l.startswith("meridian-f1-co-") for l in runs):
        print()
        print("With the client coalescing calls into JSON-RPC batches (bench kv -coalesce):")
        print()
        print("| workload | 4 folders | 1 folder | etcd | ratio 4 folders | ratio 1 folder |")
        print("|---|--:|--:|--:|--:|--:|")
        for op in ("put", "get", "mixed"):
            f4 = figure(runs, f"meridian-f4-co-{op}", ops)
            f1 = figure(runs, f"meridian-f1-co-{op}", ops)
            et = figure(runs, f"etcd-{op}", ops)
            print(f"| {names[op]} | {fmt_ops(f4)} | {fmt_ops(f1)} | {fmt_ops(et)} | {fmt_ratio(f4, et)} | {fmt_ratio(f1, et)} |")
    print()
    print("Latency of the successful operations, ms (median over runs of each percentile), and errors (summed over runs).")
    print()
    print("CPU is in % of one core (the machine has " + str(os.cpu_count()) + "), over the whole run: the agents (servers or etcd members), the load tool, anything else on the machine, and the time the hypervisor stole for other guests (noise, both).")
    print()
    print("| run | ops/s | p50 | p99 | p99.9 | max | errors | CPU agents | CPU load tool | CPU other | CPU stolen |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    order = ["dev-put", "dev-get"] + [f"meridian-f{f}-{op}" for f in (4, 1) for op in ("put", "get", "mixed")] + [f"etcd-{op}" for op in ("put", "get", "mixed")]
    for label in order + sorted(set(runs) - set(order)):
        if label not in runs:
            continue
        lat = lambda k: figure(runs, label, lambda r: r["latency_us"][k])
        errs = sum(r["errors"] for r in runs[label])
        codes = {}
        for r in runs[label]:
            for c, k in (r.get("errors_by_code") or {}).items():
                codes[c] = codes.get(c, 0) + k
        err = str(errs) + (" (" + ", ".join(f"{c}: {k}" for c, k in sorted(codes.items())) + ")" if codes else "")
        cpu = lambda k: fmt_ops(figure(runs, label, lambda r: (r.get("cpu_pct") or {}).get(k)))
        print(f"| {label} | {fmt_ops(figure(runs, label, ops))} | {fmt_ms(lat('p50'))} | {fmt_ms(lat('p99'))} | {fmt_ms(lat('p999'))} | {fmt_ms(lat('max'))} | {err} | {cpu('agents')} | {cpu('load_tool')} | {cpu('other')} | {cpu('steal')} |")
    counted = [label for label in order + sorted(set(runs) - set(order)) if label in runs and any(r.get("per_op") for r in runs[label])]
    if counted:
        print()
        print("Per operation, from `perf stat -a` over each figure (COUNT=1; the whole machine, populating included), median over runs: context switches and system calls; and CPU per operation, µs: the agents' and the load tool's.")
        print()
        print("| run | context switches | syscalls | agents' CPU, µs | load tool's CPU, µs |")
        print("|---|--:|--:|--:|--:|")
        for label in counted:
            per = lambda k: figure(runs, label, lambda r: (r.get("per_op") or {}).get(k))
            cost = lambda k: figure(runs, label, lambda r: (r["cpu_pct"][k] * 1e4 / r["ops_per_sec"]) if r.get("cpu_pct") and r.get("ops_per_sec") else None)
            fmt = lambda v, d: "-" if v is None else f"{v:.{d}f}"
            print(f"| {label} | {fmt(per('context_switches'), 1)} | {fmt(per('syscalls'), 1)} | {fmt(cost('agents'), 0)} | {fmt(cost('load_tool'), 0)} |")
    if rss:
        print()
        print("Idle resident memory (VmRSS), MiB, per process (median over runs); the servers and etcd members freshly started with an empty store.")
        print()
        print("| what | per process | processes |")
        print("|---|--:|---|")
        for label in ("meridian-dev", "meridian-server", "etcd"):
            if label not in rss:
                continue
            per = [med([run[i] for run in rss[label] if i < len(run)]) / 1024 for i in range(max(len(r) for r in rss[label]))]
            print(f"| {label} | {statistics.median(per):.0f} | " + ", ".join(f"{v:.0f}" for v in per) + " |")
    if len(dirs) > 1:
        per_run_ratios(dirs)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
