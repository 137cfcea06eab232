package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"meridian/rpc"
)

// randomHistory applies n random commands over a small key space, so that
// keys are created, updated, deleted and re-created, in batches of random
// size. It leaves tombstones and, with enough deletes, a floor.
func randomHistory(h *harness, seed uint64, n int) {
	r := rand.New(rand.NewPCG(seed, 1))
	key := func() string {
		return fmt.Sprintf("%c/%c/%d", 'a'+r.IntN(4), 'a'+r.IntN(4), r.IntN(20))
	}
	for n > 0 {
		size := 1 + r.IntN(16)
		var cmds [][]byte
		for ; size > 0 && n > 0; size, n = size-1, n-1 {
			switch p := r.IntN(100); {
			case p < 50:
				c := &Command{Op: OpPut, Key: key(), Value: []byte(fmt.Sprint(r.Uint32())), Flags: uint64(r.IntN(3))}
				if r.IntN(4) == 0 {
					c.HasCAS, c.CASIndex = true, uint64(r.IntN(int(h.next)+1))
				}
				cmds = append(cmds, c.Marshal())
			case p < 75:
				c := &Command{Op: OpDelete, Key: key()}
				if r.IntN(4) == 0 {
					c.HasCAS, c.CASIndex = true, uint64(r.IntN(int(h.next)+1))
				}
				cmds = append(cmds, c.Marshal())
			case p < 80:
				cmds = append(cmds, treeCmd(key()[:2+r.IntN(3)]))
			case p < 98:
				var ops []rpc.TxnOp
				verbs := []string{rpc.TxnSet, rpc.TxnGet, rpc.TxnDelete, rpc.TxnCAS, rpc.TxnDeleteCAS,
					rpc.TxnCheckIndex, rpc.TxnCheckNotExists}
				for range 1 + r.IntN(5) {
					ops = append(ops, rpc.TxnOp{Verb: verbs[r.IntN(len(verbs))], Key: key(),
						Value: []byte("t"), Index: uint64(r.IntN(int(h.next) + 1))})
				}
				cmds = append(cmds, txnCmd(ops...))
			default:
				cmds = append(cmds, []byte{1, byte(r.IntN(8)), 0xff}) // garbage
			}
		}
		h.batch(cmds...)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		build func(h *harness)
	}{
		{"empty", func(h *harness) {}},
		{"applied index only", func(h *harness) { h.mustOK(delCmd("nothing")) }},
		{"entries and tombstones", func(h *harness) {
			h.mustOK(putFlagsCmd("a/1", "x", 3), putCmd("a/2", ""), putCmd("b", strings.Repeat("v", 3000)),
				putCmd("日本", "語"), putCmd("gone", "1"), delCmd("gone"), putCmd("a/1", "y"))
		}},
		{"random history", func(h *harness) { randomHistory(h, 1, 3000) }},
		{"with a floor", func(h *harness) {
			var cmds [][]byte
			for i := range TombstoneLimit + 10 {
				cmds = append(cmds, putCmd(fmt.Sprintf("k/%05d", i), "v"))
			}
			h.batch(cmds...)
			for i := 0; i < TombstoneLimit+10; i += 2 {
				h.batch(delCmd(fmt.Sprintf("k/%05d", i)))
			}
			h.mustOK(delCmd("k/00001"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.build(h)
			orig := h.m.View()
			snap := h.snapshot()
			m2, err := restored(snap)
			if err != nil {
				t.Fatal(err)
			}
			got := m2.View()
			if got.Index() != orig.Index() || got.floor != orig.floor || got.Len() != orig.Len() {
				t.Fatalf("index %d floor %d len %d, want %d %d %d",
					got.Index(), got.floor, got.Len(), orig.Index(), orig.floor, orig.Len())
			}
			e1, t1 := dump(orig)
			e2, t2 := dump(got)
			if !reflect.DeepEqual(e1, e2) || !reflect.DeepEqual(t1, t2) {
				t.Fatal("entries or tombstones differ")
			}
			if !bytes.Equal(snapshotBytes(t, got), snap) {
				t.Fatal("snapshot of the restored machine differs")
			}
			// Both continue identically.
			h2 := &harness{t: t, m: m2, next: h.next}
			randomHistory(h, 99, 300)
			randomHistory(h2, 99, 300)
			if !bytes.Equal(h.snapshot(), h2.snapshot()) {
				t.Fatal("machines diverged after restore")
			}
		})
	}
}

func TestSnapshotCorrupt(t *testing.T) {
	h := newHarness(t)
	h.mustOK(putFlagsCmd("a/1", "x", 3), putCmd("a/2", "yy"), putCmd("b", "zzz"), putCmd("gone", "1"), delCmd("gone"))
	snap := h.snapshot()
	isCorrupt := func(err error) bool {
		return errors.Is(err, ErrCorruptSnapshot) || errors.Is(err, ErrSnapshotVersion)
	}
	check := func(t *testing.T, name string, b []byte) {
		t.Helper()
		m := New()
		m.batchOf(t, putCmd("keep", "me"))
		before := m.View()
		err := m.RestoreSnapshot(bytes.NewReader(b))
		if !isCorrupt(err) {
			t.Fatalf("%s: err = %v, want a corrupt-snapshot error", name, err)
		}
		if m.View() != before {
			t.Fatalf("%s: state replaced by a bad snapshot", name)
		}
	}
	t.Run("truncated", func(t *testing.T) {
		for n := range len(snap) {
			check(t, fmt.Sprintf("first %d of %d bytes", n, len(snap)), snap[:n])
		}
	})
	t.Run("bit flipped", func(t *testing.T) {
		for i := range len(snap) {
			for bit := range 8 {
				b := bytes.Clone(snap)
				b[i] ^= 1 << bit
				check(t, fmt.Sprintf("byte %d bit %d", i, bit), b)
			}
		}
	})
	t.Run("trailing data", func(t *testing.T) {
		check(t, "trailing", append(bytes.Clone(snap), 0))
	})
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "kv: corrupt snapshot: truncated in header"},
		{"magic", append([]byte("XKVS"), snap[4:]...), `kv: corrupt snapshot: bad magic "XKVS" (want "MKVS")`},
		{"version", append(append([]byte("MKVS"), 2), snap[5:]...), "kv: unsupported snapshot version: 2 (this build reads 1)"},
		{"checksum", append(bytes.Clone(snap[:len(snap)-1]), snap[len(snap)-1]^1), "kv: corrupt snapshot: checksum"},
		{"cut in an entry", snap[:headerSize+3], "kv: corrupt snapshot: truncated in entry 1 of 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New().RestoreSnapshot(bytes.NewReader(tt.b))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q...", err, tt.want)
			}
		})
	}
}

