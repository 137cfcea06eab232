package integration

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
	"meridian/server/raftnode"
	"meridian/server/shard"
)

// The durability tests SIGKILL servers at random moments under a write
// load, many times, and check after each restart that the store holds
// exactly the acknowledged writes (and possibly those whose outcome the
// client could not know). The kill schedule and the keys come from a seed
// that the test prints; run one again with
//
//	go test ./integration/ -run TestDurability -args -durability.seed=N
//
// -durability.long runs many more rounds (a soak of several minutes):
//
//	go test ./integration/ -run TestDurability -timeout 30m -args -durability.long
var (
	durabilitySeed = flag.Uint64("durability.seed", 0, "TestDurability*: seed of the kill schedule (0: a new one, printed)")
	durabilityLong = flag.Bool("durability.long", false, "TestDurability*: many more kill rounds (minutes)")
)

// TestDurabilityKill9 runs three servers with two KV shards under writers
// of unique keys, overwriters of a few keys and CAS incrementers, and
// SIGKILLs a random server or every server at once at random moments,
// restarting them each time. The load is heavy enough that every KV shard
// passes raftnode.DefaultConfig's SnapshotEntries several times, so that
// snapshots and log compactions happen between and during the kills (the
// test fails if a KV shard did not get past one snapshot and compaction).
// At the end every server is killed once more and restarted, and each
// server's replica (a linearizable list through it) must hold exactly:
// every acknowledged unique key with its value, and no key or value never
// written; each overwritten key at its last acknowledged value or one
// whose write was in flight; each counter at least at the last value
// acknowledged or read, and at most the highest ever attempted.
func TestDurabilityKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: kills and restarts servers many times")
	}
	runDurability(t, durabilityPlan{servers: 3, kvShards: 1, rounds: 6, minSnapshots: 1})
}

// TestDurabilityKill9Single is TestDurabilityKill9 on one server (a `dev`
// datacenter: single-replica shards): each round SIGKILLs it mid-write.
// Nothing else holds a copy, so whatever it acknowledged must be on its
// own disk.
func TestDurabilityKill9Single(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: kills and restarts a server many times")
	}
	runDurability(t, durabilityPlan{servers: 1, kvShards: 1, rounds: 4, minSnapshots: 2})
}

type durabilityPlan struct {
	servers, kvShards int
	rounds            int
	// minSnapshots: each KV shard's log must pass this many snapshot
	// intervals (raftnode.DefaultConfig's SnapshotEntries) by the end.
	minSnapshots int
}

