//go:build linux

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
)

var floodDuration = flag.Duration("flood.duration", 0,
	"TestFloodEdge: how long the hostile clients run (0: the default 15 s); a soak: -flood.duration 10m -timeout 30m")

// The flood's sizes. The RSS bound of TestFloodEdge is derived from them.
const (
	floodDefault = 15 * time.Second

	floodGood      = 4   // well-formed clients: kv.put, kv.get, catalog.register, catalog.node
	floodHostile   = 6   // clients sending malformed and oversized requests, one at a time each
	floodSlowHead  = 64  // connections sending their headers a byte at a time, never finishing
	floodSlowBody  = 64  // connections that send a head announcing 4 MiB, then a byte at a time
	floodIdle      = 384 // connections that never send a byte
	floodKeepAlive = 128 // connections idle after one answered request

	// floodMaxBody is the edge's request body limit (rpc.DefaultServerConfig).
	floodMaxBody = 4 << 20
	// floodHeaderTimeout is the edge's http.Server.ReadHeaderTimeout
	// (edge/httpfront): a connection that has not sent a whole request
	// head by then is closed.
	floodHeaderTimeout = 10 * time.Second
	// floodBodyTimeout is edge/httpfront's default BodyTimeout: a JSON-RPC
	// body must arrive within it.
	floodBodyTimeout = 30 * time.Second
	// floodDropSlack: how much later than its timeout a connection may
	// be seen dropped, for the scheduling delays of both processes on a
	// machine the flood saturates. Without the timeouts the connections
	// would never be dropped.
	floodDropSlack = 10 * time.Second
)

