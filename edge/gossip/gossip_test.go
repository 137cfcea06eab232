package gossip

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestPoolLifecycle runs three pools through join, metadata update, a
// graceful leave and a failure.
func TestPoolLifecycle(t *testing.T) {
	t.Parallel()
	// e1 joins through s0 in the background (Config.Join), then e2 through
	// s0 with Join. One after the other: two members joining at the same
	// time can miss each other until the next push/pull (15 s), since the
	// local profile retransmits each message only twice in so small a pool.
	p0, r0 := startPool(t, testConfig(t, "s0", RoleServer))
	cfg1 := testConfig(t, "e1", RoleEdge)
	cfg1.Join = []string{p0.Addr()}
	p1, r1 := startPool(t, cfg1)
	select {
	case <-p1.Joined():
	case <-time.After(10 * time.Second):
		t.Fatal("e1: Joined not closed")
	}
	waitFor(t, 10*time.Second, "s0 and e1 to see each other", func() bool { return p0.NumAlive() == 2 && p1.NumAlive() == 2 })
	p2, r2 := startPool(t, testConfig(t, "e2", RoleEdge))
	retry(t, 10*time.Second, func() error {
		_, err := p2.Join(ctxTimeout(t, 5*time.Second), p0.Addr())
		return err
	})
	select {
	case <-p2.Joined():
	default:
		t.Error("e2: Joined not closed after Join")
	}
	pools := map[string]*Pool{"s0": p0, "e1": p1, "e2": p2}
	recs := map[string]*recorder{"s0": r0, "e1": r1, "e2": r2}
	for name, p := range pools {
		waitFor(t, 20*time.Second, name+" to see 3 members", func() bool { return p.NumAlive() == 3 })
		for other := range pools {
			waitFor(t, 5*time.Second, name+" to deliver the join of "+other, func() bool { return recs[name].has(EventJoin, other) })
		}
	}

	// Everyone sees everyone, with the metadata they started with.
	for name, p := range pools {
		ms := p.Members()
		if got := names(ms); got != "e1=alive,e2=alive,s0=alive" {
			t.Fatalf("%s: Members = %s", name, got)
		}
		for _, m := range ms {
			want := pools[m.Name].LocalMember()
			if !reflect.DeepEqual(m, want) {
				t.Errorf("%s sees %+v, want %+v", name, m, want)
			}
		}
	}
	if got := p0.LocalMember().Meta.Role; got != RoleServer {
		t.Errorf("s0 role = %q", got)
	}

	// A metadata update reaches the others.
	meta := p1.LocalMember().Meta
	meta.RPCAddr = "127.0.0.1:9500"
	meta.Tags = map[string]string{"zone": "b"}
	if err := p1.UpdateMeta(ctxTimeout(t, 5*time.Second), meta); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	for _, name := range []string{"s0", "e2"} {
		waitFor(t, 20*time.Second, name+" to see e1's update", func() bool {
			e, ok := recs[name].find(EventUpdate, "e1")
			return ok && reflect.DeepEqual(e.Member.Meta, meta)
		})
		if m := pools[name].Members()[0]; !reflect.DeepEqual(m.Meta, meta) {
			t.Errorf("%s: Members shows e1 with %+v", name, m.Meta)
		}
	}

	// A close without leave is a failure. (Done before the leave: memberlist
	// counts left members until it reaps them, and then waits for
	// confirmations that no one can send, so a failure takes the maximum
	// suspicion timeout, 18 s here, instead of about 3 s.)
	start := time.Now()
	if err := p1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, name := range []string{"s0", "e2"} {
		waitFor(t, 20*time.Second, name+" to see e1 fail", func() bool { return recs[name].has(EventFailed, "e1") })
		t.Logf("%s saw e1 fail after %v", name, time.Since(start).Round(time.Millisecond))
		if e, _ := recs[name].find(EventFailed, "e1"); e.Member.State != StateDead || e.Member.Meta.RPCAddr != meta.RPCAddr {
			t.Errorf("%s: failed event %+v", name, e)
		}
		if recs[name].has(EventLeave, "e1") {
			t.Errorf("%s: e1 reported as left", name)
		}
		if got := names(pools[name].Members()); got != "e2=alive,s0=alive" || pools[name].NumAlive() != 2 {
			t.Errorf("%s: Members after failure = %s", name, got)
		}
	}

	// A graceful leave is a leave, not a failure.
	if err := p2.Leave(5 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if st := p2.LocalMember().State; st != StateLeft {
		t.Errorf("after Leave, local state = %s", st)
	}
	for _, name := range []string{"s0"} {
		waitFor(t, 20*time.Second, name+" to see e2 leave", func() bool { return recs[name].has(EventLeave, "e2") })
		if e, _ := recs[name].find(EventLeave, "e2"); e.Member.State != StateLeft || e.Member.Meta.Role != RoleEdge {
			t.Errorf("%s: leave event %+v", name, e)
		}
		if recs[name].has(EventFailed, "e2") {
			t.Errorf("%s: e2 reported failed", name)
		}
		if got := names(pools[name].Members()); got != "s0=alive" {
			t.Errorf("%s: Members after leave = %s", name, got)
		}
	}

	// Calls after the end.
	ctx := ctxTimeout(t, time.Second)
	for name, p := range map[string]*Pool{"closed": p1, "left": p2} {
		if err := p.Close(); err != nil {
			t.Errorf("%s: second Close: %v", name, err)
		}
		if err := p.Leave(time.Second); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: Leave = %v", name, err)
		}
		if err := p.UpdateMeta(ctx, meta); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: UpdateMeta = %v", name, err)
		}
		if _, err := p.Join(ctx, p0.Addr()); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: Join = %v", name, err)
		}
	}
	if st := p1.LocalMember().State; st != StateDead {
		t.Errorf("after Close, local state = %s", st)
	}
}