func runDurability(t *testing.T, plan durabilityPlan) {
	seed := *durabilitySeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (run again with -args -durability.seed=%d)", seed, seed)
	rnd := rand.New(rand.NewPCG(seed, 0x6d65726964))
	budget := 60 * time.Second
	if *durabilityLong {
		plan.rounds *= 10
		plan.minSnapshots *= 5
		budget = 20 * time.Minute
	}
	c := cluster.Start(t, cluster.Options{Servers: plan.servers, KVShards: plan.kvShards})
	ctx := within(t, budget+60*time.Second)

	snap := raftnode.DefaultConfig()
	folders := durabilityFolders(plan.kvShards)
	l := newLedger(c, folders, seed)
	l.start(48, 4, 4)
	t.Cleanup(l.halt)

	// Each round lets the load write its share of the entries that the
	// snapshots need, then kills at a random moment: mid-write,
	// mid-snapshot, mid-compaction.
	target := uint64(plan.minSnapshots)*snap.SnapshotEntries + snap.CompactionOverhead
	perRound := int(target)/plan.rounds + 1
	began := time.Now()
	for round := 1; ; round++ {
		base := l.ackCount()
		if err := cluster.Eventually(within(t, 30*time.Second), fmt.Sprintf("%d writes acknowledged since the last kill", perRound), func(context.Context) error {
			if err := l.err(); err != nil {
				return fmt.Errorf("%w: %v", errStopWaiting, err)
			}
			if n := l.ackCount() - base; n < perRound {
				return fmt.Errorf("%d so far", n)
			}
			return nil
		}); err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, l.summary())
		}
		waitRandom(ctx, rnd, 700*time.Millisecond)

		var victims []int
		if plan.servers == 1 || rnd.IntN(3) == 0 {
			victims = allServers(c.N())
		} else {
			victims = []int{rnd.IntN(c.N())}
		}
		for _, i := range victims {
			c.Kill(i)
		}
		t.Logf("round %d: killed %v at %v; %s", round, nodes(c, victims), time.Since(began).Round(time.Millisecond), l.summary())
		if len(victims) < c.N() {
			// The others go on without it for a while.
			waitRandom(ctx, rnd, time.Second)
		}
		for _, i := range victims {
			c.Restart(i)
		}
		if err := c.WaitReady(within(t, 60*time.Second)); err != nil {
			t.Fatalf("round %d: after restarting %v: %v", round, nodes(c, victims), err)
		}
		if err := l.err(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		least := l.leastIndex()
		done := round >= plan.rounds && least >= target
		if done || time.Since(began) > budget {
			t.Logf("%d rounds in %v; the KV shard with the fewest entries is at index %d (a snapshot every %d entries)",
				round, time.Since(began).Round(time.Millisecond), least, snap.SnapshotEntries)
			break
		}
	}
	l.halt()
	if err := l.err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("load stopped at %v: %s", time.Since(began).Round(time.Millisecond), l.summary())

	// Nothing is in flight now: kill everything once more and check what
	// each server's own disk brought back.
	for i := range c.N() {
		c.Kill(i)
	}
	for i := range c.N() {
		c.Restart(i)
	}
	if err := c.WaitReady(within(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted at %v", time.Since(began).Round(time.Millisecond))
	for i := range c.N() {
		got := map[string]string{}
		for _, f := range folders {
			var part map[string]string
			err := retryRead(t, ctx, c.Node(i)+": linearizable list of "+f, func(ctx context.Context) (err error) {
				part, _, err = list(ctx, c.Client(i), f+"/", rpc.ConsistencyDefault)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range part {
				got[k] = v
			}
		}
		if problems := l.check(got); len(problems) > 0 {
			t.Errorf("seed %d: %s after the last restart: %d problems:\n%s", seed, c.Node(i), len(problems), strings.Join(problems[:min(len(problems), 20)], "\n"))
		}
	}
	t.Logf("checked at %v", time.Since(began).Round(time.Millisecond))
	for _, id := range shard.All(plan.kvShards)[1:] {
		t.Logf("%v: highest acknowledged index %d; snapshots kept by %s: %v", id, l.index(id), c.Node(0), snapshotsIn(c.DataDir(0), id))
	}
	if least := l.leastIndex(); least < target {
		t.Errorf("a KV shard reached only index %d: want %d snapshots (every %d entries) and a compaction (%d entries behind) in the run",
			least, plan.minSnapshots, snap.SnapshotEntries, snap.CompactionOverhead)
	}
}

// errStopWaiting ends an Eventually early when the load itself failed.
var errStopWaiting = errors.New("the load failed")

// durabilityFolders picks top-level folders so that every KV shard gets
// at least two of them.
func durabilityFolders(kvShards int) []string {
	per := map[shard.ID]int{}
	var out []string
	for i := 0; len(out) < 2*kvShards; i++ {
		f := "dur" + strconv.Itoa(i)
		if id := shard.ForKey(f+"/x", kvShards); per[id] < 2 {
			per[id]++
			out = append(out, f)
		}
	}
	return out
}

func allServers(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func nodes(c *cluster.Cluster, idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, c.Node(i))
	}
	return out
}

// waitRandom waits a random time up to most: the moment of a fault.
func waitRandom(ctx context.Context, rnd *rand.Rand, most time.Duration) {
	t := time.NewTimer(time.Duration(rnd.Int64N(int64(most))))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ledger runs the load and keeps what the clients were told.
type ledger struct {
	c       *cluster.Cluster
	folders []string
	seed    uint64
	clients []*rpc.Client // one per server, that server only

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	mu        sync.Mutex
	unique    map[string]uniqueWrite // key -> its one value and outcome
	overwrite map[string]*overwriteKey
	counters  map[string]*counterKey
	acks      int
	maybes    int
	retries   int
	startRace int                 // method-not-found answers of a server starting up
	indexes   map[shard.ID]uint64 // highest acknowledged index per shard
	failure   error
}

type uniqueWrite struct {
	value string
	acked bool // else maybe: the outcome is unknown
}

// overwriteKey: one writer puts values 1, 2, 3, ... in turn.
type overwriteKey struct {
	lastAcked int            // 0: none
	maybe     map[int]bool   // values whose outcome is unknown
	attempted map[int]string // every value sent, for the report
}

// counterKey: one incrementer reads the counter and puts value+1 with CAS
// on the modify index it read.
type counterKey struct {
	floor     int // the highest value acknowledged or read: must survive
	attempted int // the highest value ever sent
}

func newLedger(c *cluster.Cluster, folders []string, seed uint64) *ledger {
	l := &ledger{
		c: c, folders: folders, seed: seed,
		stop:      make(chan struct{}),
		unique:    map[string]uniqueWrite{},
		overwrite: map[string]*overwriteKey{},
		counters:  map[string]*counterKey{},
		indexes:   map[shard.ID]uint64{},
	}
	for i := range c.N() {
		cl, err := rpc.NewClient(rpc.ClientConfig{Addrs: []string{c.HTTPAddr(i)}, Coalesce: 4})
		if err != nil {
			panic(err) // the addresses are the cluster's and valid
		}
		l.clients = append(l.clients, cl)
	}
	return l
}

// start runs writers of unique keys, overwriters and incrementers.
func (l *ledger) start(writers, overwriters, incrementers int) {
	for w := range writers {
		l.wg.Go(func() { l.uniqueWriter(w) })
	}
	for w := range overwriters {
		key := fmt.Sprintf("%s/ow-%d", l.folders[w%len(l.folders)], w)
		l.mu.Lock()
		l.overwrite[key] = &overwriteKey{maybe: map[int]bool{}, attempted: map[int]string{}}
		l.mu.Unlock()
		l.wg.Go(func() { l.overwriter(w, key) })
	}
	for w := range incrementers {
		key := fmt.Sprintf("%s/ctr-%d", l.folders[(w+1)%len(l.folders)], w)
		l.mu.Lock()
		l.counters[key] = &counterKey{}
		l.mu.Unlock()
		l.wg.Go(func() { l.incrementer(w, key) })
	}
}

// halt stops the load and waits for every call in flight. Safe to call
// twice.
func (l *ledger) halt() {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
	for _, cl := range l.clients {
		cl.Close()
	}
}

func (l *ledger) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// pause waits a little before trying again (a server down or without a
// leader), or until the load stops.
func (l *ledger) pause() {
	t := time.NewTimer(20 * time.Millisecond)
	defer t.Stop()
	select {
	case <-l.stop:
	case <-t.C:
	}
}

func (l *ledger) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failure == nil {
		l.failure = err
	}
}

func (l *ledger) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failure
}

func (l *ledger) ackCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acks
}