// TestFloodEdge floods one edge (a real `meridian edge` process in front of
// three servers) with hostile input while well-formed clients keep using it:
//
//   - floodHostile clients send, one request at a time each: garbage bytes,
//     invalid and truncated JSON, JSON nested past the decoder's depth
//     limit and nested params, bodies over the 4 MiB limit (with
//     Content-Length, and chunked without it), 10,000-call batches, unknown
//     methods (some with 64 KiB names), params of the wrong type or with
//     unknown fields, keys over 1 KiB and values over 512 KiB, and
//     requests that are not JSON-RPC 2.0;
//   - request heads over 64 KiB;
//   - floodSlowHead connections trickle a request head a byte at a time
//     (slowloris) and floodSlowBody connections trickle a body after a
//     head that announces 4 MiB; each is reopened when the edge drops it;
//   - floodIdle connections never send a byte, floodKeepAlive sit idle
//     after one request; each is reopened when the edge drops it.
//
// It asserts that the well-formed clients see no error at all and read back
// what they wrote; that each hostile request gets the documented answer
// (docs/api.md: HTTP 413 with -32004 for a body over the limit; HTTP 200
// with -32700, -32600, -32601, -32602 or -32004 for a batch over 128 calls;
// 431 for a head over 64 KiB); that the edge drops connections that do not
// send a request head within its ReadHeaderTimeout, or a body within its
// BodyTimeout (seen in runs longer than 30 s); and that the edge's resident memory, sampled from
// /proc/PID/status through the run, stays under a bound derived from the
// flood's sizes (see rssBound) and does not keep growing (the last third of
// the run may not peak much above the first two thirds).
//
// The hostile phase lasts 15 s by default (30-40 s in all on a busy
// 2-core machine); -flood.duration runs it longer, as a soak:
//
//	go test ./integration -run TestFloodEdge -flood.duration 10m -timeout 30m -v
func TestFloodEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dur := *floodDuration
	if dur == 0 {
		dur = floodDefault
	}
	c := cluster.Start(t, cluster.Options{KVShards: 2})
	e := c.AddEdge("flood-edge")
	addr := c.EdgeHTTPAddr(e)
	pid := edgePid(t, addr)

	// Baseline: the edge warmed up by well-formed traffic alone.
	good := newGoodClients(c.EdgeClient(e))
	ctx := within(t, dur+2*time.Minute)
	good.run(ctx, 2*time.Second)
	if err := good.firstError(); err != nil {
		t.Fatalf("before the flood: %v", err)
	}
	base, err := readRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	bound := base + rssBound()
	t.Logf("edge pid %d: baseline RSS %s after %d well-formed calls; bound %s (baseline + %s)",
		pid, mib(base), good.calls.Load(), mib(bound), mib(rssBound()))

	fctx, stop := context.WithTimeout(ctx, dur)
	defer stop()
	mem := sampleRSS(fctx, pid)
	f := &flood{addr: addr, hc: hostileClient()}
	defer f.hc.CloseIdleConnections()
	var wg sync.WaitGroup
	for i := range floodHostile {
		wg.Go(func() { f.hostile(fctx, rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))) })
	}
	for range floodSlowHead {
		wg.Go(func() { f.hold(fctx, "slow head", slowHead) })
	}
	for range floodSlowBody {
		wg.Go(func() { f.hold(fctx, "slow body", slowBody) })
	}
	for range floodIdle {
		wg.Go(func() { f.hold(fctx, "idle", nil) })
	}
	for range floodKeepAlive {
		wg.Go(func() { f.hold(fctx, "keep-alive", keepAlive) })
	}
	began := time.Now()
	callsBefore := good.calls.Load()
	good.run(fctx, dur)
	wg.Wait()
	samples := mem.wait()
	took := time.Since(began)

	// The well-formed clients: no error at all, through the flood.
	if err := good.firstError(); err != nil {
		t.Errorf("a well-formed client failed during the flood (%d errors): %v", good.errs.Load(), err)
	}
	calls := good.calls.Load() - callsBefore
	if calls == 0 {
		t.Errorf("the well-formed clients completed no call during the flood")
	}
	t.Logf("well-formed clients: %d calls in %v during the flood, %d errors; slowest call %v",
		calls, took.Round(time.Millisecond), good.errs.Load(), time.Duration(good.slowest.Load()).Round(time.Millisecond))

	// The hostile requests: each got its documented answer.
	t.Logf("hostile: %s", f.summary())
	for _, p := range f.problemList() {
		t.Errorf("hostile request: %s", p)
	}
	if f.sent.Load() == 0 {
		t.Errorf("no hostile request completed")
	}

	// Connections that never finish a request head are dropped in time.
	t.Logf("held connections: %s", f.holdSummary())
	if max := f.longestDrop("slow head", "idle"); max > floodHeaderTimeout+floodDropSlack {
		t.Errorf("the edge held a connection without a complete request head for %v (ReadHeaderTimeout %v)", max, floodHeaderTimeout)
	}
	if max := f.longestDrop("slow body"); max > floodBodyTimeout+floodDropSlack {
		t.Errorf("the edge held a connection trickling its body for %v (BodyTimeout %v)", max, floodBodyTimeout)
	}

	// Memory: under the bound, and not growing.
	if len(samples) < 10 {
		t.Fatalf("only %d RSS samples", len(samples))
	}
	peak := slices.MaxFunc(samples, func(a, b rssSample) int { return int(a.rss - b.rss) })
	hwm, _ := readProcStatus(pid, "VmHWM:")
	early := slices.MaxFunc(samples[:len(samples)*2/3], func(a, b rssSample) int { return int(a.rss - b.rss) })
	late := slices.MaxFunc(samples[len(samples)*2/3:], func(a, b rssSample) int { return int(a.rss - b.rss) })
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	t.Logf("edge RSS: baseline %s, peak %s at +%v (kernel high-water mark %s), first 2/3 peak %s, last 1/3 peak %s, bound %s; %d samples; %d open fds at the end",
		mib(base), mib(peak.rss), peak.at.Sub(began).Round(time.Millisecond), mib(hwm), mib(early.rss), mib(late.rss), mib(bound), len(samples), len(fds))
	if peak.rss > bound {
		t.Errorf("edge RSS peaked at %s, over the bound %s (baseline %s)", mib(peak.rss), mib(bound), mib(base))
	}
	if late.rss > early.rss+floodGrowthSlack {
		t.Errorf("edge RSS keeps growing: the last third of the flood peaked at %s, the first two thirds at %s", mib(late.rss), mib(early.rss))
	}

	// After the flood the edge still answers at once.
	after := within(t, 30*time.Second)
	good.run(after, 500*time.Millisecond)
	if err := good.firstError(); err != nil {
		t.Errorf("after the flood: %v", err)
	}
}

