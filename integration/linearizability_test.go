package integration

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"meridian/integration/cluster"
	"meridian/integration/linearize"
	"meridian/rpc"
	"meridian/server/shard"
)

var (
	linDuration = flag.Duration("lin.duration", 0, "TestLinearizability: inject faults for this long per seed (0: the short run, each kind of fault once)")
	linSeeds    = flag.Int("lin.seeds", 1, "TestLinearizability: how many seeds to run, one cluster each")
	linSeed     = flag.Uint64("lin.seed", 0, "TestLinearizability: the first seed (0: from the clock); a failure names its seed")
	linServers  = flag.Int("lin.servers", 3, "TestLinearizability: servers per cluster (3 or 5)")
	linClients  = flag.Int("lin.clients", 8, "TestLinearizability: concurrent clients")
	linSave     = flag.Bool("lin.save", false, "TestLinearizability: save the history and its visualization even when linearizable")
)

// Timing of the workload: a call's own deadline is above the server's
// timeout, so a server that answers says so; a paused server does not, and
// the call's outcome is unknown.
const (
	linServerTimeout = 2 * time.Second
	linCallTimeout   = 3 * time.Second
	linCheckTimeout  = 3 * time.Minute
	linFaultWait     = 60 * time.Second // bound of every wait of the nemesis
	linProgress      = 30               // operations answered after a fault before it heals
)

// TestLinearizability runs concurrent clients (kv.get, kv.put, kv.put with
// cas, kv.delete and kv.txn on a few keys) against real servers while a
// nemesis kills, pauses and restarts servers and, where the machine allows
// (root, nft, cgroup2; see partitioner), cuts the Raft traffic between
// them. It records every call and checks the history for linearizability
// with porcupine (package linearize). A history that is not linearizable is
// saved, with porcupine's HTML visualization and the faults as annotations,
// to a file in os.TempDir() named after the test and the seed; the test
// prints the paths.
//
// The short run (part of go test ./...) injects each kind of fault once:
//
//	go test ./integration -run TestLinearizability -v
//
// The long run injects random faults for -lin.duration per seed, for
// -lin.seeds seeds (a fresh cluster each); -lin.seed replays a seed's
// choices (the faults and the workload, not the timing):
//
//	go test ./integration -run TestLinearizability -v -timeout 0 \
//		-lin.duration=10m -lin.seeds=20 [-lin.seed=N] [-lin.servers=5] [-lin.clients=16] [-lin.save]
func TestLinearizability(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: real servers under faults")
	}
	first := *linSeed
	if first == 0 {
		first = uint64(time.Now().UnixNano()%1_000_000) + 1
	}
	for k := range *linSeeds {
		seed := first + uint64(k)
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) { linearizabilityRun(t, seed) })
	}
}

func linearizabilityRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	t.Logf("seed %d (replay with -lin.seed=%d -lin.seeds=1)", seed, seed)
	part, why := newPartitioner(t, *linServers)
	if part == nil {
		t.Run("partitions", func(t *testing.T) { t.Skip(why) })
	}
	c := cluster.Start(t, cluster.Options{Servers: *linServers, KVShards: 4})
	if part != nil {
		part.attach(c)
	}

	rec := linearize.NewRecorder()
	w := newLinWorkload(c, rec, seed)
	ctx, stop := context.WithCancel(t.Context())
	w.start(ctx, *linClients)
	stopped := false
	stopWorkload := func() {
		if !stopped {
			stopped = true
			stop()
			w.wg.Wait()
		}
	}
	defer stopWorkload()

	n := &linNemesis{t: t, c: c, w: w, rec: rec, rng: rng, part: part}
	began := time.Now()
	n.run(*linDuration)
	n.progress("after the last fault")
	stopWorkload()
	t.Logf("workload: %v in %v; faults: %s", rec.Stats(), time.Since(began).Round(time.Millisecond), n.summary())
	t.Logf("keys: %d generations over %d slots; failed calls: %s", w.generations(), len(w.slots), w.errorClasses())
	if u := w.unexpectedErrors(); u != "" {
		t.Logf("NOTE: errors outside the documented classes (recorded as unknown outcomes): %s", u)
	}

	res := rec.Check(linCheckTimeout)
	t.Logf("porcupine: %v in %v", res.Verdict, res.Took.Round(time.Millisecond))
	save := func(why string) {
		html := linearize.FileName(t.Name(), int64(seed), "html")
		js := linearize.FileName(t.Name(), int64(seed), "json")
		if err := res.Visualize(html); err != nil {
			t.Errorf("saving the visualization: %v", err)
		}
		if err := rec.SaveJSON(js); err != nil {
			t.Errorf("saving the history: %v", err)
		}
		t.Logf("%s: history visualized in %s (open in a browser), as JSON in %s", why, html, js)
	}
	switch res.Verdict {
	case porcupine.Illegal:
		save("NOT LINEARIZABLE")
		t.Errorf("the history is not linearizable (seed %d); faults, in order: %s", seed, strings.Join(n.log, "; "))
	case porcupine.Unknown:
		save("undecided")
		t.Errorf("porcupine could not decide within %v (seed %d): the history is too large or too concurrent for the checker; shorten -lin.duration or lower -lin.clients", linCheckTimeout, seed)
	default:
		if *linSave {
			save("linearizable")
		}
	}
	if err := w.indexes.Err(); err != nil {
		t.Errorf("a value was seen with two modify indexes (a write applied twice?): %v", err)
	}
}

// linWorkload is the clients' side: keys, per-server clients, counters.
type linWorkload struct {
	c       *cluster.Cluster
	rec     *linearize.Recorder
	indexes linearize.Indexes
	seed    uint64
	slots   []*linSlot // slots[0] is the transactions' folder
	wg      sync.WaitGroup

	answered atomic.Int64 // calls the servers answered (any kind)

	mu         sync.Mutex
	unexpected map[string]int
	errClasses map[string]int
}

func newLinWorkload(c *cluster.Cluster, rec *linearize.Recorder, seed uint64) *linWorkload {
	w := &linWorkload{c: c, rec: rec, seed: seed, unexpected: map[string]int{}, errClasses: map[string]int{}}
	// One folder per slot spreads them over the shards.
	w.slots = append(w.slots, &linSlot{folder: "lintxn", keys: 3, maxOps: linTxnOps})
	for i := range 6 {
		w.slots = append(w.slots, &linSlot{folder: fmt.Sprintf("lin%d", i), keys: 1, maxOps: linKeyOps})
	}
	return w
}

// Bounds of one generation of a slot's keys. The checker's work grows
// exponentially with the operations of one key (or one transaction group)
// that are in flight together, and an operation with an unknown outcome
// stays in flight to the end; so the clients move to fresh keys (as
// Jepsen's independent keys do) after so many operations or unknowns.
const (
	linKeyOps      = 150
	linTxnOps      = 200
	linMaxUnknowns = 6
)

// linSlot is a key (or, for transactions, three keys of one folder) that
// the clients replace with fresh ones now and then: generation g of slot
// "lin3" is the key "lin3/g<g>"; of the transactions' slot, the keys
// "lintxn/g<g>/a", ".../b", ".../c" (one folder: one shard).
type linSlot struct {
	folder   string
	keys     int
	maxOps   int64
	gen      atomic.Int64
	ops      atomic.Int64
	unknowns atomic.Int64
}

// current returns the slot's keys now and their generation.
func (s *linSlot) current() ([]string, int64) {
	g := s.gen.Load()
	if s.keys == 1 {
		return []string{fmt.Sprintf("%s/g%d", s.folder, g)}, g
	}
	var out []string
	for i := range s.keys {
		out = append(out, fmt.Sprintf("%s/g%d/%c", s.folder, g, 'a'+i))
	}
	return out, g
}

