#!/usr/bin/env bash
# Meridian vs etcd on this machine's loopback, unattended.
#
#   bash integration/bench/compare.sh                  # 15 s per run
#   DURATION=5s bash integration/bench/compare.sh      # quicker
#   OUT=/tmp/compare-1 bash integration/bench/compare.sh   # results there
#
# One system at a time (so none steals the CPU from another):
#   1. `meridian dev` alone: idle RSS, then put and get;
#   2. 3 `meridian server` processes: idle RSS, then put, get and mixed with
#      -folders 4 (the keys spread over the 4 KV shards) and -folders 1
#      (every key in one shard: one Raft group, as etcd has);
#   3. 3 etcd members (Debian's etcd-server, default settings): idle RSS,
#      then put, get and mixed.
# Every run: CLIENTS closed-loop clients (64), KEYS keys (10000) of
# VALUE_SIZE bytes (128), DURATION long; gets are linearizable (Meridian's
# "default" consistency, etcd's serializable=false); mixed is 90% gets.
# The load generator runs on the same machine and shares its cores. Each
# result also records the CPU the agents, the load tool and everything else
# used meanwhile (in % of one core): "other" well above 0 means the machine
# was busy with other work and the run is noisy; "steal" is CPU time the
# hypervisor gave to other guests while ours wanted it (a shared VM's
# neighbours), and a run with steal above a few % is slow for that alone.
# QUIET_WAIT=SECONDS waits (that long at most) for an idle machine before
# each system.
#
# Results: OUT/results.jsonl (one JSON result per run, as `-json` prints
# it), OUT/rss.txt, OUT/summary.md (the table, also printed at the end),
# and the processes' logs under OUT/logs; OUT defaults to a new
# /tmp/meridian-compare-DATE. Everything started is stopped on exit; data
# directories live in a temporary directory that is removed. Several OUT
# directories can be summarised together (the median of each figure, and
# each run's one-folder ratio with the median of those):
#   python3 integration/bench/summary.py OUT1 OUT2 OUT3
# Only the one-folder figures against etcd, in rounds that alternate the two
# systems (each OUT one round, a few minutes apart):
#   for i in 1 2 3 4 5 6; do OUT=/tmp/pair-$i ONLY="meridian-f1-put meridian-f1-get etcd-put etcd-get" \
#     bash integration/bench/compare.sh; done
#   python3 integration/bench/summary.py /tmp/pair-*
set -euo pipefail

DURATION=${DURATION:-15s}
CLIENTS=${CLIENTS:-64}
KEYS=${KEYS:-10000}
VALUE_SIZE=${VALUE_SIZE:-128}
READ_RATIO=${READ_RATIO:-0.9}
IDLE_SECONDS=${IDLE_SECONDS:-5} # settle time before idle RSS is read
QUIET_WAIT=${QUIET_WAIT:-0}     # wait up to this many seconds for an idle machine
COALESCE=${COALESCE:-4}         # bench kv -coalesce of the coalesced runs
COUNT=${COUNT:-0}               # 1: count context switches and syscalls per op (perf stat -a)
ONLY=${ONLY:-}                  # run only these labels (space-separated), e.g.
                                # "meridian-f1-put etcd-put"; default: every run

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/meridian-compare.XXXXXX)
OUT=${OUT:-/tmp/meridian-compare-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/logs"
: >"$OUT/results.jsonl"
: >"$OUT/rss.txt"

pids=()
bench_pid=
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	[[ -z $bench_pid ]] || kill "$bench_pid" 2>/dev/null || true
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '== %s\n' "$*" >&2; }

# stop_all stops what was started so far (the next system gets the CPU).
stop_all() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	pids=()
}