// floodGrowthSlack is how much higher the last third of the flood may peak
// than the first two thirds: the GC's heap goal moves with the live heap
// at each cycle, so peaks wander by some tens of MiB without a leak.
const floodGrowthSlack = 64 << 20

// rssBound is how far over its baseline the edge's RSS may go during the
// flood. Each term is what the edge may hold at once by design:
//
//   - each hostile client has one request in flight: its body buffer (at
//     most 2x the 4 MiB limit as bytes.Buffer doubles while reading a
//     chunked body), the request the edge forwards (sliced from it, no
//     copy) and the answer, which for the requests of the flood is small:
//     about 8 MiB each; the Go GC lets the heap reach twice the live heap
//     (GOGC=100), so 16 MiB per hostile client;
//   - each held connection costs a goroutine, the http.Server's buffers
//     and what it sent: 64 KiB each is generous. A slow-body connection
//     announces 4 MiB but reserves nothing before the bytes arrive
//     (edge/httpfront hides the length from rpc.Server, which would
//     otherwise grow its buffer to it at once: 4 MiB pinned per
//     connection, 256 MiB for this flood);
//   - 64 MiB of slack for the runtime, the GC's timing and the well-formed
//     clients.
func rssBound() int64 {
	const mb = 1 << 20
	hostile := int64(floodHostile) * 16 * mb
	conns := int64(floodSlowHead+floodSlowBody+floodIdle+floodKeepAlive) * 64 << 10
	return hostile + conns + 64*mb
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// edgePid finds the edge process serving HTTP on addr from /proc.
func edgePid(t *testing.T, addr string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) < 2 || args[1] != "edge" {
			continue
		}
		for i := 2; i+1 < len(args); i++ {
			if args[i] == "-http-addr" && args[i+1] == addr {
				return pid
			}
		}
	}
	t.Fatalf("no edge process with -http-addr %s in /proc", addr)
	return 0
}

// readProcStatus reads a kB field of /proc/PID/status, in bytes.
func readProcStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func readRSS(pid int) (int64, error) { return readProcStatus(pid, "VmRSS:") }

type rssSample struct {
	at  time.Time
	rss int64
}

type rssSampler struct {
	done    chan struct{}
	samples []rssSample
}

// sampleRSS reads the RSS of pid every 50 ms until ctx ends.
func sampleRSS(ctx context.Context, pid int) *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, err := readRSS(pid); err == nil {
				s.samples = append(s.samples, rssSample{time.Now(), rss})
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) wait() []rssSample {
	<-s.done
	return s.samples
}

// goodClients are well-formed clients of one edge. Every call must
// succeed and read back what was written.
type goodClients struct {
	cl      *rpc.Client
	round   atomic.Int64
	calls   atomic.Int64
	errs    atomic.Int64
	slowest atomic.Int64 // ns

	mu    sync.Mutex
	first error
}

func newGoodClients(cl *rpc.Client) *goodClients { return &goodClients{cl: cl} }

// run runs floodGood clients for d (or until ctx ends) and waits for them.
func (g *goodClients) run(ctx context.Context, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	round := g.round.Add(1)
	var wg sync.WaitGroup
	for w := range floodGood {
		wg.Go(func() { g.client(ctx, round, w) })
	}
	wg.Wait()
}

func (g *goodClients) fail(err error) {
	g.errs.Add(1)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.first == nil {
		g.first = err
	}
}

func (g *goodClients) firstError() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.first
}

