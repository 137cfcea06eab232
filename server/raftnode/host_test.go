package raftnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"meridian/server/kv"
	"meridian/server/shard"
)

// kvMachine runs the KV state machine on every shard of the test hosts.
type kvMachine struct{ m *kv.Machine }

func (k kvMachine) Update(entries []Entry) {
	b := k.m.Begin()
	for i := range entries {
		v, d := b.Apply(entries[i].Index, entries[i].Cmd).Encode()
		entries[i].Result = Result{Value: v, Data: d}
	}
	b.Commit()
}
func (k kvMachine) View() any                              { return k.m.View() }
func (k kvMachine) Applied() uint64                        { return k.m.View().Index() }
func (k kvMachine) WriteSnapshot(v any, w io.Writer) error { return v.(*kv.View).WriteSnapshot(w) }
func (k kvMachine) RestoreSnapshot(r io.Reader) error      { return k.m.RestoreSnapshot(r) }

// startHosts starts n hosts of one datacenter on free loopback ports.
func startHosts(t *testing.T, n, kvShards int, configure func(*Config)) []*Host {
	t.Helper()
	RouteLogs(slog.New(slog.NewTextHandler(os.Stderr, nil)), slog.LevelError)
	peers := map[shard.ReplicaID]string{}
	for i := 1; i <= n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		peers[shard.ReplicaID(i)] = ln.Addr().String()
		ln.Close()
	}
	var hosts []*Host
	for i := 1; i <= n; i++ {
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.RaftAddr = peers[shard.ReplicaID(i)]
		cfg.ReplicaID = shard.ReplicaID(i)
		cfg.Peers = peers
		cfg.Shards = shard.All(kvShards)
		cfg.Machine = func(shard.ID) Machine { return kvMachine{kv.New()} }
		cfg.LogDBProfile = "tiny"
		cfg.BalanceInterval = 0
		if configure != nil {
			configure(&cfg)
		}
		h, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		hosts = append(hosts, h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, h := range hosts {
		if err := h.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return hosts
}

// leaders counts the shards each replica leads, as host h sees it.
func leaders(t *testing.T, h *Host) map[shard.ReplicaID]int {
	out := map[shard.ReplicaID]int{}
	for _, id := range h.cfg.Shards {
		info, err := h.Info(id)
		if err != nil {
			t.Fatal(err)
		}
		out[info.Leader]++
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBalance: with every shard led by one server, Balance on the others
// spreads the leaders until no server leads two more than another, and
// writes keep working throughout.
func TestBalance(t *testing.T) {
	hosts := startHosts(t, 3, 5, nil) // 6 shards: 2 each when balanced
	for _, id := range hosts[0].cfg.Shards {
		eventually(t, 20*time.Second, fmt.Sprintf("replica 1 to lead %v", id), func() bool {
			if info, _ := hosts[0].Info(id); info.IsLeader {
				return true
			}
			hosts[0].TransferLeader(id, 1)
			return false
		})
	}
	if got := leaders(t, hosts[0]); got[1] != 6 {
		t.Fatalf("setup: replica 1 leads %d of 6 shards", got[1])
	}
	eventually(t, 30*time.Second, "leaders to spread 2/2/2", func() bool {
		for _, h := range hosts {
			h.Balance()
		}
		got := leaders(t, hosts[0])
		return got[1] == 2 && got[2] == 2 && got[3] == 2
	})
	// Balanced: nobody asks for more.
	for _, h := range hosts {
		if id, moved := h.Balance(); moved {
			t.Fatalf("replica %d asked for %v in a balanced cluster", h.cfg.ReplicaID, id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := hosts[2].Propose(ctx, shard.KV(0), (&kv.Command{Op: kv.OpPut, Key: "a", Value: []byte("b")}).Marshal())
	if err != nil {
		t.Fatalf("write after balancing: %v", err)
	}
	if res, err := kv.DecodeResult(raw.Value, raw.Data); err != nil || !res.OK {
		t.Fatalf("write after balancing: %+v %v", res, err)
	}
}

func TestAddAndRemoveServer(t *testing.T) {
	hosts := startHosts(t, 3, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	put := func(h *Host, key string) {
		t.Helper()
		// Retried as a client would when the leader changes under it (a
		// new replica catching up may drop a proposal); the put is
		// idempotent.
		var raw Result
		var err error
		for {
			raw, err = h.Propose(ctx, shard.KV(0), (&kv.Command{Op: kv.OpPut, Key: key, Value: []byte("v")}).Marshal())
			if !errors.Is(err, ErrLeaderChanged) || ctx.Err() != nil {
				break
			}
			t.Logf("put %s: %v; again", key, err)
		}
		if err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		if res, _ := kv.DecodeResult(raw.Value, raw.Data); !res.OK {
			t.Fatalf("put %s: %+v", key, res)
		}
	}
	put(hosts[0], "before")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	id, err := hosts[1].AddServer(ctx, addr)
	if err != nil || id != 4 {
		t.Fatalf("AddServer: %d %v", id, err)
	}
	if again, err := hosts[2].AddServer(ctx, addr); err != nil || again != id {
		t.Fatalf("a repeated AddServer: %d %v, want %d", again, err, id)
	}
	cfg := hosts[0].cfg
	cfg.DataDir, cfg.RaftAddr, cfg.ReplicaID, cfg.Peers, cfg.Join = t.TempDir(), addr, id, nil, true
	h4, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h4.Close)
	put(h4, "after") // through the new server
	eventually(t, 30*time.Second, "the new server to hold both keys", func() bool {
		v, _ := h4.StaleRead(shard.KV(0))
		a, _, _ := v.(*kv.View).Get("before")
		b, _, _ := v.(*kv.View).Get("after")
		return a != nil && b != nil
	})
	if m := hosts[0].Members(); len(m) != 4 || m[4] != addr {
		t.Fatalf("members after add: %v", m)
	}

	// Through another host (a replica removing itself may not learn that
	// its removal committed: Server.Leave asks a peer), with a deadline of
	// its own.
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	if err := hosts[0].RemoveServer(rctx, id); err != nil {
		t.Fatalf("RemoveServer: %v", err)
	}
	eventually(t, 30*time.Second, "membership back to 3", func() bool { return len(hosts[0].Members()) == 3 })
	ctx = rctx
	put(hosts[0], "after-removal")
}

// Stuck stays near zero while reads complete, and is 0 on a replica that
// lost its quorum: no shard names a leader there, so a server whose peers
// are down is not taken for one whose Raft work is blocked.
func TestStuckIsNotQuorumLoss(t *testing.T) {
	hosts := startHosts(t, 3, 1, nil)
	eventually(t, 10*time.Second, "a read round confirmed on every host", func() bool {
		for _, h := range hosts {
			if h.Stuck() > 3*time.Second {
				return false
			}
			for id := range h.shards {
				if _, since := h.Contact(id); since < 0 {
					return false
				}
			}
		}
		return true
	})
	hosts[1].Close()
	hosts[2].Close()
	eventually(t, 20*time.Second, "the last host to know no leader", func() bool {
		return hosts[0].Stuck() == 0
	})
	for id := range hosts[0].shards {
		if leader, _ := hosts[0].Contact(id); leader != 0 {
			t.Fatalf("%v still names leader %d", id, leader)
		}
	}
}