func (l *ledger) noteIndex(key string, index uint64) {
	id := shard.ForKey(key, l.c.KVShards())
	if index > l.indexes[id] {
		l.indexes[id] = index
	}
}

func (l *ledger) index(id shard.ID) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.indexes[id]
}

// leastIndex is the highest acknowledged index of the KV shard that has
// the lowest.
func (l *ledger) leastIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	least := uint64(0)
	for i, id := range shard.All(l.c.KVShards())[1:] {
		if i == 0 || l.indexes[id] < least {
			least = l.indexes[id]
		}
	}
	return least
}

func (l *ledger) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprintf("%d writes acknowledged, %d of unknown outcome, %d retried (not applied)", l.acks, l.maybes, l.retries)
	if l.startRace > 0 {
		s += fmt.Sprintf("; NOTE: %d calls answered \"method not found\" by a server starting up", l.startRace)
	}
	return s
}

// classify is classify, but for one known bug: a call that reaches a
// server while it registers its methods may be answered "method not
// found" (cmd/meridian's Forward races with the registration). The call
// did not run; it is counted, logged and tried again.
func (l *ledger) classify(err error) (outcome, bool) {
	if re, ok := errors.AsType[*rpc.Error](err); ok && re.Code == rpc.CodeMethodNotFound {
		l.mu.Lock()
		l.startRace++
		l.mu.Unlock()
		return notApplied, false
	}
	return classify(err)
}

