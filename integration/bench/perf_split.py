#!/usr/bin/env python3
"""Split a `perf record -g` profile of Meridian servers by component.

    perf record -F 999 -g -o put.data -p PID1,PID2,PID3 -- sleep 8
    python3 integration/bench/perf_split.py put.data

Each sample goes to the first component in RULES that matches any frame of
its stack (so fsync inside the LogDB counts as fsync, not as LogDB), and to
"other" when none does. docs/performance.md quotes its output.
"""
import collections
import re
import subprocess
import sys

RULES = [
    ("fsync of the LogDB WAL", r"syscall\.Fdatasync|syncingFile"),
    ("rest of the LogDB write path (pebble)", r"cockroachdb/pebble|internal/logdb"),
    ("Raft transport: sending", r"transport\.\(\*Transport\)\.(send|connectAndProcess|processMessages|sendMessageBatch)|TCPConnection\)\.SendMessageBatch"),
    ("Raft transport: receiving", r"transport\.\(\*TCP\)\.(serveConn|Start)"),
    ("Raft step engine", r"engine\)\.(stepWorkerMain|processSteps)"),
    ("commit, apply and the state machine", r"engine\)\.(commitWorkerMain|applyWorkerMain|processApplies|processCommits)|taskWorker|meridian/server/kv\.\(\*(Machine|Batch)"),
    ("JSON-RPC handler (decode, method, encode)", r"meridian/rpc\.\(\*Server\)\.(handle|serve)"),
    ("HTTP server (net/http + echo, sockets)", r"net/http\.\(\*conn\)\.serve"),
    ("Go GC", r"gcBgMarkWorker|runtime\.gcDrain|runtime\.mallocgc|runtime\.bgsweep|runtime\.bgscavenge"),
    ("Go scheduler: sysmon, idle Ps, parking and waking goroutines", r"runtime\.(schedule|findRunnable|sysmon|mcall|park_m|usleep|netpoll|stopm|notesleep|futexsleep)"),
]


def stacks(path):
    out = subprocess.run(["perf", "script", "-i", path, "-F", "comm,ip,sym"],
                         capture_output=True, text=True, check=True).stdout
    cur = []
    for line in out.splitlines():
        if not line.strip() or not line.startswith((" ", "\t")):
            if cur:
                yield cur
            cur = []
            continue
        parts = line.strip().split(None, 1)
        cur.append(re.sub(r"\+0x[0-9a-f]+$", "", parts[-1]))
    if cur:
        yield cur


def main(path):
    rules = [(name, re.compile(rx)) for name, rx in RULES]
    counts = collections.Counter()
    n = 0
    for st in stacks(path):
        n += 1
        for name, rx in rules:
            if any(rx.search(f) for f in st):
                counts[name] += 1
                break
        else:
            counts["other"] += 1
    print(f"{n} samples")
    for name in [r[0] for r in RULES] + ["other"]:
        print(f"{100 * counts[name] / max(n, 1):5.1f}%  {name}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