// done counts an operation on generation g and moves the slot on when g
// has had its share.
func (s *linSlot) done(g int64, unknown bool) {
	if s.gen.Load() != g {
		return
	}
	over := s.ops.Add(1) >= s.maxOps
	if unknown {
		over = over || s.unknowns.Add(1) >= linMaxUnknowns
	}
	if over && s.gen.CompareAndSwap(g, g+1) {
		s.ops.Store(0)
		s.unknowns.Store(0)
	}
}

// shards lists the KV shards the workload uses.
func (w *linWorkload) shards() []shard.ID {
	var ids []shard.ID
	for _, s := range w.slots {
		if id := shard.ForKey(s.folder+"/x", w.c.KVShards()); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// generations counts the keys (or transaction groups) used.
func (w *linWorkload) generations() int64 {
	var n int64
	for _, s := range w.slots {
		n += s.gen.Load() + 1
	}
	return n
}

func (w *linWorkload) start(ctx context.Context, clients int) {
	for i := range clients {
		rng := rand.New(rand.NewPCG(w.seed, uint64(i)+1))
		w.wg.Go(func() { w.client(ctx, i, rng) })
	}
}

// seen is what one client last learnt of a key: its value and modify
// index, from which its next cas is built.
type seen struct {
	v   linearize.Value
	idx uint64
}

// client runs operations one after another until ctx ends.
func (w *linWorkload) client(ctx context.Context, n int, rng *rand.Rand) {
	id := w.rec.NewClient()
	last := map[string]seen{}
	for seq := 0; ctx.Err() == nil; seq++ {
		server := rng.IntN(w.c.N())
		value := fmt.Sprintf("c%d-%d", n, seq) // never written before
		var in linearize.Input
		var do func(ctx context.Context, cl *rpc.Client) (linearize.Output, error)
		var slot *linSlot
		var gen int64
		if r := rng.IntN(100); r < 25 {
			// The transactions' keys: a kv.txn, or a single-key
			// operation on one of them.
			slot = w.slots[0]
			var keys []string
			keys, gen = slot.current()
			if r < 15 {
				in, do = w.txnOp(rng, last, keys, value)
			} else {
				in, do = w.keyOp(rng, last, keys[rng.IntN(len(keys))], value)
			}
		} else {
			slot = w.slots[1+rng.IntN(len(w.slots)-1)]
			var keys []string
			keys, gen = slot.current()
			in, do = w.keyOp(rng, last, keys[0], value)
		}
		call := w.rec.Begin(id, in, w.c.Node(server))
		cctx, cancel := context.WithTimeout(ctx, linCallTimeout)
		out, err := do(cctx, w.c.Client(server))
		cancel()
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				out = linearize.Output{Outcome: linearize.Unknown}
			} else {
				out = linearize.Output{Outcome: w.classify(err)}
				w.countErr(in.ReadOnly(), err)
			}
		} else {
			w.answered.Add(1)
		}
		call.End(out)
		slot.done(gen, out.Outcome == linearize.Unknown && !in.ReadOnly())
		if out.Outcome == linearize.Unknown {
			id = w.rec.NewClient() // that call stays open forever
			for _, k := range in.Keys() {
				delete(last, k) // what it did is unknown
			}
		}
	}
}

// classify reads a failed call's error: NotApplied only when the error
// says the operation cannot have taken effect.
func (w *linWorkload) classify(err error) linearize.Outcome {
	if re, ok := errors.AsType[*rpc.Error](err); ok {
		switch re.Code {
		case rpc.CodeNoLeader:
			return linearize.NotApplied
		case rpc.CodeTimeout, rpc.CodeUnavailable:
			return linearize.Unknown
		}
		w.noteUnexpected(fmt.Sprintf("rpc error %d", re.Code))
		return linearize.Unknown
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return linearize.NotApplied // the request never left
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, rpc.ErrUnavailable):
		return linearize.Unknown
	}
	w.noteUnexpected(err.Error())
	return linearize.Unknown
}