// put sends one write through server srv, with a deadline of its own.
func (l *ledger) put(srv int, p *rpc.KVPutParams) (*rpc.KVPutResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
	defer cancel()
	return l.clients[srv].KVPut(ctx, p)
}

func (l *ledger) uniqueWriter(w int) {
	srv := w % len(l.clients)
	for n := 0; !l.stopped(); n++ {
		key := fmt.Sprintf("%s/u%02d-%06d", l.folders[(w+n)%len(l.folders)], w, n)
		value := fmt.Sprintf("%x/%d/%d", l.seed, w, n)
		for !l.stopped() {
			res, err := l.put(srv, &rpc.KVPutParams{Key: key, Value: []byte(value)})
			o, down := l.classify(err)
			if down {
				srv = (srv + 1) % len(l.clients)
			}
			l.mu.Lock()
			switch {
			case o == acked && !res.OK:
				o = failed
				err = fmt.Errorf("ok=false without cas")
			case o == acked:
				l.acks++
				l.unique[key] = uniqueWrite{value: value, acked: true}
				l.noteIndex(key, res.Index)
			case o == maybe:
				l.maybes++
				l.unique[key] = uniqueWrite{value: value}
			case o == notApplied:
				l.retries++
				// Not in the log: the same put is tried again. It is
				// recorded as a maybe until then, should the load stop.
				if _, ok := l.unique[key]; !ok {
					l.unique[key] = uniqueWrite{value: value}
				}
			}
			l.mu.Unlock()
			if o == failed {
				l.fail(fmt.Errorf("put %s through %s: %w", key, l.c.Node(srv), err))
				return
			}
			if o != notApplied {
				break
			}
			l.pause()
		}
	}
}

func (l *ledger) overwriter(w int, key string) {
	srv := (w + 1) % len(l.clients)
	for v := 1; !l.stopped(); v++ {
		value := fmt.Sprintf("%d", v)
		for !l.stopped() {
			l.mu.Lock()
			l.overwrite[key].attempted[v] = value
			l.mu.Unlock()
			res, err := l.put(srv, &rpc.KVPutParams{Key: key, Value: []byte(value)})
			o, down := l.classify(err)
			if down {
				srv = (srv + 1) % len(l.clients)
			}
			l.mu.Lock()
			k := l.overwrite[key]
			switch {
			case o == acked && !res.OK:
				o, err = failed, fmt.Errorf("ok=false without cas")
			case o == acked:
				l.acks++
				k.lastAcked = v
				delete(k.maybe, v)
				l.noteIndex(key, res.Index)
			case o == maybe, o == notApplied:
				// notApplied is retried with the same value; until
				// then it counts as unknown.
				k.maybe[v] = true
				if o == maybe {
					l.maybes++
				} else {
					l.retries++
				}
			}
			l.mu.Unlock()
			if o == failed {
				l.fail(fmt.Errorf("put %s through %s: %w", key, l.c.Node(srv), err))
				return
			}
			if o != notApplied {
				break
			}
			l.pause()
		}
	}
}

