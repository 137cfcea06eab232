package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
	"meridian/server/shard"
)

// TestWriteThroughFollower writes through a server that does not lead the
// key's shard, then reads the key back from every server: linearizable
// reads see it at once, stale reads from the followers see it eventually
// and say how far behind they may be.
func TestWriteThroughFollower(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 4})
	ctx := within(t, 60*time.Second)
	const key, value = "app/web/config", `{"replicas": 3}`
	id := shard.ForKey(key, c.KVShards())
	followers, err := c.Followers(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(followers) != 2 {
		t.Fatalf("%v has followers %v, want 2", id, followers)
	}
	via := followers[0]
	put, err := c.Client(via).KVPut(ctx, &rpc.KVPutParams{Key: key, Value: []byte(value)})
	if err != nil {
		t.Fatalf("put through follower %s: %v", c.Node(via), err)
	}
	if !put.OK || put.Index == 0 {
		t.Fatalf("put through follower %s: %+v, want ok with an index", c.Node(via), put)
	}

	for i := range c.N() {
		got, err := c.Client(i).KVGet(ctx, &rpc.KVGetParams{Key: key})
		if err != nil {
			t.Fatalf("%s: linearizable get: %v", c.Node(i), err)
		}
		if err := sameEntry(got.Entry, key, value, put.Index); err != nil {
			t.Errorf("%s: linearizable get right after the put: %v", c.Node(i), err)
		}
		if got.Index < put.Index {
			t.Errorf("%s: answer index %d, below the put's %d", c.Node(i), got.Index, put.Index)
		}
		if got.KnownLeader != nil || got.LastContactMS != nil {
			t.Errorf("%s: a linearizable read carries known_leader/last_contact_ms (%v, %v); they belong to stale reads", c.Node(i), got.KnownLeader, got.LastContactMS)
		}
	}

	for _, f := range followers {
		err := cluster.Eventually(ctx, c.Node(f)+" serves the write to a stale read", func(ctx context.Context) error {
			got, err := c.Client(f).KVGet(ctx, &rpc.KVGetParams{Key: key, ReadOptions: rpc.ReadOptions{Consistency: rpc.ConsistencyStale}})
			if err != nil {
				return err
			}
			if err := sameEntry(got.Entry, key, value, put.Index); err != nil {
				return err
			}
			switch {
			case got.KnownLeader == nil || got.LastContactMS == nil:
				return fmt.Errorf("known_leader %v, last_contact_ms %v: want both on a stale read", got.KnownLeader, got.LastContactMS)
			case !*got.KnownLeader:
				return fmt.Errorf("known_leader false in a healthy cluster")
			case *got.LastContactMS < 0 || *got.LastContactMS > 5000:
				return fmt.Errorf("last_contact_ms %d, want 0-5000 in a healthy cluster", *got.LastContactMS)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
}

// sameEntry checks a read entry against what was written at index.
func sameEntry(e *rpc.KVEntry, key, value string, index uint64) error {
	switch {
	case e == nil:
		return fmt.Errorf("%s: no entry", key)
	case e.Key != key || string(e.Value) != value:
		return fmt.Errorf("entry %s=%q, want %s=%q", e.Key, e.Value, key, value)
	case e.ModifyIndex != index:
		return fmt.Errorf("%s: modify_index %d, want %d (the put's index)", key, e.ModifyIndex, index)
	}
	return nil
}

// sameValue checks a read entry against a put acknowledged at index whose
// earlier attempts may have been applied too, even later: modify_index is
// then at least index.
//
// (A put that failed with "leader changed" while forwarded to a paused
// leader can be applied after a retry was acknowledged: the paused server
// forwards the stale proposal to the new leader once it runs again.)
func sameValue(e *rpc.KVEntry, key, value string, index uint64) error {
	switch {
	case e == nil:
		return fmt.Errorf("%s: no entry", key)
	case e.Key != key || string(e.Value) != value:
		return fmt.Errorf("entry %s=%q, want %s=%q", e.Key, e.Value, key, value)
	case e.ModifyIndex < index:
		return fmt.Errorf("%s: modify_index %d, below the put's index %d", key, e.ModifyIndex, index)
	}
	return nil
}

// TestReadYourWriteElsewhere writes on one server and reads on another,
// over and over, across every shard: a linearizable read must see every
// write acknowledged before it started, whichever server took either.
func TestReadYourWriteElsewhere(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 4})
	ctx := within(t, 60*time.Second)
	n := c.N()
	want := map[string]string{}
	for k := range 36 {
		key := fmt.Sprintf("f%d/key-%02d", k%6, k) // six folders, spread over the shards
		w, r := k%n, (k+1)%n
		steps := []struct {
			what  string
			via   int
			do    func(cl *rpc.Client) (uint64, error)
			value string // "": the key must be absent afterwards
		}{
			{"put", w, func(cl *rpc.Client) (uint64, error) { return putIndex(ctx, cl, key, "one") }, "one"},
			{"overwrite", r, func(cl *rpc.Client) (uint64, error) { return putIndex(ctx, cl, key, "two") }, "two"},
			{"delete", w, func(cl *rpc.Client) (uint64, error) {
				res, err := cl.KVDelete(ctx, &rpc.KVDeleteParams{Key: key})
				if err == nil && !res.OK {
					err = fmt.Errorf("delete: ok=false")
				}
				if err != nil {
					return 0, err
				}
				return res.Index, nil
			}, ""},
		}
		if k%2 == 1 {
			steps = steps[:2] // keep odd keys, for the listing below
		}
		for _, step := range steps {
			idx, err := step.do(c.Client(step.via))
			if err != nil {
				t.Fatalf("%s %s through %s: %v", step.what, key, c.Node(step.via), err)
			}
			reader := (step.via + 1) % n // never the server that took the write
			got, err := c.Client(reader).KVGet(ctx, &rpc.KVGetParams{Key: key})
			if err != nil {
				t.Fatalf("get %s after %s: %v", key, step.what, err)
			}
			if step.value == "" {
				if got.Entry != nil {
					t.Errorf("%s on %s: still there after the delete at index %d: %+v", key, c.Node(reader), idx, got.Entry)
				}
			} else if err := sameEntry(got.Entry, key, step.value, idx); err != nil {
				t.Errorf("%s on %s right after the %s through %s: %v", key, c.Node(reader), step.what, c.Node(step.via), err)
			}
		}
		if k%2 == 1 {
			want[key] = "two"
		}
	}
	// A listing from the root spans every shard.
	for i := range n {
		got, _, err := list(ctx, c.Client(i), "", rpc.ConsistencyDefault)
		if err != nil {
			t.Fatalf("%s: list: %v", c.Node(i), err)
		}
		if d := diff(got, want); d != "" {
			t.Errorf("%s: list from the root: %s", c.Node(i), d)
		}
	}
}

func putIndex(ctx context.Context, cl *rpc.Client, key, value string) (uint64, error) {
	res, err := cl.KVPut(ctx, &rpc.KVPutParams{Key: key, Value: []byte(value)})
	if err != nil {
		return 0, err
	}
	if !res.OK {
		return 0, fmt.Errorf("put %s: ok=false without cas", key)
	}
	return res.Index, nil
}
