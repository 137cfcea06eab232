// Package fsync measures what a Raft step's fsync costs on this machine's
// disk: 4 KiB appended and fdatasync'd in a loop, by one writer or by three
// at once (three servers sharing one disk, as in docs/performance.md).
//
//	go test ./integration/bench/fsync -bench . -benchtime 1500x -count 3
//
// Each result reports the p50 and p99 of one fdatasync in µs; ns/op is the
// wall time per write across the writers. The file is new and appended to
// (file=append, as a fresh WAL), preallocated with fallocate
// (file=fallocate), or already written and overwritten in place
// (file=written, as a recycled WAL).
package fsync

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fileSize is how far a preallocated or written file reaches: more than
// any run appends.
const fileSize = 64 << 20

func BenchmarkFdatasync(b *testing.B) {
	for _, mode := range []string{"append", "fallocate", "written"} {
		for _, writers := range []int{1, 3} {
			b.Run(fmt.Sprintf("file=%s/writers=%d", mode, writers), func(b *testing.B) {
				benchFdatasync(b, mode, writers)
			})
		}
	}
}

func benchFdatasync(b *testing.B, mode string, writers int) {
	dir := b.TempDir()
	files := make([]*os.File, writers)
	for i := range files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("wal-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := prepare(f, mode); err != nil {
			b.Fatal(err)
		}
		files[i] = f
	}
	buf := make([]byte, 4096)
	lat := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w, f := range files {
		wg.Go(func() {
			for range b.N / writers {
				if _, err := f.Write(buf); err != nil {
					b.Error(err)
					return
				}
				t := time.Now()
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}

// prepare readies a new, empty file for mode: left empty (append),
// preallocated (fallocate), or written through and synced, then rewound
// (written).
func prepare(f *os.File, mode string) error {
	switch mode {
	case "fallocate":
		if err := syscall.Fallocate(int(f.Fd()), 0, 0, fileSize); err != nil {
			return err
		}
	case "written":
		chunk := make([]byte, 1<<20)
		for range fileSize / len(chunk) {
			if _, err := f.Write(chunk); err != nil {
				return err
			}
		}
		if _, err := f.Seek(0, 0); err != nil {
			return err
		}
	}
	return f.Sync()
}
