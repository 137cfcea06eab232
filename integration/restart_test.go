package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
	"meridian/server/raftnode"
	"meridian/server/shard"
)

// writeMany puts keys[i]=values[i] through the servers in turn, with
// several writers, each write retried until acknowledged (puts of one value
// are idempotent). It returns the highest index acknowledged per shard.
func writeMany(t *testing.T, ctx context.Context, c *cluster.Cluster, servers []int, kv map[string]string) map[shard.ID]uint64 {
	t.Helper()
	keys := sortedKeys(kv)
	var (
		mu    sync.Mutex
		index = map[shard.ID]uint64{}
		errs  []error
		wg    sync.WaitGroup
	)
	const writers = 8
	for w := range writers {
		wg.Go(func() {
			for i := w; i < len(keys); i += writers {
				key := keys[i]
				res, err := putIdempotent(ctx, c.Client(servers[i%len(servers)]), key, kv[key])
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if id := shard.ForKey(key, c.KVShards()); res.Index > index[id] {
					index[id] = res.Index
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d writes failed; first: %v", len(errs), errs[0])
	}
	return index
}

// TestClusterRestart SIGKILLs every server (no chance to flush anything)
// and starts them again from their data directories: every acknowledged
// write, overwrite and delete is still there, on every server, and new
// writes continue the log.
func TestClusterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: restarts a whole cluster")
	}
	c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 4})
	ctx := within(t, 90*time.Second)
	want := map[string]string{}
	for i := range 200 {
		want[fmt.Sprintf("r%d/key-%03d", i%8, i)] = fmt.Sprintf("value %d", i)
	}
	all := []int{0, 1, 2}
	writeMany(t, ctx, c, all, want)
	// Overwrites and deletes must survive too.
	overwrite := map[string]string{"r0/key-000": "rewritten", "r1/key-001": "rewritten"}
	before := writeMany(t, ctx, c, all, overwrite)
	for k, v := range overwrite {
		want[k] = v
	}
	for _, key := range []string{"r2/key-002", "r3/key-003"} {
		res, err := c.Client(1).KVDelete(ctx, &rpc.KVDeleteParams{Key: key})
		if err != nil || !res.OK {
			t.Fatalf("delete %s: %+v %v", key, res, err)
		}
		delete(want, key)
	}

	for i := range c.N() {
		c.Kill(i)
	}
	for i := range c.N() {
		c.Restart(i)
	}
	began := time.Now()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster ready %v after the restart", time.Since(began).Round(time.Millisecond))

	for i := range c.N() {
		var got map[string]string
		err := retryRead(t, ctx, c.Node(i)+": linearizable list after the restart", func(ctx context.Context) (err error) {
			got, _, err = list(ctx, c.Client(i), "", rpc.ConsistencyDefault)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(got, want); d != "" {
			t.Errorf("%s after the restart: %s", c.Node(i), d)
		}
	}
	// The log goes on from where it was: a new write gets a higher index.
	const key = "r0/after-restart"
	res, err := putIdempotent(ctx, c.Client(2), key, "new")
	if err != nil {
		t.Fatal(err)
	}
	if id := shard.ForKey(key, c.KVShards()); res.Index <= before[id] {
		t.Errorf("a write after the restart got index %d, not above %d acknowledged before it on %v", res.Index, before[id], id)
	}
}

// TestCatchUpAfterDowntime kills a follower and, while it is down, writes
// twice the server's snapshot interval (raftnode.DefaultConfig's
// SnapshotEntries) to one shard in JSON-RPC batches: the leader snapshots
// and compacts its log past what the follower has, so the follower must be
// sent a snapshot. Restarted, it catches up: its own replica (a stale read)
// serves the latest write within a deadline, and holds every key.
func TestCatchUpAfterDowntime(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: kills a server and writes past a snapshot")
	}
	c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 4})
	ctx := within(t, 120*time.Second)
	const folder = "catchup/"
	id := shard.ForKey(folder, c.KVShards())
	followers, err := c.Followers(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	down := followers[0]
	if _, err := putIdempotent(ctx, c.Client(down), folder+"before", "x"); err != nil {
		t.Fatal(err)
	}
	c.Kill(down)

	var up []string
	for i := range c.N() {
		if i != down {
			up = append(up, c.HTTPAddr(i))
		}
	}
	writes := 2*int(raftnode.DefaultConfig().SnapshotEntries) + 256
	if writes > 50000 {
		writes = 600 // a snapshot interval this large would make the test slow
		t.Logf("the snapshot interval is %d entries: writing only %d, which does not cross a snapshot", raftnode.DefaultConfig().SnapshotEntries, writes)
	}
	want := map[string]string{folder + "before": "x"}
	for i := range writes {
		want[fmt.Sprintf("%sk%05d", folder, i)] = fmt.Sprintf("value %d", i)
	}
	began := time.Now()
	if err := putBatches(ctx, up, want); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes while %s was down, in %v", writes, c.Node(down), time.Since(began).Round(time.Millisecond))
	const last = folder + "last"
	lastWrite, err := putIdempotent(ctx, c.Client((down+1)%c.N()), last, "done")
	if err != nil {
		t.Fatal(err)
	}
	want[last] = "done"

	c.Restart(down)
	began = time.Now()
	err = cluster.Eventually(ctx, c.Node(down)+" serves the latest write from its own replica", func(ctx context.Context) error {
		got, err := c.Client(down).KVGet(ctx, &rpc.KVGetParams{Key: last, ReadOptions: rpc.ReadOptions{Consistency: rpc.ConsistencyStale}})
		if err != nil {
			return err
		}
		return sameEntry(got.Entry, last, "done", lastWrite.Index)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s caught up %v after it answered HTTP; snapshots in its data directory: %v",
		c.Node(down), time.Since(began).Round(time.Millisecond), snapshotsIn(c.DataDir(down), id))
	got, _, err := list(ctx, c.Client(down), folder, rpc.ConsistencyStale)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(got, want); d != "" {
		t.Errorf("%s after catching up: %s", c.Node(down), d)
	}
}

// putBatches writes kv through the servers at addrs in turn, as JSON-RPC
// batches as large as a server takes (rpc.DefaultServerConfig's MaxBatch),
// retrying every put that fails with a retryable error (a put of the same
// value is idempotent) until ctx ends.
func putBatches(ctx context.Context, addrs []string, kv map[string]string) error {
	todo := sortedKeys(kv)
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	for n := 0; len(todo) > 0; n++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%d puts left: %w", len(todo), err)
		}
		chunk := todo[:min(len(todo), rpc.DefaultServerConfig().MaxBatch)]
		todo = todo[len(chunk):]
		type call struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      int             `json:"id"`
			Method  string          `json:"method"`
			Params  rpc.KVPutParams `json:"params"`
		}
		calls := make([]call, len(chunk))
		for i, k := range chunk {
			calls[i] = call{"2.0", i, rpc.MethodKVPut, rpc.KVPutParams{Key: k, Value: []byte(kv[k])}}
		}
		body, _ := json.Marshal(calls)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		req, _ := http.NewRequestWithContext(cctx, http.MethodPost, "http://"+addrs[n%len(addrs)]+"/rpc", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			cancel()
			todo = append(todo, chunk...) // try the whole batch again
			continue
		}
		var answers []struct {
			ID     int              `json:"id"`
			Result *rpc.KVPutResult `json:"result"`
			Error  *rpc.Error       `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&answers)
		resp.Body.Close()
		cancel()
		if err != nil {
			return fmt.Errorf("batch answer: %w", err)
		}
		if len(answers) != len(chunk) {
			return fmt.Errorf("a batch of %d calls got %d answers", len(chunk), len(answers))
		}
		for _, a := range answers {
			switch {
			case a.Error != nil && a.Error.Retryable():
				todo = append(todo, chunk[a.ID])
			case a.Error != nil:
				return fmt.Errorf("put %s: %w", chunk[a.ID], a.Error)
			case a.Result == nil || !a.Result.OK:
				return fmt.Errorf("put %s: answer %+v", chunk[a.ID], a.Result)
			}
		}
	}
	return nil
}

// snapshotsIn names the snapshots of shard id that dragonboat keeps in a
// server's data directory (directories snapshot-<index in hex>): for the
// log only, as the layout is dragonboat's.
func snapshotsIn(dir string, id shard.ID) []string {
	var out []string
	part := fmt.Sprintf("snapshot-%d-", uint64(id))
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasPrefix(filepath.Base(filepath.Dir(path)), part) {
			var idx uint64
			if _, err := fmt.Sscanf(d.Name(), "snapshot-%x", &idx); err == nil {
				out = append(out, fmt.Sprintf("index %d", idx))
			}
		}
		return nil
	})
	return out
}