// TestJoinRetry starts a pool whose seed is not up yet.
func TestJoinRetry(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	cfg := testConfig(t, "late", RoleEdge)
	cfg.Join = []string{"127.0.0.1:" + itoa(port)}
	p, _ := startPool(t, cfg)
	waitFor(t, 10*time.Second, "two failed join attempts", func() bool { return p.joinAttempts.Load() >= 2 })
	select {
	case <-p.Joined():
		t.Fatal("Joined closed before the seed started")
	default:
	}
	seedCfg := testConfig(t, "seed", RoleServer)
	seedCfg.BindAddr = cfg.Join[0]
	seed, _ := startPool(t, seedCfg)
	select {
	case <-p.Joined():
	case <-time.After(10 * time.Second):
		t.Fatal("Joined not closed after the seed started")
	}
	waitFor(t, 10*time.Second, "both to see 2 members", func() bool { return p.NumAlive() == 2 && seed.NumAlive() == 2 })
	t.Logf("joined after %d attempts", p.joinAttempts.Load())
}

func TestJoinErrors(t *testing.T) {
	t.Parallel()
	p, _ := startPool(t, testConfig(t, "alone", RoleEdge))
	dead := "127.0.0.1:" + itoa(freePort(t))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		addrs []string
		want  error
	}{
		{"no address", context.Background(), nil, ErrJoin},
		{"nobody listens", context.Background(), []string{dead}, ErrJoin},
		{"cancelled", cancelled, []string{dead}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := p.Join(tc.ctx, tc.addrs...)
			if n != 0 || !errors.Is(err, tc.want) {
				t.Fatalf("Join = %d, %v; want 0, %v", n, err, tc.want)
			}
			if errors.Is(tc.want, ErrJoin) && !IsTempError(err) {
				t.Errorf("IsTempError(%v) = false", err)
			}
			t.Logf("error: %v", err)
		})
	}
	if p.NumAlive() != 1 {
		t.Errorf("NumAlive = %d", p.NumAlive())
	}
}

// TestPoolsApart checks that labels and keys keep pools apart.
func TestPoolsApart(t *testing.T) {
	t.Parallel()
	key1 := []byte("0123456789abcdef")
	key2 := []byte("fedcba9876543210")
	for _, tc := range []struct {
		name           string
		label1, label2 string
		key1, key2     []byte
		merge          bool
	}{
		{"same label", "meridian-lan-dc1", "meridian-lan-dc1", nil, nil, true},
		{"different labels", "meridian-lan-dc1", "meridian-lan-dc2", nil, nil, false},
		{"label and none", "meridian-lan-dc1", "", nil, nil, false},
		{"same key", "l", "l", key1, key1, true},
		{"different keys", "l", "l", key1, key2, false},
		{"key and none", "l", "l", key1, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg1, cfg2 := testConfig(t, "a", RoleServer), testConfig(t, "b", RoleServer)
			cfg1.Label, cfg2.Label = tc.label1, tc.label2
			cfg1.SecretKey, cfg2.SecretKey = tc.key1, tc.key2
			p1, _ := startPool(t, cfg1)
			p2, _ := startPool(t, cfg2)
			_, err := p2.Join(ctxTimeout(t, 5*time.Second), p1.Addr())
			if tc.merge {
				if err != nil {
					t.Fatalf("Join: %v", err)
				}
				waitFor(t, 10*time.Second, "merge", func() bool { return p1.NumAlive() == 2 && p2.NumAlive() == 2 })
				return
			}
			if !errors.Is(err, ErrJoin) {
				t.Fatalf("Join = %v, want ErrJoin", err)
			}
			if p1.NumAlive() != 1 || p2.NumAlive() != 1 {
				t.Fatalf("pools merged: %s / %s", names(p1.Members()), names(p2.Members()))
			}
		})
	}
}