func (m *Machine) batchOf(t *testing.T, cmds ...[]byte) {
	b := m.Begin()
	for _, c := range cmds {
		b.Apply(m.View().Index()+1, c)
	}
	b.Commit()
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after < len(p) {
		n := f.after
		f.after = 0
		return n, io.ErrShortWrite
	}
	f.after -= len(p)
	return len(p), nil
}

func TestSnapshotWriteError(t *testing.T) {
	h := newHarness(t)
	randomHistory(h, 3, 500)
	size := len(h.snapshot())
	for _, after := range []int{0, 10, size / 2, size - 4, size - 1} {
		err := h.m.View().WriteSnapshot(&failWriter{after: after})
		if !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("fail after %d: err = %v", after, err)
		}
	}
}

func TestRestoreWakesWatchers(t *testing.T) {
	h := newHarness(t)
	h.mustOK(putCmd("a/x", "1"), putCmd("b/y", "2"))
	_, _, wk := h.m.View().Get("a/x")
	_, _, wm := h.m.View().Get("missing/key")
	_, _, _, wp := h.m.View().List("b/", false, "")
	if err := h.m.RestoreSnapshot(bytes.NewReader(snapshotBytes(t, New().View()))); err != nil {
		t.Fatal(err)
	}
	if !closed(wk) || !closed(wm) || !closed(wp) {
		t.Errorf("closed: key %v, missing %v, prefix %v", closed(wk), closed(wm), closed(wp))
	}
	if h.m.View().Len() != 0 || h.m.View().Index() != 0 {
		t.Error("not restored")
	}
}

// goldenSnapshot is a small state whose snapshot is pinned as a seed.
func goldenSnapshot(t testing.TB) []byte {
	h := newHarness(t)
	h.mustOK(putFlagsCmd("a/1", "x", 3), putCmd("a/2", ""), putCmd("日本", "語"),
		putCmd("gone", "1"), delCmd("gone"), txnCmd(set("t", "v"), del("a/2")))
	return h.snapshot()
}

func TestSnapshotGolden(t *testing.T) {
	checkSeed(t, "FuzzRestoreSnapshot", "small", fmt.Sprintf("[]byte(%q)", goldenSnapshot(t)))
	checkSeed(t, "FuzzRestoreSnapshot", "empty", fmt.Sprintf("[]byte(%q)", snapshotBytes(t, New().View())))
}

// Whatever the bytes, RestoreSnapshot either refuses them, leaving the
// machine as it was, or yields a sound state whose snapshot is the input.
func FuzzRestoreSnapshot(f *testing.F) {
	f.Add(goldenSnapshot(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		try := func(b []byte) {
			m := New()
			before := m.View()
			if err := m.RestoreSnapshot(bytes.NewReader(b)); err != nil {
				if !errors.Is(err, ErrCorruptSnapshot) && !errors.Is(err, ErrSnapshotVersion) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				if m.View() != before {
					t.Fatal("state replaced by a bad snapshot")
				}
				return
			}
			checkInvariants(t, m.View())
			if !bytes.Equal(snapshotBytes(t, m.View()), b) {
				t.Fatal("snapshot of the restored state differs from the input")
			}
		}
		try(b)
		// Again with a checksum that matches, to reach the checks of the
		// structure behind it.
		if len(b) >= 4 {
			fixed := bytes.Clone(b)
			binary.BigEndian.PutUint32(fixed[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
			try(fixed)
		}
	})
}

type brokenReader struct {
	r   io.Reader
	n   int
	err error
}

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, b.err
	}
	p = p[:min(len(p), b.n)]
	n, err := b.r.Read(p)
	b.n -= n
	return n, err
}

// A failing reader is not a corrupt snapshot: its error is passed on.
func TestRestoreReadError(t *testing.T) {
	snap := goldenSnapshot(t)
	boom := errors.New("disk on fire")
	for _, n := range []int{0, 10, headerSize + 2, len(snap) - 2, len(snap)} {
		err := New().RestoreSnapshot(&brokenReader{r: bytes.NewReader(snap), n: n, err: boom})
		if !errors.Is(err, boom) || errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("fail after %d bytes: err = %v", n, err)
		}
	}
}