// call runs one call with its own deadline and records its time. A call
// cut by the end of the run (ctx) is not counted either way.
func (g *goodClients) call(ctx context.Context, what string, f func(ctx context.Context) error) bool {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	began := time.Now()
	err := f(cctx)
	took := time.Since(began)
	for {
		old := g.slowest.Load()
		if int64(took) <= old || g.slowest.CompareAndSwap(old, int64(took)) {
			break
		}
	}
	if err != nil {
		g.fail(fmt.Errorf("%s (after %v): %w", what, took.Round(time.Millisecond), err))
		return false
	}
	g.calls.Add(1)
	return true
}

func (g *goodClients) client(ctx context.Context, round int64, w int) {
	node := fmt.Sprintf("flood-good-%d", w)
	for n := 0; ctx.Err() == nil; n++ {
		key := fmt.Sprintf("flood/good/%d/%d/%06d", round, w, n)
		val := []byte(strings.Repeat(fmt.Sprintf("%s;", key), 1+n%64))
		ok := g.call(ctx, "kv.put "+key, func(ctx context.Context) error {
			res, err := g.cl.KVPut(ctx, &rpc.KVPutParams{Key: key, Value: val})
			if err == nil && !res.OK {
				err = errors.New("ok=false without cas")
			}
			return err
		})
		if !ok {
			continue
		}
		g.call(ctx, "kv.get "+key, func(ctx context.Context) error {
			res, err := g.cl.KVGet(ctx, &rpc.KVGetParams{Key: key})
			switch {
			case err != nil:
				return err
			case res.Entry == nil:
				return errors.New("the key just written is missing")
			case !bytes.Equal(res.Entry.Value, val):
				return fmt.Errorf("value %q, want %q", res.Entry.Value, val)
			}
			return nil
		})
		if n%8 != 0 {
			continue
		}
		svc := rpc.Service{ID: fmt.Sprintf("web-%d", n%4), Name: "flood-web", Port: 1000 + n, Tags: []string{key}}
		ok = g.call(ctx, "catalog.register "+node, func(ctx context.Context) error {
			var res rpc.OKResult
			err := g.cl.Call(ctx, rpc.MethodCatalogRegister, rpc.CatalogRegisterParams{
				Node: node, Address: "127.0.0.2", Services: []rpc.Service{svc}}, &res)
			if err == nil && !res.OK {
				err = errors.New("ok=false")
			}
			return err
		})
		if !ok {
			continue
		}
		g.call(ctx, "catalog.node "+node, func(ctx context.Context) error {
			var res rpc.CatalogNodeResult
			if err := g.cl.Call(ctx, rpc.MethodCatalogNode, rpc.CatalogNodeParams{Node: node}, &res); err != nil {
				return err
			}
			if res.Node == nil {
				return errors.New("the node just registered is missing")
			}
			for _, s := range res.Services {
				if s.ID == svc.ID {
					if s.Port != svc.Port || !slices.Equal(s.Tags, svc.Tags) {
						return fmt.Errorf("service %s: port %d tags %v, want %d %v", s.ID, s.Port, s.Tags, svc.Port, svc.Tags)
					}
					return nil
				}
			}
			return fmt.Errorf("service %s missing from %+v", svc.ID, res.Services)
		})
	}
}

// flood is the hostile side.
type flood struct {
	addr string
	hc   *http.Client
	sent atomic.Int64

	mu       sync.Mutex
	byCase   map[string]int
	problems []string
	nProblem int
	holds    map[string]*holdStats
}

type holdStats struct {
	opened, dropped int
	longest         time.Duration
	why             string // how the longest-lived one ended
}

func hostileClient() *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: floodHostile,
			DisableCompression:  true,
		},
	}
}

func (f *flood) record(name string, err error) {
	f.sent.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byCase == nil {
		f.byCase = map[string]int{}
	}
	f.byCase[name]++
	if err != nil {
		f.nProblem++
		if len(f.problems) < 20 {
			f.problems = append(f.problems, fmt.Sprintf("%s: %v", name, err))
		}
	}
}