// TestUndecodableMeta joins a bare memberlist whose metadata is not ours:
// it is still a member, with zero Meta.
func TestUndecodableMeta(t *testing.T) {
	t.Parallel()
	p, rec := startPool(t, testConfig(t, "ours", RoleEdge))
	mc := memberlist.DefaultLocalConfig()
	mc.Name, mc.BindAddr, mc.BindPort, mc.Label = "foreign", "127.0.0.1", 0, "meridian-test"
	mc.Delegate = rawMeta("not json")
	mc.Logger = memberlistLogger(testLogger(t))
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ml.Shutdown() })
	retry(t, 10*time.Second, func() error {
		_, err := ml.Join([]string{p.Addr()})
		return err
	})
	waitFor(t, 10*time.Second, "the foreign member", func() bool { return rec.has(EventJoin, "foreign") })
	e, _ := rec.find(EventJoin, "foreign")
	if !reflect.DeepEqual(e.Member.Meta, Meta{}) || e.Member.State != StateAlive || e.Member.Addr == "" {
		t.Errorf("event %+v", e)
	}
	if got := names(p.Members()); got != "foreign=alive,ours=alive" {
		t.Errorf("Members = %s", got)
	}
}

type rawMeta string

func (r rawMeta) NodeMeta(int) []byte               { return []byte(r) }
func (rawMeta) NotifyMsg([]byte)                    {}
func (rawMeta) GetBroadcasts(int, int) [][]byte     { return nil }
func (rawMeta) LocalState(bool) []byte              { return nil }
func (rawMeta) MergeRemoteState(buf []byte, _ bool) {}

// TestConfigCopied checks that New does not keep the caller's maps.
func TestConfigCopied(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, "copy", RoleEdge)
	p, _ := startPool(t, cfg)
	cfg.Meta.Tags["name"] = "changed"
	if got := p.LocalMember().Meta.Tags["name"]; got != "copy" {
		t.Errorf("tag = %q, want %q", got, "copy")
	}
	m := p.Members()[0]
	m.Meta.Tags["name"] = "changed"
	if got := p.Members()[0].Meta.Tags["name"]; got != "copy" {
		t.Errorf("Members shares its maps: tag = %q", got)
	}
}

func TestUpdateMetaErrors(t *testing.T) {
	t.Parallel()
	p, _ := startPool(t, testConfig(t, "u", RoleEdge))
	huge := testMeta("u", RoleEdge)
	huge.Tags["blob"] = string(make([]byte, 600))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		meta Meta
		want error
	}{
		{"too large", context.Background(), huge, ErrMetaTooLarge},
		{"no role", context.Background(), Meta{DC: "dc1"}, ErrInvalidConfig},
		{"cancelled", cancelled, testMeta("u", RoleEdge), context.Canceled},
		{"alone, nobody to tell", context.Background(), testMeta("u", RoleEdge), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := p.UpdateMeta(tc.ctx, tc.meta); !errors.Is(err, tc.want) {
				t.Fatalf("UpdateMeta = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestGoroutinesAfterClose runs pools through their whole life and checks
// that the goroutine count returns to where it was. It is not parallel, so
// no other test's goroutines are counted.
func TestGoroutinesAfterClose(t *testing.T) {
	base := runtime.NumGoroutine()
	p0, _ := startPool(t, testConfig(t, "g0", RoleServer))
	var ps []*Pool
	for _, name := range []string{"g1", "g2", "g3"} {
		cfg := testConfig(t, name, RoleEdge)
		cfg.Join = []string{p0.Addr()}
		p, _ := startPool(t, cfg)
		ps = append(ps, p)
	}
	waitFor(t, 10*time.Second, "4 members", func() bool { return p0.NumAlive() == 4 })
	if err := ps[0].UpdateMeta(ctxTimeout(t, 5*time.Second), testMeta("g1x", RoleEdge)); err != nil {
		t.Fatal(err)
	}
	if err := ps[1].Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(ps, p0) {
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := waitGoroutines(base, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
