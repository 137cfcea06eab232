#!/usr/bin/env bash
# DNS interface throughput and latency with dnsperf, unattended.
#
#   bash integration/bench/dns/dnsperf.sh                 # a `meridian dev` node
#   TARGET=test bash integration/bench/dns/dnsperf.sh     # the edge/dns test server
#   TARGET=none ADDR=127.0.0.1:8600 DOMAIN=consul bash integration/bench/dns/dnsperf.sh
#                                                         # a server already running
#
# TARGET=dev (default) builds cmd/meridian, starts `meridian dev` with
# `-dns-addr`, and registers 10 passing instances of service web (nodes
# web-0..web-9, 10.0.0.1..10, ports 8000..8009) with `meridian rpc
# catalog.register`. TARGET=test builds the edge/dns test binary and runs
# TestServeForDNSPerf, which does the same in one process (a one-server
# cluster and the DNS interface reaching it in process, as on a dev node).
# TARGET=none measures ADDR as it is (its catalog must hold web, in
# DOMAIN): Consul's DNS interface, for instance, on the same machine.
#
# Then, for each query type (A, SRV): dnsperf for DURATION seconds (15)
# with CLIENTS clients (4), OUTSTANDING queries in flight (100), THREADS
# threads (1), at most MAX_QPS queries per second if set (for latency
# under a given load rather than at saturation), over UDP, with EDNS0
# unless EDNS=0 (without it a 10-record
# SRV answer does not fit 512 bytes and loses some additional records).
# It prints queries per second, average latency and its deviation, lost
# queries, and the CPU used during the run (in % of one core) by the DNS
# server (TARGET dev and test), by dnsperf, and by everything else
# ("other": well above 0 means other work on the machine disturbed the
# run), and the CPU the hypervisor stole for other guests ("stolen": the
# same), and writes dnsperf's output under OUT (default: a new
# /tmp/meridian-dnsperf-DATE).
set -euo pipefail

TARGET=${TARGET:-dev}
DURATION=${DURATION:-15}
CLIENTS=${CLIENTS:-4}
OUTSTANDING=${OUTSTANDING:-100}
THREADS=${THREADS:-1}
EDNS=${EDNS:-1}
DOMAIN=${DOMAIN:-meridian}
TYPES=${TYPES:-"A SRV"}
MAX_QPS=${MAX_QPS:-}

root=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d /tmp/meridian-dnsperf.XXXXXX)
OUT=${OUT:-/tmp/meridian-dnsperf-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

pid=
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '== %s\n' "$*" >&2; }

if ! command -v dnsperf >/dev/null; then
	log "installing dnsperf"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dnsperf >/dev/null
fi
command -v python3 >/dev/null || {
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
}

# free_ports N prints N distinct ports free on 127.0.0.1 in UDP and TCP,
# outside the kernel's ephemeral range (see ../free_ports.py).
free_ports() { python3 "$root/integration/bench/free_ports.py" "$1"; }

# answers_ok: one A query for web answered with NOERROR (dnsperf as a probe).
answers_ok() {
	printf 'web.service.%s A\n' "$DOMAIN" >"$work/probe"
	dnsperf -s "$host" -p "$port" -d "$work/probe" -n 1 -t 1 2>/dev/null | grep -q 'NOERROR 1 '
}

wait_answers() {
	for _ in $(seq 300); do
		answers_ok && return 0
		sleep 0.2
	done
	echo "dnsperf.sh: no NOERROR answer for web.service.$DOMAIN from $host:$port after 60s" >&2
	return 1
}

case $TARGET in
dev)
	read -r dns http raft lan < <(free_ports 4)
	host=127.0.0.1 port=$dns
	log "building meridian"
	(cd "$root" && go build -o "$work/meridian" ./cmd/meridian)
	log "starting meridian dev (DNS on $host:$port)"
	"$work/meridian" dev -node bench -data-dir "$work/data" -http-addr "127.0.0.1:$http" \
		-raft-addr "127.0.0.1:$raft" -lan-addr "127.0.0.1:$lan" -dns-addr "$host:$port" \
		-log-level warn >"$OUT/meridian.log" 2>&1 &
	pid=$!
	export MERIDIAN_HTTP_ADDR=127.0.0.1:$http
	for i in $(seq 0 9); do
		params=$(printf '{"node":"web-%d","address":"10.0.0.%d","services":[{"id":"web-1","name":"web","port":%d}],"checks":[{"id":"serfHealth","name":"serfHealth","status":"passing"},{"id":"svc","name":"svc","service_id":"web-1","status":"passing"}]}' "$i" "$((i + 1))" "$((8000 + i))")
		for _ in $(seq 300); do
			"$work/meridian" rpc catalog.register "$params" >/dev/null 2>&1 && break
			kill -0 "$pid" 2>/dev/null || { cat "$OUT/meridian.log" >&2; exit 1; }
			sleep 0.2
		done
	done
	;;
