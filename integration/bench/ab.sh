#!/usr/bin/env bash
# A/B of two meridian binaries on this machine's loopback: for each round,
# each binary gets a fresh 3-server cluster and `bench kv` (its own) runs
# every OPS x COALESCE combination against it; the rounds interleave A and
# B so that drift in the machine's load hits both alike.
#
#   go build -o /tmp/a ./cmd/meridian    # (at the old commit)
#   go build -o /tmp/b ./cmd/meridian    # (at the new one)
#   bash integration/bench/ab.sh /tmp/a /tmp/b
#   ROUNDS=3 DURATION=8s OPS="put get" COALESCE="0 2" bash integration/bench/ab.sh /tmp/a /tmp/b
#
# Each line: binary, op, -coalesce, ops/s, errors, p50 (us), and the CPU
# of each server and of the load tool in % of one core, sampled from /proc
# over the middle of the run (the leader is the busy one), then the CPU the
# hypervisor stole meanwhile for other guests: a round with steal above a
# few % is slow for that alone, and says nothing of A against B. The load is
# CLIENTS (64) closed-loop clients over KEYS (10000) keys of one folder
# (one shard), 128-byte values. Nothing is left running on exit.
set -euo pipefail

[[ $# -eq 2 ]] || {
	echo "usage: $0 BINARY_A BINARY_B" >&2
	exit 2
}
A=$1 B=$2
here=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-8s}
OPS=${OPS:-put get}
COALESCE=${COALESCE:-0}
CLIENTS=${CLIENTS:-64}
KEYS=${KEYS:-10000}

pids=()
dir=
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
	[[ -z $dir ]] || rm -rf "$dir"
	dir=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ports() { python3 "$here/free_ports.py" "$1"; } # N free loopback ports
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
steal() { awk '/^cpu / {print $9}' /proc/stat; } # ticks the hypervisor gave other guests

run() { # binary label
	local bin=$1 label=$2
	dir=$(mktemp -d /tmp/meridian-ab.XXXXXX)
	read -r -a p <<<"$(ports 12)"
	local peers="s1=127.0.0.1:${p[3]},s2=127.0.0.1:${p[4]},s3=127.0.0.1:${p[5]}"
	local http=() i
	for i in 0 1 2; do
		"$bin" server -node "s$((i + 1))" -data-dir "$dir/s$i" \
			-raft-addr "127.0.0.1:${p[3 + i]}" -http-addr "127.0.0.1:${p[i]}" \
			-lan-addr "127.0.0.1:${p[6 + i]}" -wan-addr "127.0.0.1:${p[9 + i]}" -dns-addr "" \
			-join "127.0.0.1:${p[6]}" -peers "$peers" -log-level error 2>"$dir/s$i.log" &
		pids+=($!)
		http+=("127.0.0.1:${p[i]}")
	done
	for h in "${http[@]}"; do
		for _ in $(seq 300); do
			curl -fs "$h/v1/ready" 2>/dev/null | grep -q ready && break
			sleep 0.1
		done
	done
	sleep 2 # the shards elect their leaders
	local addrs
	addrs=$(IFS=,; echo "${http[*]}")
	# Sample the middle 40 % of the run (computed now: nothing may start
	# a slow interpreter while the load runs).
	local secs=${DURATION%s} warm span
	warm=$(awk -v s="$secs" 'BEGIN { print s * 0.3 }')
	span=$(awk -v s="$secs" 'BEGIN { print s * 0.4 }')
	for op in $OPS; do
		for co in $COALESCE; do
			"$bin" bench kv -http-addr "$addrs" -op "$op" -folders 1 -clients "$CLIENTS" \
				-keys "$KEYS" -value-size 128 -duration "$DURATION" -coalesce "$co" -json >"$dir/out.json" 2>"$dir/bench.log" &
			local bp=$! a=() b=() t0 t1
			sleep "$warm"
			for q in "${pids[@]}" "$bp"; do a+=("$(ticks "$q")"); done
			a+=("$(steal)")
			t0=$(date +%s.%N)
			sleep "$span"
			for q in "${pids[@]}" "$bp"; do b+=("$(ticks "$q")"); done
			b+=("$(steal)")
			t1=$(date +%s.%N)
			wait "$bp" || { cat "$dir/bench.log" >&2; exit 1; }
			python3 - "$label" "$op" "$co" "$dir/out.json" "$t0" "$t1" "${a[*]}" "${b[*]}" "$(getconf CLK_TCK)" <<'EOF'
import json, sys
label, op, co, path, t0, t1, a, b, hz = sys.argv[1:]
d = json.load(open(path))
dt = float(t1) - float(t0)
cpu = [round((int(y) - int(x)) * 100 / int(hz) / dt) for x, y in zip(a.split(), b.split())]
print(f"{label} {op} co={co} {round(d['ops_per_sec'])} ops/s, {d['errors']} errors, p50 {d['latency_us']['p50']} us, "
      f"cpu% s1 s2 s3 load stolen: {' '.join(map(str, cpu))}")
EOF
		done
	done
	cleanup
}

for _ in $(seq "$ROUNDS"); do
	run "$A" A
	run "$B" B
done
