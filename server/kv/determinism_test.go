package kv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
)

// The same entries give the same state and results however they are split
// into batches, and indexes of keys and prefixes never go back.
func TestDeterminism(t *testing.T) {
	// Record one random history as a list of commands.
	rec := newHarness(t)
	var cmds [][]byte
	rec.afterBatch = func(c [][]byte) { cmds = append(cmds, c...) }
	randomHistory(rec, 7, 4000)
	want := rec.snapshot()

	probes := []string{"", "a/", "a/a/", "b/c/1", "c/", "d/d/19", "zz"}
	for _, split := range []int{1, 3, 64, len(cmds)} {
		t.Run(fmt.Sprintf("batches of %d", split), func(t *testing.T) {
			h := newHarness(t)
			last := map[string]uint64{}
			var results []Result
			for i := 0; i < len(cmds); i += split {
				results = append(results, h.batch(cmds[i:min(i+split, len(cmds))]...)...)
				v := h.m.View()
				checkInvariants(t, v)
				for _, p := range probes {
					_, _, idx, _ := v.List(p, true, "")
					_, gidx, _ := v.Get(p)
					for _, x := range []struct {
						k string
						i uint64
					}{{"list " + p, idx}, {"get " + p, gidx}} {
						if x.i < last[x.k] || x.i == 0 {
							t.Fatalf("%s: index %d after %d", x.k, x.i, last[x.k])
						}
						last[x.k] = x.i
					}
				}
			}
			if got := h.snapshot(); !bytes.Equal(got, want) {
				t.Fatal("state differs")
			}
			// Results too: replay in one machine at the recorded split.
			h2 := newHarness(t)
			var results2 []Result
			for _, c := range cmds {
				results2 = append(results2, h2.apply(c))
			}
			if !reflect.DeepEqual(results, results2) {
				t.Fatal("results differ")
			}
		})
	}
}

// Readers, snapshots and a writer at once; run with -race.
func TestConcurrentReaders(t *testing.T) {
	h := newHarness(t)
	randomHistory(h, 11, 500)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 2))
			for {
				select {
				case <-stop:
					return
				default:
				}
				v := h.m.View()
				switch r.IntN(3) {
				case 0:
					v.Get(fmt.Sprintf("%c/a/%d", 'a'+r.IntN(4), r.IntN(20)))
				case 1:
					v.List("b/", r.IntN(2) == 0, "/")
				case 2:
					var buf bytes.Buffer
					if err := v.WriteSnapshot(&buf); err != nil {
						t.Error(err)
						return
					}
					if _, err := restored(buf.Bytes()); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	randomHistory(h, 12, 3000)
	close(stop)
	wg.Wait()
	checkInvariants(t, h.m.View())
}