test)
	read -r port < <(free_ports 1)
	host=127.0.0.1
	log "building the edge/dns test binary"
	(cd "$root" && go test -c -o "$work/dns.test" ./edge/dns)
	log "starting TestServeForDNSPerf (DNS on $host:$port)"
	MERIDIAN_DNS_SERVE=$host:$port MERIDIAN_DNS_SERVE_FOR=1h "$work/dns.test" \
		-test.run '^TestServeForDNSPerf$' -test.v >"$OUT/server.log" 2>&1 &
	pid=$!
	;;
none)
	host=${ADDR%:*} port=${ADDR##*:}
	;;
*)
	echo "dnsperf.sh: TARGET is dev, test or none" >&2
	exit 2
	;;
esac
wait_answers

# CPU accounting in clock ticks: the machine's busy time, the server's,
# dnsperf's (this shell's finished children, from bash's `times`), and the
# time the hypervisor gave to other guests (steal).
hz=$(getconf CLK_TCK)
busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8}' /proc/stat; }
steal_ticks() { awk '/^cpu / {print $9}' /proc/stat; }
server_ticks() { [[ -n $pid ]] && awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null || echo 0; }
children_ticks() { # call it plainly: in $(...) it would time a subshell's children
	times >"$work/times"
	tail -1 "$work/times" | awk -v hz="$hz" '{
		split($1, u, /[ms]/); split($2, s, /[ms]/)
		printf "%d\n", (u[1]*60 + u[2] + s[1]*60 + s[2]) * hz }'
}

edns_flag=()
[[ $EDNS == 0 ]] || edns_flag=(-e)
[[ -z $MAX_QPS ]] || edns_flag+=(-Q "$MAX_QPS")
printf '%-5s %9s %8s %10s %6s %8s %8s %6s %7s\n' type qps avg_ms stddev_ms lost server% dnsperf% other% stolen% | tee "$OUT/summary.txt"
for t in $TYPES; do
	printf 'web.service.%s %s\n' "$DOMAIN" "$t" >"$work/queries-$t"
	children_ticks >"$work/c0"
	b0=$(busy_ticks) s0=$(server_ticks) c0=$(<"$work/c0") st0=$(steal_ticks) t0=$(date +%s.%N)
	dnsperf -s "$host" -p "$port" -d "$work/queries-$t" -l "$DURATION" -c "$CLIENTS" \
		-q "$OUTSTANDING" -T "$THREADS" "${edns_flag[@]}" >"$OUT/dnsperf-$t.txt" 2>&1
	children_ticks >"$work/c1"
	b1=$(busy_ticks) s1=$(server_ticks) c1=$(<"$work/c1") st1=$(steal_ticks) t1=$(date +%s.%N)
	qps=$(awk '/Queries per second:/ {printf "%.0f", $4}' "$OUT/dnsperf-$t.txt")
	avg=$(awk '/Average Latency/ {printf "%.3f", $4 * 1000}' "$OUT/dnsperf-$t.txt")
	sd=$(awk '/Latency StdDev/ {printf "%.3f", $4 * 1000}' "$OUT/dnsperf-$t.txt")
	lost=$(awk '/Queries lost:/ {print $3}' "$OUT/dnsperf-$t.txt")
	read -r server perf other stolen < <(awk -v b="$((b1 - b0))" -v s="$((s1 - s0))" -v c="$((c1 - c0))" \
		-v st="$((st1 - st0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN {
			w = (t1 - t0) * hz; o = b - s - c; if (o < 0) o = 0
			printf "%.0f %.0f %.0f %.0f\n", 100 * s / w, 100 * c / w, 100 * o / w, 100 * st / w }')
	printf '%-5s %9s %8s %10s %6s %8s %8s %6s %7s\n' "$t" "$qps" "$avg" "$sd" "$lost" "$server" "$perf" "$other" "$stolen" |
		tee -a "$OUT/summary.txt"
done
log "dnsperf output in $OUT"