func (f *flood) summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var parts []string
	for _, k := range sortedKeys(f.byCase) {
		parts = append(parts, fmt.Sprintf("%s %d", k, f.byCase[k]))
	}
	return fmt.Sprintf("%d requests, %d wrong answers: %s", f.sent.Load(), f.nProblem, strings.Join(parts, ", "))
}

func (f *flood) problemList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.problems)
	if f.nProblem > len(out) {
		out = append(out, fmt.Sprintf("... and %d more", f.nProblem-len(out)))
	}
	return out
}

// hostileCase is a request body and the answer it must get.
type hostileCase struct {
	name string
	body func(r *rand.Rand) []byte
	code int    // the JSON-RPC error code, with HTTP 200
	says string // the error message must contain this
	// batch: the answer is an array of errors, each with code.
	batch bool
}

const validRequest = `{"jsonrpc":"2.0","id":17,"method":"kv.put","params":{"key":"flood/hostile","value":"aGVsbG8="}}`

func call(method string, params string) []byte {
	return []byte(`{"jsonrpc":"2.0","id":"h","method":"` + method + `","params":` + params + `}`)
}

// nested returns depth '[' then depth ']'.
func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

var hostileCases = []hostileCase{
	{name: "garbage", code: rpc.CodeParseError, body: func(r *rand.Rand) []byte {
		b := make([]byte, 1+r.IntN(64<<10))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		b[0] = '\x00' // never valid JSON
		return b
	}},
	{name: "truncated", code: rpc.CodeParseError, body: func(r *rand.Rand) []byte {
		return []byte(validRequest[:1+r.IntN(len(validRequest)-1)])
	}},
	{name: "invalid JSON", code: rpc.CodeParseError, body: func(r *rand.Rand) []byte {
		bad := []string{
			`{"jsonrpc":"2.0","id":1,"method":"kv.get",}`,
			`{'jsonrpc':'2.0'}`,
			`{"jsonrpc":"2.0","id":1,"method":"kv.get","params":{"key":tru}}`,
			`{"jsonrpc":"2.0","id":NaN,"method":"kv.get"}`,
			`{"jsonrpc":"2.0"}{"jsonrpc":"2.0"}`,
			"{\"jsonrpc\":\"2.0\",\"method\":\"kv.get\",\"id\":\"\xff\xfe\x00\"",
			`[{"jsonrpc":"2.0","id":1,"method":"kv.get"},]`,
		}
		return []byte(bad[r.IntN(len(bad))])
	}},
	{name: "nested past the depth limit", code: rpc.CodeParseError, body: func(r *rand.Rand) []byte {
		return []byte(nested(10_001 + r.IntN(200_000)))
	}},
	{name: "nested params", code: rpc.CodeInvalidParams, says: `"key"`, body: func(r *rand.Rand) []byte {
		return call("kv.get", `{"key":`+nested(1+r.IntN(9_000))+`}`)
	}},
	{name: "nested batch element", code: rpc.CodeInvalidRequest, batch: true, body: func(r *rand.Rand) []byte {
		return []byte(nested(2 + r.IntN(9_000)))
	}},
	{name: "10k batch", code: rpc.CodeTooLarge, says: "batch", body: func(r *rand.Rand) []byte {
		var b bytes.Buffer
		b.WriteByte('[')
		for i := range 10_000 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"kv.get","params":{"key":"flood/batch/%d"}}`, i, i)
		}
		b.WriteByte(']')
		return b.Bytes()
	}},
	{name: "empty batch", code: rpc.CodeInvalidRequest, body: func(*rand.Rand) []byte { return []byte(" [ ] ") }},
	{name: "not a request", code: rpc.CodeInvalidRequest, body: func(r *rand.Rand) []byte {
		bad := []string{
			`42`, `"kv.get"`, `null`, `true`,
			`{"jsonrpc":"1.0","id":1,"method":"kv.get"}`,
			`{"id":1,"method":"kv.get"}`,
			`{"jsonrpc":"2.0","id":1,"method":7}`,
			`{"jsonrpc":"2.0","id":1}`,
			`{"jsonrpc":"2.0","id":{"a":1},"method":"kv.get"}`,
			`{"jsonrpc":"2.0","id":[1],"method":"kv.get"}`,
		}
		return []byte(bad[r.IntN(len(bad))])
	}},
	{name: "unknown method", code: rpc.CodeMethodNotFound, says: "flood.no_such_method", body: func(r *rand.Rand) []byte {
		return call("flood.no_such_method"+strconv.Itoa(r.IntN(1000)), `{}`)
	}},
	{name: "long unknown method", code: rpc.CodeMethodNotFound, says: "xxxxxxxx", body: func(r *rand.Rand) []byte {
		return call(strings.Repeat("x", 1+r.IntN(64<<10)), `{"key":"a"}`)
	}},
	{name: "wrong param type", code: rpc.CodeInvalidParams, body: func(r *rand.Rand) []byte {
		bad := [][2]string{
			{"kv.get", `{"key":12}`},
			{"kv.get", `{"key":"a","index":"soon"}`},
			{"kv.get", `{"key":"a","wait":"soon"}`},
			{"kv.put", `{"key":"flood/x","value":"not base64!"}`},
			{"kv.put", `{"key":"flood/x","value":"YQ==","flags":-1}`},
			{"kv.put", `{"key":"flood/x","value":"YQ==","cas":"x"}`},
			{"kv.list", `{"prefix":["a"]}`},
			{"kv.txn", `{"ops":"all of them"}`},
			{"kv.txn", `{"ops":[{"verb":1,"key":"a"}]}`},
			{"catalog.register", `{"node":["a"]}`},
			{"catalog.register", `{"node":"n","services":[{"name":"s","port":"80"}]}`},
			{"catalog.node", `{"node":{}}`},
			{"health.service", `{"name":"web","passing_only":"yes"}`},
			{"status.leader", `[1,2,3]`},
			{"kv.get", `"key"`},
		}
		c := bad[r.IntN(len(bad))]
		return call(c[0], c[1])
	}},
	{name: "unknown param", code: rpc.CodeInvalidParams, says: "unknown field", body: func(r *rand.Rand) []byte {
		return call("kv.get", `{"key":"flood/x","bogus_`+strconv.Itoa(r.IntN(100))+`":true}`)
	}},
	{name: "huge head"}, // see hugeHead
	{name: "oversize key", code: rpc.CodeInvalidParams, says: `"key"`, body: func(r *rand.Rand) []byte {
		key := "flood/" + strings.Repeat("k", 1025+r.IntN(2<<20))
		return call("kv.put", `{"key":"`+key+`","value":"YQ=="}`)
	}},
	{name: "oversize value", code: rpc.CodeInvalidParams, says: `"value"`, body: func(r *rand.Rand) []byte {
		// 512 KiB is the limit; up to 3 MiB (4 MiB in base64) still fits
		// in a body.
		v := make([]byte, 512<<10+1+r.IntN(2<<20))
		p, _ := json.Marshal(rpc.KVPutParams{Key: "flood/big", Value: v})
		return call("kv.put", string(p))
	}},
}

// hostile sends hostile requests until ctx ends, one at a time.
func (f *flood) hostile(ctx context.Context, r *rand.Rand) {
	for ctx.Err() == nil {
		switch k := r.IntN(len(hostileCases) + 2); {
		case k < len(hostileCases) && hostileCases[k].name == "huge head":
			err := f.hugeHead(ctx, r)
			if ctx.Err() == nil {
				f.record("huge head", err)
			}
		case k < len(hostileCases):
			hc := hostileCases[k]
			err := f.post(ctx, hc, hc.body(r))
			if ctx.Err() == nil {
				f.record(hc.name, err)
			}
		case k == len(hostileCases):
			err := f.tooLarge(ctx, false, r)
			if ctx.Err() == nil {
				f.record("over 4 MiB, Content-Length", err)
			}
		default:
			err := f.tooLarge(ctx, true, r)
			if ctx.Err() == nil {
				f.record("over 4 MiB, chunked", err)
			}
		}
	}
}

// post sends body and checks the answer against hc.
func (f *flood) post(ctx context.Context, hc hostileCase, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+f.addr+"/rpc", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s: %.200s", resp.Status, answer)
	}
	if hc.batch {
		var all []json.RawMessage
		if err := json.Unmarshal(answer, &all); err != nil || len(all) == 0 {
			return fmt.Errorf("want a batch answer, got %.200s", answer)
		}
		for _, a := range all {
			if err := checkRPCError(a, hc.code, hc.says); err != nil {
				return err
			}
		}
		return nil
	}
	return checkRPCError(answer, hc.code, hc.says)
}

// checkRPCError checks that answer is one JSON-RPC 2.0 error response with
// code, whose message contains says, and, for a parse error, id null.
func checkRPCError(answer []byte, code int, says string) error {
	var a struct {
		JSONRPC string          `json:"jsonrpc"`
		Error   *rpc.Error      `json:"error"`
		Result  json.RawMessage `json:"result"`
		ID      json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		return fmt.Errorf("answer is not a JSON-RPC response (%v): %.200s", err, answer)
	}
	switch {
	case a.JSONRPC != "2.0" || a.ID == nil:
		return fmt.Errorf("not a JSON-RPC 2.0 response: %.200s", answer)
	case a.Error == nil:
		return fmt.Errorf("want error %d, got a result: %.200s", code, answer)
	case a.Error.Code != code:
		return fmt.Errorf("want error %d, got %d %q", code, a.Error.Code, trim(a.Error.Message))
	case !strings.Contains(a.Error.Message, says):
		return fmt.Errorf("error %d %q does not mention %q", code, trim(a.Error.Message), says)
	case code == rpc.CodeInvalidParams && !strings.Contains(a.Error.Message, "field") && !strings.Contains(a.Error.Message, "params must be"):
		return fmt.Errorf("invalid params error names no field: %q", trim(a.Error.Message))
	case code == rpc.CodeParseError && string(a.ID) != "null":
		return fmt.Errorf("parse error with id %s, want null", a.ID)
	}
	return nil
}

func trim(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// hugeHead sends a request whose head is over the edge's 64 KiB limit
// (net/http reads up to 4 KiB past MaxHeaderBytes): the answer is HTTP
// 431. The head is sent whole at once and fits in the socket buffers, so
// the edge's answer is not lost to a write failing on our side.
func (f *flood) hugeHead(ctx context.Context, r *rand.Rand) error {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", f.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	head := "POST /rpc HTTP/1.1\r\nHost: " + f.addr + "\r\nX-Flood: " + strings.Repeat("h", 72<<10+r.IntN(8<<10)) + "\r\n\r\n"
	var wg sync.WaitGroup
	defer wg.Wait()
	defer conn.Close()
	wg.Go(func() { io.WriteString(conn, head) })
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		return fmt.Errorf("HTTP %s, want 431", resp.Status)
	}
	return nil
}

// tooLarge sends a body over the limit on a connection of its own: with a
// Content-Length (the edge must refuse it from the header alone: only the
// first 64 KiB are sent) or chunked (the edge must stop reading past
// 4 MiB). Either way the answer is HTTP 413 with error -32004.
func (f *flood) tooLarge(ctx context.Context, chunked bool, r *rand.Rand) error {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", f.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	head := "POST /rpc HTTP/1.1\r\nHost: " + f.addr + "\r\nContent-Type: application/json\r\n"
	var send int
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
		send = floodMaxBody + 1 + r.IntN(1<<20)
	} else {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", floodMaxBody+1+r.IntN(1<<30))
		send = 64 << 10
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer conn.Close() // unblocks the writer
	wg.Go(func() {
		w := bufio.NewWriterSize(conn, 64<<10)
		w.WriteString(head)
		chunk := bytes.Repeat([]byte(`{"jsonrpc":"2.0","method":"kv.put","params":{"key":"a"}},`), 1000)
		for sent := 0; sent < send; sent += len(chunk) {
			if chunked {
				fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk)
			} else {
				w.Write(chunk)
			}
		}
		w.Flush() // errors are expected: the edge stops reading
	})
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reading the answer body: %w", err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		return fmt.Errorf("HTTP %s, want 413: %.200s", resp.Status, answer)
	}
	return checkRPCError(answer, rpc.CodeTooLarge, "exceeds")
}

// A held connection's behaviour once open: it returns when the edge drops
// the connection or ctx ends. nil: send nothing.
type holdFunc func(ctx context.Context, conn net.Conn, addr string)

// slowHead sends a request head a byte at a time, never finishing it.
func slowHead(ctx context.Context, conn net.Conn, addr string) {
	head := "POST /rpc HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: " + strings.Repeat("s", 1<<20)
	trickle(ctx, conn, head)
}

// slowBody sends a head announcing 4 MiB, then the body a byte at a time.
func slowBody(ctx context.Context, conn net.Conn, addr string) {
	head := fmt.Sprintf("POST /rpc HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", addr, floodMaxBody)
	if _, err := conn.Write([]byte(head)); err != nil {
		return
	}
	trickle(ctx, conn, `{"jsonrpc":"2.0","id":1,"method":"kv.get","params":{"key":"`+strings.Repeat("s", floodMaxBody))
}

// trickle writes s a byte every 100 ms until a write fails or ctx ends.
func trickle(ctx context.Context, conn net.Conn, s string) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(s); i++ {
		if _, err := conn.Write([]byte{s[i]}); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// keepAlive sends one request and leaves the connection open; hold reads
// (and discards) the answer.
func keepAlive(_ context.Context, conn net.Conn, addr string) {
	body := call("flood.idle", `{}`)
	fmt.Fprintf(conn, "POST /rpc HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
}

// hold keeps a connection of kind open, writing to it with fn (nil: not a
// byte) and reading whatever comes back, reopening it each time the edge
// drops it; it records how long each lasted.
func (f *flood) hold(ctx context.Context, kind string, fn holdFunc) {
	for ctx.Err() == nil {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", f.addr)
		if err != nil {
			if ctx.Err() == nil {
				f.record(kind+" dial", err)
			}
			return
		}
		opened := time.Now()
		f.noteHold(kind, 0, false, "")
		done := make(chan struct{})
		var got bytes.Buffer
		var readErr error
		go func() {
			defer close(done)
			// The edge dropping the connection ends this read (EOF, or a
			// reset); an error answer (408, 400) is followed by a close.
			_, readErr = io.Copy(&got, io.LimitReader(conn, 1<<20))
		}()
		var wg sync.WaitGroup
		if fn != nil {
			wg.Go(func() { fn(ctx, conn, f.addr) })
		}
		select {
		case <-done:
			why := fmt.Sprintf("%.80q, %v", got.Bytes(), readErr)
			f.noteHold(kind, time.Since(opened), true, why)
		case <-ctx.Done():
		}
		conn.Close() // ends fn's writes and the read
		<-done
		wg.Wait()
	}
}

func (f *flood) noteHold(kind string, lasted time.Duration, dropped bool, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.holds == nil {
		f.holds = map[string]*holdStats{}
	}
	h := f.holds[kind]
	if h == nil {
		h = &holdStats{}
		f.holds[kind] = h
	}
	if !dropped {
		h.opened++
		return
	}
	h.dropped++
	if lasted > h.longest {
		h.longest, h.why = lasted, why
	}
}

func (f *flood) longestDrop(kinds ...string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var d time.Duration
	for _, k := range kinds {
		if h := f.holds[k]; h != nil {
			d = max(d, h.longest)
		}
	}
	return d
}

func (f *flood) holdSummary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var parts []string
	for _, k := range sortedKeys(f.holds) {
		h := f.holds[k]
		s := fmt.Sprintf("%s: %d opened, %d dropped by the edge", k, h.opened, h.dropped)
		if h.dropped > 0 {
			s += fmt.Sprintf(" (longest %v, then read %s)", h.longest.Round(time.Millisecond), h.why)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