func (l *ledger) incrementer(w int, key string) {
	srv := (w + 2) % len(l.clients)
	for !l.stopped() {
		ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
		got, err := l.clients[srv].KVGet(ctx, &rpc.KVGetParams{Key: key})
		cancel()
		if err != nil {
			if o, down := l.classify(err); o == failed {
				l.fail(fmt.Errorf("get %s through %s: %w", key, l.c.Node(srv), err))
				return
			} else if down {
				srv = (srv + 1) % len(l.clients)
			}
			l.pause()
			continue
		}
		cur, cas := 0, uint64(0)
		if got.Entry != nil {
			cur, err = strconv.Atoi(string(got.Entry.Value))
			if err != nil {
				l.fail(fmt.Errorf("get %s: value %q was never written", key, got.Entry.Value))
				return
			}
			cas = got.Entry.ModifyIndex
		}
		l.mu.Lock()
		k := l.counters[key]
		if cur < k.floor || cur > k.attempted {
			l.mu.Unlock()
			l.fail(fmt.Errorf("a linearizable read of counter %s through %s found %d: want %d (acknowledged or read before) to %d (attempted)", key, l.c.Node(srv), cur, k.floor, k.attempted))
			return
		}
		k.floor = cur
		k.attempted = max(k.attempted, cur+1)
		l.mu.Unlock()
		res, err := l.put(srv, &rpc.KVPutParams{Key: key, Value: []byte(strconv.Itoa(cur + 1)), CAS: &cas})
		o, down := l.classify(err)
		if down {
			srv = (srv + 1) % len(l.clients)
		}
		l.mu.Lock()
		switch o {
		case acked:
			if res.OK {
				l.acks++
				k.floor = max(k.floor, cur+1)
				l.noteIndex(key, res.Index)
			}
			// !OK: an earlier increment of unknown outcome was applied;
			// the next read sees it.
		case maybe:
			l.maybes++
		case notApplied:
			l.retries++
		}
		l.mu.Unlock()
		if o == failed {
			l.fail(fmt.Errorf("cas put %s through %s: %w", key, l.c.Node(srv), err))
			return
		}
		if o == notApplied {
			l.pause()
		}
	}
}

// check compares a server's store with the ledger and lists every
// problem found.
func (l *ledger) check(got map[string]string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var problems []string
	lost, extra := 0, 0
	for key, w := range l.unique {
		v, ok := got[key]
		switch {
		case ok && v != w.value:
			problems = append(problems, fmt.Sprintf("%s = %q, but the only value ever written is %q", key, v, w.value))
		case !ok && w.acked:
			lost++
			if lost <= 10 {
				problems = append(problems, fmt.Sprintf("LOST: %s (acknowledged) is missing", key))
			}
		}
	}
	for key, k := range l.overwrite {
		v, ok := got[key]
		n, _ := strconv.Atoi(v)
		switch {
		case !ok && k.lastAcked > 0:
			problems = append(problems, fmt.Sprintf("LOST: %s is missing; %d was acknowledged", key, k.lastAcked))
		case ok && (k.attempted[n] != v || (n != k.lastAcked && !k.maybe[n])):
			problems = append(problems, fmt.Sprintf("%s = %q: want the last acknowledged value %d or one of unknown outcome %v", key, v, k.lastAcked, slices.Sorted(maps.Keys(k.maybe))))
		}
	}
	for key, k := range l.counters {
		v, ok := got[key]
		n, err := strconv.Atoi(v)
		switch {
		case !ok && k.floor > 0:
			problems = append(problems, fmt.Sprintf("LOST: counter %s is missing; %d was acknowledged or read", key, k.floor))
		case ok && (err != nil || n < k.floor || n > k.attempted):
			problems = append(problems, fmt.Sprintf("counter %s = %q: want %d (acknowledged or read) to %d (attempted)", key, v, k.floor, k.attempted))
		}
	}
	for key := range got {
		_, u := l.unique[key]
		_, o := l.overwrite[key]
		_, c := l.counters[key]
		if !u && !o && !c {
			extra++
			if extra <= 10 {
				problems = append(problems, fmt.Sprintf("%s was never written", key))
			}
		}
	}
	if lost > 10 {
		problems = append(problems, fmt.Sprintf("LOST: %d acknowledged unique keys in all", lost))
	}
	if extra > 10 {
		problems = append(problems, fmt.Sprintf("%d keys never written in all", extra))
	}
	return problems
}