// countErr counts failed calls by kind (read or write) and error class.
func (w *linWorkload) countErr(read bool, err error) {
	what := "write "
	if read {
		what = "read "
	}
	switch re, ok := errors.AsType[*rpc.Error](err); {
	case ok:
		what += fmt.Sprintf("rpc error %d", re.Code)
	case errors.Is(err, syscall.ECONNREFUSED):
		what += "connection refused"
	case errors.Is(err, context.DeadlineExceeded):
		what += "client deadline"
	case errors.Is(err, rpc.ErrUnavailable):
		what += "connection lost"
	default:
		what += "other"
	}
	w.mu.Lock()
	w.errClasses[what]++
	w.mu.Unlock()
}

func (w *linWorkload) errorClasses() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []string
	for what, n := range w.errClasses {
		parts = append(parts, fmt.Sprintf("%s: %d", what, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func (w *linWorkload) noteUnexpected(what string) {
	if len(what) > 120 {
		what = what[:120]
	}
	w.mu.Lock()
	w.unexpected[what]++
	w.mu.Unlock()
}

func (w *linWorkload) unexpectedErrors() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []string
	for what, n := range w.unexpected {
		parts = append(parts, fmt.Sprintf("%d× %s", n, what))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// observe records an entry seen in an answer; nil means absent.
func (w *linWorkload) observe(last map[string]seen, key string, e *rpc.KVEntry) linearize.Value {
	if e == nil {
		last[key] = seen{v: linearize.Absent}
		return linearize.Absent
	}
	v := linearize.Present(string(e.Value))
	w.indexes.Observe(key, v.Data, e.ModifyIndex)
	last[key] = seen{v: v, idx: e.ModifyIndex}
	return v
}

// casOf returns the cas index and expected value for key from what the
// client last saw (absent or never seen: cas 0, "only if absent").
func casOf(last map[string]seen, key string) (uint64, linearize.Value) {
	s, ok := last[key]
	if !ok || !s.v.Present {
		return 0, linearize.Absent
	}
	return s.idx, s.v
}

var (
	linWrite = rpc.WriteOptions{Timeout: rpc.Duration(linServerTimeout)}
	linRead  = rpc.ReadOptions{Consistency: rpc.ConsistencyDefault, Timeout: rpc.Duration(linServerTimeout)}
)

// keyOp builds a single-key operation: get, put, cas or delete.
func (w *linWorkload) keyOp(rng *rand.Rand, last map[string]seen, key, value string) (linearize.Input, func(context.Context, *rpc.Client) (linearize.Output, error)) {
	done := func(ok bool, reads ...linearize.Value) linearize.Output {
		return linearize.Output{Outcome: linearize.Done, OK: ok, Reads: reads}
	}
	switch r := rng.IntN(100); {
	case r < 45:
		return linearize.Get(key), func(ctx context.Context, cl *rpc.Client) (linearize.Output, error) {
			res, err := cl.KVGet(ctx, &rpc.KVGetParams{Key: key, ReadOptions: linRead})
			if err != nil {
				return linearize.Output{}, err
			}
			return done(true, w.observe(last, key, res.Entry)), nil
		}
	case r < 65:
		return linearize.Put(key, value), func(ctx context.Context, cl *rpc.Client) (linearize.Output, error) {
			res, err := cl.KVPut(ctx, &rpc.KVPutParams{Key: key, Value: []byte(value), WriteOptions: linWrite})
			if err != nil {
				return linearize.Output{}, err
			}
			if res.OK {
				w.observe(last, key, &rpc.KVEntry{Value: []byte(value), ModifyIndex: res.Index})
			}
			return done(res.OK), nil
		}
	case r < 93:
		idx, expect := casOf(last, key)
		return linearize.CompareAndSet(key, expect, value), func(ctx context.Context, cl *rpc.Client) (linearize.Output, error) {
			res, err := cl.KVPut(ctx, &rpc.KVPutParams{Key: key, Value: []byte(value), CAS: &idx, WriteOptions: linWrite})
			if err != nil {
				return linearize.Output{}, err
			}
			if res.OK {
				w.observe(last, key, &rpc.KVEntry{Value: []byte(value), ModifyIndex: res.Index})
			} else {
				delete(last, key) // stale: read it again before the next cas
			}
			return done(res.OK), nil
		}
	default:
		return linearize.Delete(key), func(ctx context.Context, cl *rpc.Client) (linearize.Output, error) {
			res, err := cl.KVDelete(ctx, &rpc.KVDeleteParams{Key: key, WriteOptions: linWrite})
			if err != nil {
				return linearize.Output{}, err
			}
			if res.OK {
				w.observe(last, key, nil)
			}
			return done(res.OK), nil
		}
	}
}

// txnOp builds a kv.txn on the transaction keys: read them all, write two
// of them, or cas one (from what the client last saw) while writing
// another and reading the third.
func (w *linWorkload) txnOp(rng *rand.Rand, last map[string]seen, all []string, value string) (linearize.Input, func(context.Context, *rpc.Client) (linearize.Output, error)) {
	keys := slices.Clone(all)
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	var steps []linearize.Step
	var ops []rpc.TxnOp
	switch rng.IntN(3) {
	case 0:
		for _, k := range all {
			steps = append(steps, linearize.Step{Verb: linearize.Read, Key: k})
			ops = append(ops, rpc.TxnOp{Verb: rpc.TxnGet, Key: k})
		}
	case 1:
		for i, k := range keys[:2] {
			v := value + "-" + strconv.Itoa(i)
			steps = append(steps, linearize.Step{Verb: linearize.Write, Key: k, Value: linearize.Present(v)})
			ops = append(ops, rpc.TxnOp{Verb: rpc.TxnSet, Key: k, Value: []byte(v)})
		}
	default:
		idx, expect := casOf(last, keys[0])
		v0, v1 := value+"-0", value+"-1"
		steps = []linearize.Step{
			{Verb: linearize.CAS, Key: keys[0], Expect: expect, Value: linearize.Present(v0)},
			{Verb: linearize.Write, Key: keys[1], Value: linearize.Present(v1)},
			{Verb: linearize.Read, Key: keys[2]},
		}
		ops = []rpc.TxnOp{
			{Verb: rpc.TxnCAS, Key: keys[0], Value: []byte(v0), Index: idx},
			{Verb: rpc.TxnSet, Key: keys[1], Value: []byte(v1)},
			{Verb: rpc.TxnGet, Key: keys[2]},
		}
	}
	in := linearize.Input{Steps: steps}
	return in, func(ctx context.Context, cl *rpc.Client) (linearize.Output, error) {
		res, err := cl.KVTxn(ctx, &rpc.KVTxnParams{Ops: ops, WriteOptions: linWrite})
		if err != nil {
			return linearize.Output{}, err
		}
		if !res.OK {
			for _, k := range in.Keys() {
				delete(last, k)
			}
			return linearize.Output{Outcome: linearize.Done}, nil
		}
		if len(res.Results) != len(ops) {
			return linearize.Output{}, fmt.Errorf("kv.txn: %d results for %d operations", len(res.Results), len(ops))
		}
		out := linearize.Output{Outcome: linearize.Done, OK: true}
		for i, r := range res.Results {
			v := w.observe(last, ops[i].Key, r.Entry)
			if steps[i].Verb == linearize.Read {
				out.Reads = append(out.Reads, v)
			}
		}
		return out, nil
	}
}

// linNemesis injects faults from the test's goroutine, one at a time: each
// holds until the cluster shows it took effect (a new leader elsewhere)
// and the clients got answers meanwhile, then heals and waits until every
// shard has a leader again. Nothing waits on a clock alone.
type linNemesis struct {
	t    *testing.T
	c    *cluster.Cluster
	w    *linWorkload
	rec  *linearize.Recorder
	rng  *rand.Rand
	part *partitioner // nil: no partitions here
	log  []string
}

type linFault struct {
	name string
	do   func(n *linNemesis)
}

func (n *linNemesis) faults() []linFault {
	fs := []linFault{
		{"kill-leader", (*linNemesis).killLeader},
		{"kill-random", (*linNemesis).killRandom},
		{"pause-leader", (*linNemesis).pauseLeader},
		{"restart-all", (*linNemesis).restartAll},
	}
	if n.part != nil {
		fs = append(fs,
			linFault{"isolate-leader", (*linNemesis).isolateLeader},
			linFault{"cut-leader-link", (*linNemesis).cutLeaderLink},
		)
	}
	return fs
}

// run injects every kind of fault once, in an order the seed picks; with
// d > 0 it goes on with random faults until d has passed.
func (n *linNemesis) run(d time.Duration) {
	began := time.Now()
	fs := n.faults()
	n.rng.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
	if n.part != nil {
		// Partitions need every server started inside its cgroup: the
		// restart of every server comes first.
		i := slices.IndexFunc(fs, func(f linFault) bool { return f.name == "restart-all" })
		fs[0], fs[i] = fs[i], fs[0]
	}
	for _, f := range fs {
		f.do(n)
	}
	for d > 0 && time.Since(began) < d {
		fs[n.rng.IntN(len(fs))].do(n)
	}
}

func (n *linNemesis) summary() string {
	return fmt.Sprintf("%d injected: %s", len(n.log), strings.Join(n.log, ", "))
}

// within returns a context bounding one wait of the nemesis.
func (n *linNemesis) within() (context.Context, context.CancelFunc) {
	return context.WithTimeout(n.t.Context(), linFaultWait)
}

// fault runs do as a fault named what, recorded in the log and, as an
// annotation, in the visualization.
func (n *linNemesis) fault(what string, do func()) {
	n.t.Helper()
	began := time.Now()
	do()
	n.t.Logf("nemesis: %s (%v)", what, time.Since(began).Round(time.Millisecond))
	n.log = append(n.log, what)
	n.rec.Note("nemesis", what, began)
}

// progress waits until the clients get linProgress more answers.
func (n *linNemesis) progress(when string) {
	n.t.Helper()
	ctx, cancel := n.within()
	defer cancel()
	base := n.w.answered.Load()
	err := cluster.Eventually(ctx, fmt.Sprintf("%d answers %s", linProgress, when), func(context.Context) error {
		if got := n.w.answered.Load() - base; got < linProgress {
			return fmt.Errorf("%d so far", got)
		}
		return nil
	})
	if err != nil {
		n.t.Fatalf("nemesis: the cluster made no progress: %v (faults so far: %s)", err, strings.Join(n.log, "; "))
	}
}

// ready waits until every shard has a leader every server agrees on.
func (n *linNemesis) ready() {
	n.t.Helper()
	ctx, cancel := n.within()
	defer cancel()
	if err := n.c.WaitReady(ctx); err != nil {
		n.t.Fatalf("nemesis: after %s: %v", n.log[len(n.log)-1], err)
	}
}

// pickShard picks one of the workload's shards and returns it with its
// leader.
func (n *linNemesis) pickShard() (shard.ID, int) {
	n.t.Helper()
	ids := n.w.shards()
	id := ids[n.rng.IntN(len(ids))]
	ctx, cancel := n.within()
	defer cancel()
	leader, err := n.c.Leader(ctx, id)
	if err != nil {
		n.t.Fatalf("nemesis: %v", err)
	}
	return id, leader
}

// newLeader waits until the servers in view (all of them up) agree that a
// server other than old leads shard id.
func (n *linNemesis) newLeader(id shard.ID, old int, view []int) {
	n.t.Helper()
	ctx, cancel := n.within()
	defer cancel()
	err := cluster.Eventually(ctx, fmt.Sprintf("a leader of %v other than %s", id, n.c.Node(old)), func(ctx context.Context) error {
		leader := ""
		for _, i := range view {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			res, err := n.c.Client(i).StatusShards(cctx, nil)
			cancel()
			if err != nil {
				return err
			}
			for _, s := range res.Shards {
				if s.ID != uint64(id) {
					continue
				}
				switch {
				case s.LeaderNode == "" || s.LeaderNode == n.c.Node(old):
					return fmt.Errorf("%s sees leader %q", n.c.Node(i), s.LeaderNode)
				case leader != "" && s.LeaderNode != leader:
					return fmt.Errorf("servers disagree: %s, %s", leader, s.LeaderNode)
				}
				leader = s.LeaderNode
			}
		}
		return nil
	})
	if err != nil {
		n.t.Fatalf("nemesis: %v (faults so far: %s)", err, strings.Join(n.log, "; "))
	}
}

// others lists the servers but skip.
func (n *linNemesis) others(skip ...int) []int {
	var out []int
	for i := range n.c.N() {
		if !slices.Contains(skip, i) {
			out = append(out, i)
		}
	}
	return out
}

// restart starts server i again (inside its cgroup when partitions are on).
func (n *linNemesis) restart(i int) {
	n.t.Helper()
	if n.part != nil {
		n.part.launch(i)
	} else {
		n.c.Restart(i)
	}
	n.ready()
}

func (n *linNemesis) killLeader() {
	id, leader := n.pickShard()
	n.fault(fmt.Sprintf("SIGKILL %s (leader of %v)", n.c.Node(leader), id), func() {
		n.c.Kill(leader)
		n.newLeader(id, leader, n.others(leader))
		n.progress("with " + n.c.Node(leader) + " down")
		n.restart(leader)
	})
	n.progress("after the restart")
}

func (n *linNemesis) killRandom() {
	i := n.rng.IntN(n.c.N())
	n.fault(fmt.Sprintf("SIGKILL %s", n.c.Node(i)), func() {
		n.c.Kill(i)
		n.progress("with " + n.c.Node(i) + " down")
		n.restart(i)
	})
	n.progress("after the restart")
}

func (n *linNemesis) pauseLeader() {
	id, leader := n.pickShard()
	n.fault(fmt.Sprintf("SIGSTOP %s (leader of %v) until another leads", n.c.Node(leader), id), func() {
		n.c.Pause(leader)
		n.newLeader(id, leader, n.others(leader))
		n.progress("with " + n.c.Node(leader) + " paused")
		n.c.Resume(leader)
		n.ready()
	})
	n.progress("after SIGCONT")
}

func (n *linNemesis) restartAll() {
	n.fault("SIGKILL every server, then start them all", func() {
		for i := range n.c.N() {
			n.c.Kill(i)
		}
		for i := range n.c.N() {
			if n.part != nil {
				n.part.launch(i)
			} else {
				n.c.Restart(i)
			}
		}
		n.ready()
	})
	n.progress("after the restart of every server")
}

func (n *linNemesis) isolateLeader() {
	id, leader := n.pickShard()
	rest := n.others(leader)
	n.fault(fmt.Sprintf("isolate %s (leader of %v) from %v", n.c.Node(leader), id, n.nodes(rest)), func() {
		n.part.split([]int{leader}, rest)
		n.newLeader(id, leader, rest)
		n.progress("with " + n.c.Node(leader) + " isolated")
		n.part.heal()
		n.ready()
	})
	n.progress("after healing")
}

// cutLeaderLink cuts one link: the leader and one follower cannot talk,
// both still talk to the others (a partial partition).
func (n *linNemesis) cutLeaderLink() {
	id, leader := n.pickShard()
	rest := n.others(leader)
	peer := rest[n.rng.IntN(len(rest))]
	n.fault(fmt.Sprintf("cut %s (leader of %v) from %s", n.c.Node(leader), id, n.c.Node(peer)), func() {
		n.part.split([]int{leader}, []int{peer})
		n.progress("with the link " + n.c.Node(leader) + "-" + n.c.Node(peer) + " cut")
		n.part.heal()
		n.ready()
	})
	n.progress("after healing")
}

func (n *linNemesis) nodes(is []int) []string {
	out := make([]string, len(is))
	for k, i := range is {
		out[k] = n.c.Node(i)
	}
	return out
}