# --- what we need ------------------------------------------------------
need_apt=()
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v curl >/dev/null || need_apt+=(curl)
command -v python3 >/dev/null || need_apt+=(python3)
if ((COUNT)) && ! command -v perf >/dev/null; then need_apt+=(linux-perf); fi
if ((${#need_apt[@]})); then
	log "installing ${need_apt[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
log "etcd: $(etcd --version | head -1)"

log "building meridian and etcdbench"
(cd "$root" && go build -o "$work/meridian" ./cmd/meridian)
(cd "$root/integration/etcdbench" && go build -o "$work/etcdbench" .) || {
	echo "compare.sh: building integration/etcdbench failed; if Meridian's go.mod changed, run (cd integration/etcdbench && go mod tidy)" >&2
	exit 1
}

# free_ports N prints N distinct free ports on 127.0.0.1 (TCP and UDP),
# outside the kernel's ephemeral range (see free_ports.py).
free_ports() { python3 "$root/integration/bench/free_ports.py" "$1"; }

# wait_http URL EXPECT: until URL's body contains EXPECT (60 s at most).
wait_http() {
	for _ in $(seq 600); do
		if curl -fsS --max-time 1 "$1" 2>/dev/null | grep -q "$2"; then
			return 0
		fi
		sleep 0.1
	done
	echo "compare.sh: $1 not ready after 60s" >&2
	return 1
}

# rss PID: resident set size in KiB, from /proc.
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

record_rss() { # LABEL PID...
	local label=$1
	shift
	sleep "$IDLE_SECONDS"
	local line="$label"
	for pid in "$@"; do line+=" $(rss "$pid")"; done
	echo "$line" >>"$OUT/rss.txt"
	log "idle RSS (KiB) $line"
}

# CPU accounting, to tell a clean run from one disturbed by other work on
# the machine: the machine's busy time, our agents' and the load tool's,
# and the time stolen by the hypervisor (/proc/stat's 8th column).
hz=$(getconf CLK_TCK)
busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8}' /proc/stat; }
steal_ticks() { awk '/^cpu / {print $9}' /proc/stat; }
agent_ticks() { # ticks used so far by the agents we started
	local sum=0 t
	for pid in "${pids[@]}"; do
		t=$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
		sum=$((sum + t))
	done
	echo "$sum"
}
children_secs() { # CPU seconds of this shell's finished children (bash `times`)
	times >"$work/times" # in this shell: $(times) would time a subshell's children
	tail -1 "$work/times" | awk '{
		split($1, u, /[ms]/); split($2, s, /[ms]/)
		printf "%.3f\n", u[1]*60 + u[2] + s[1]*60 + s[2] }'
}

# wait_quiet: with QUIET_WAIT=SECONDS, wait (that long at most) until the
# machine is nearly idle (under 15% of one core busy over 2 s).
wait_quiet() {
	local deadline=$((SECONDS + ${QUIET_WAIT:-0})) b0 b1
	while ((SECONDS < deadline)); do
		b0=$(busy_ticks)
		sleep 2
		b1=$(busy_ticks)
		if (((b1 - b0) * 100 < 15 * 2 * hz)); then return 0; fi
		log "machine busy ($(((b1 - b0) * 100 / (2 * hz)))% of a core); waiting for quiet"
		sleep 5
	done
}

# wanted PREFIX: whether ONLY selects a label starting with PREFIX (a
# whole label selects itself); every label when ONLY is empty.
wanted() { [[ -z $ONLY || " $ONLY" == *" $1"* ]]; }

# bench LABEL COMMAND...: one run with the common flags; its JSON result is
# appended to results.jsonl with the label and the CPU the agents, the load
# tool and everything else used meanwhile (in % of one core). Skipped
# unless ONLY selects LABEL.
bench() {
	local label=$1
	shift
	[[ -z $ONLY || " $ONLY " == *" $label "* ]] || return 0
	log "run $label: ${*:2}"
	local res b0 a0 c0 s0 t0 b1 a1 c1 s1 t1
	children_secs >"$work/c0"
	b0=$(busy_ticks) a0=$(agent_ticks) c0=$(<"$work/c0") s0=$(steal_ticks) t0=$(date +%s.%N)
	# In the background and waited for, so that a signal stops us at once.
	local counter=()
	((COUNT)) && counter=(perf stat -a -x, -o "$work/perf.txt" -e context-switches,raw_syscalls:sys_enter --)
	: >"$work/perf.txt"
	"${counter[@]}" "$@" -json -clients "$CLIENTS" -keys "$KEYS" -value-size "$VALUE_SIZE" \
		-duration "$DURATION" -read-ratio "$READ_RATIO" >"$work/result.json" 2>"$OUT/logs/bench-$label.log" &
	bench_pid=$!
	wait "$bench_pid"
	bench_pid=
	res=$(<"$work/result.json")
	children_secs >"$work/c1"
	b1=$(busy_ticks) a1=$(agent_ticks) c1=$(<"$work/c1") s1=$(steal_ticks) t1=$(date +%s.%N)
	echo "$res" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
label, hz, b, a, st, c0, c1, t0, t1 = sys.argv[1], float(sys.argv[2]), *map(float, sys.argv[3:10])
c, wall = c1 - c0, t1 - t0
r["label"] = label
r["cpu_pct"] = {  # % of one core over the whole command, populating included
    "agents": round(100 * a / hz / wall),
    "load_tool": round(100 * c / wall),
    "other": round(100 * max(0.0, b / hz - a / hz - c) / wall),
    "steal": round(100 * st / hz / wall),
}
counts = {}
for line in open(sys.argv[10]):
    f = line.strip().split(",")
    if len(f) > 2 and f[0].isdigit():
        counts[f[2]] = int(f[0])
if counts and r.get("ops"):
    # whole machine, populating included, like cpu_pct
    r["per_op"] = {"context_switches": round(counts.get("context-switches", 0) / r["ops"], 2),
                   "syscalls": round(counts.get("raw_syscalls:sys_enter", 0) / r["ops"], 2)}
print(json.dumps(r))' "$label" "$hz" "$((b1 - b0))" "$((a1 - a0))" "$((s1 - s0))" \
		"$c0" "$c1" "$t0" "$t1" "$work/perf.txt" >>"$OUT/results.jsonl"
	tail -1 "$OUT/results.jsonl" | python3 -c 'import json,sys; r=json.load(sys.stdin); l=r["latency_us"]; c=r["cpu_pct"]; print("   %.0f ops/s, p50 %.2fms p99 %.2fms, %d errors; CPU %% of a core: agents %d, load tool %d, other %d, stolen %d" % (r["ops_per_sec"], l["p50"]/1000, l["p99"]/1000, r["errors"], c["agents"], c["load_tool"], c["other"], c["steal"])); p=r.get("per_op"); p and print("   per op, whole machine: %.1f context switches, %.1f syscalls" % (p["context_switches"], p["syscalls"]))' >&2
}

# --- 1. meridian dev ---------------------------------------------------
if wanted dev-; then
wait_quiet
read -r dh dr dl < <(free_ports 3)
log "meridian dev on 127.0.0.1:$dh"
"$work/meridian" dev -node dev -data-dir "$work/dev" -http-addr "127.0.0.1:$dh" \
	-raft-addr "127.0.0.1:$dr" -lan-addr "127.0.0.1:$dl" -dns-addr 127.0.0.1:0 -log-level warn 2>"$OUT/logs/dev.log" &
pids+=($!)
wait_http "http://127.0.0.1:$dh/v1/ready" ready
record_rss meridian-dev "${pids[0]}"
bench dev-put "$work/meridian" bench kv -http-addr "127.0.0.1:$dh" -op put
bench dev-get "$work/meridian" bench kv -http-addr "127.0.0.1:$dh" -op get
stop_all
fi

# --- 2. three meridian servers ----------------------------------------
if wanted meridian-; then
wait_quiet
read -r h1 h2 h3 r1 r2 r3 l1 l2 l3 w1 w2 w3 < <(free_ports 12)
peers="s1=127.0.0.1:$r1,s2=127.0.0.1:$r2,s3=127.0.0.1:$r3"
log "meridian servers on 127.0.0.1:$h1,$h2,$h3"
for i in 1 2 3; do
	h=h$i r=r$i l=l$i w=w$i
	"$work/meridian" server -node "s$i" -data-dir "$work/s$i" -raft-addr "127.0.0.1:${!r}" \
		-http-addr "127.0.0.1:${!h}" -lan-addr "127.0.0.1:${!l}" -wan-addr "127.0.0.1:${!w}" -dns-addr 127.0.0.1:0 -join "127.0.0.1:$l1" \
		-peers "$peers" -log-level warn 2>"$OUT/logs/s$i.log" &
	pids+=($!)
done
for h in $h1 $h2 $h3; do wait_http "http://127.0.0.1:$h/v1/ready" ready; done
record_rss meridian-server "${pids[@]}"
# Which server leads which shard: leaders stay where the first election put them.
"$work/meridian" status -http-addr "127.0.0.1:$h1" >"$OUT/logs/meridian-status.txt" 2>&1 || true
maddrs="127.0.0.1:$h1,127.0.0.1:$h2,127.0.0.1:$h3"
for f in 4 1; do
	for op in put get mixed; do
		bench "meridian-f$f-$op" "$work/meridian" bench kv -http-addr "$maddrs" -op $op -folders $f
	done
done
# The same one-shard load with every call sent round robin instead of to
# the shard's leader (bench kv -route any): what leader routing buys.
for op in put get; do
	bench "meridian-f1-any-$op" "$work/meridian" bench kv -http-addr "$maddrs" -op $op -folders 1 -route any
done
# Calls coalesced into JSON-RPC batches by the client (bench kv -coalesce):
# at most COALESCE requests in flight per server and client.
for f in 1 4; do
	for op in put get mixed; do
		bench "meridian-f$f-co-$op" "$work/meridian" bench kv -http-addr "$maddrs" -op $op -folders $f -coalesce "$COALESCE"
	done
done
stop_all
fi

# --- 3. three etcd members ---------------------------------------------
if wanted etcd-; then
wait_quiet
read -r c1 c2 c3 p1 p2 p3 < <(free_ports 6)
cluster="e1=http://127.0.0.1:$p1,e2=http://127.0.0.1:$p2,e3=http://127.0.0.1:$p3"
log "etcd members on 127.0.0.1:$c1,$c2,$c3"
for i in 1 2 3; do
	c=c$i p=p$i
	etcd --name "e$i" --data-dir "$work/e$i" \
		--listen-client-urls "http://127.0.0.1:${!c}" --advertise-client-urls "http://127.0.0.1:${!c}" \
		--listen-peer-urls "http://127.0.0.1:${!p}" --initial-advertise-peer-urls "http://127.0.0.1:${!p}" \
		--initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token meridian-compare \
		--logger zap --log-level warn 2>"$OUT/logs/e$i.log" &
	pids+=($!)
done
for c in $c1 $c2 $c3; do wait_http "http://127.0.0.1:$c/health" '"health":"true"'; done
record_rss etcd "${pids[@]}"
eaddrs="127.0.0.1:$c1,127.0.0.1:$c2,127.0.0.1:$c3"
for op in put get mixed; do
	bench "etcd-$op" "$work/etcdbench" -endpoints "$eaddrs" -op $op
done
stop_all
fi

# --- the table ---------------------------------------------------------
{
	echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/^Mem:/ {print $2}') GiB"
	echo "# runs: $CLIENTS clients, $KEYS keys, $VALUE_SIZE-byte values, $DURATION each, mixed = $READ_RATIO gets"
	echo
	python3 "$root/integration/bench/summary.py" "$OUT"
} >"$OUT/summary.md"
cat "$OUT/summary.md"
log "results in $OUT"
