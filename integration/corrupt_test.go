package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
	"meridian/server/raftnode"
)

// TestCorruptDataDir damages, one kind at a time, each kind of file a
// server's data directory holds, and starts the server on it: it must
// exit with a non-zero status and an error that names the file, never
// serve what is left, and never die of a bare panic. The files are:
// meridian.json (ours, with a checksum), dragonboat's flag files
// (raft/dragonboat.ds, raft/NODEHOST.ID, each snapshot's
// snapshot.metadata), the snapshot files (*.gbsnap) and the LogDB's
// (Pebble's CURRENT and tables). Last, the undamaged directory starts and
// serves every key: the checks do not refuse a good directory.
//
// Write-ahead logs (raft/.../logdb-0/*.log): see TestCorruptWALMiddle
// (damage with good records after it is refused) and
// TestCorruptWALCutShort (a log cut short is refused).
func TestCorruptDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: starts a server a dozen times")
	}
	c, want := corruptFixture(t)
	dir := c.DataDir(0)
	pristine := t.TempDir()
	copyDir(t, dir, pristine)
	files := dataFiles(t, dir)
	t.Logf("data directory files: %v", sortedKeys(files))

	type damage struct {
		name string
		file string // a regexp of the path under the data directory
		do   func(path string) error
		want string // in the error, besides the file's name
		// optional: the file may not exist (a LogDB table exists once
		// Pebble flushed its memtable), or not be in use
		optional bool
	}
	cases := []damage{
		{"meridian.json truncated", `^meridian\.json$`, truncateTo(20), "is corrupt", false},
		{"meridian.json edited", `^meridian\.json$`, replaceIn(`"kv_shards": 1`, `"kv_shards": 3`), "checksum mismatch", false},
		{"dragonboat.ds truncated", `^raft/dragonboat\.ds$`, truncateTo(30), "checksum mismatch", false},
		{"NODEHOST.ID damaged", `^raft/NODEHOST\.ID$`, flipAt(10), "checksum mismatch", false},
		{"snapshot.metadata damaged", `/snapshot-[0-9A-F]{16}/snapshot\.metadata$`, flipAt(40), "checksum mismatch", false},
		{"snapshot truncated", `/snapshot-[0-9A-F]{16}/[^/]+\.gbsnap$`, truncateBy(100), "truncated", false},
		{"snapshot damaged", `/snapshot-[0-9A-F]{16}/[^/]+\.gbsnap$`, flipAt(4096), "checksum mismatch", false},
		{"LogDB CURRENT truncated", `/logdb-0/CURRENT$`, truncateTo(5), "malformed", false},
		{"LogDB table truncated", `/logdb-0/[0-9]+\.sst$`, truncateTo(1000), "size mismatch", true},
	}
	for _, tc := range cases {
		rel := ""
		for f := range files {
			if regexp.MustCompile(tc.file).MatchString(f) {
				rel = f
				break
			}
		}
		if rel == "" && tc.optional {
			t.Logf("%s: no file matches %s in this run", tc.name, tc.file)
			continue
		}
		if rel == "" {
			t.Errorf("%s: no file matches %s in the data directory", tc.name, tc.file)
			continue
		}
		restoreDir(t, pristine, dir)
		if err := tc.do(filepath.Join(dir, rel)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		code, out, running := c.RestartExpectingExit(0, 15*time.Second)
		if running && tc.optional {
			// A table that a compaction replaced may be left until
			// Pebble deletes it: damaging it is harmless. The server
			// must then serve every key.
			c.Restart(0)
			ctx := within(t, 60*time.Second)
			if err := c.WaitReady(ctx); err != nil {
				t.Fatal(err)
			}
			got, _, err := list(ctx, c.Client(0), "corrupt/", rpc.ConsistencyDefault)
			if d := diff(got, want); err != nil || d != "" {
				t.Errorf("%s (%s): the server started and serves: %v %s", tc.name, rel, err, d)
			} else {
				t.Logf("%s (%s): not a table in use; the server serves every key", tc.name, rel)
			}
			c.Kill(0)
			continue
		}
		problem := ""
		switch {
		case running:
			problem = "still running after 15 s"
		case code == 0:
			problem = "exited with status 0"
		case strings.Contains(out, "panic:") || strings.Contains(out, "goroutine "):
			problem = "died of a panic"
		case !strings.Contains(out, filepath.Base(rel)):
			problem = "its error does not name " + filepath.Base(rel)
		case !strings.Contains(out, tc.want):
			problem = fmt.Sprintf("its error does not say %q", tc.want)
		}
		if problem != "" {
			t.Errorf("%s (%s): the server %s; its output:\n%s", tc.name, rel, problem, lastLinesOf(out, 15))
			continue
		}
		t.Logf("%s: exit status %d: %s", tc.name, code, errorLine(out))
	}

	restoreDir(t, pristine, dir)
	c.Restart(0)
	ctx := within(t, 60*time.Second)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := retryRead(t, ctx, "list after restoring the directory", func(ctx context.Context) (err error) {
		got, _, err = list(ctx, c.Client(0), "corrupt/", rpc.ConsistencyDefault)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if d := diff(got, want); d != "" {
		t.Errorf("the undamaged directory: %s", d)
	}
}

// TestCorruptWALMiddle damages a write-ahead log of the LogDB inside its
// records, with good records after the damage (what no crash leaves):
// the server must refuse to start, naming the log, rather than let Pebble
// replay it up to the damage and drop the rest.
func TestCorruptWALMiddle(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: writes past a snapshot")
	}
	c, _ := corruptFixture(t)
	dir := c.DataDir(0)
	var wal string
	var largest int64
	for f := range dataFiles(t, dir) {
		if strings.HasSuffix(f, ".log") && strings.Contains(f, "logdb-") {
			if st, err := os.Stat(filepath.Join(dir, f)); err == nil && st.Size() > largest {
				wal, largest = f, st.Size()
			}
		}
	}
	if largest < 64<<10 {
		t.Fatalf("no write-ahead log of two blocks or more in the data directory (largest %q, %d bytes)", wal, largest)
	}
	if err := flipAt(100)(filepath.Join(dir, wal)); err != nil {
		t.Fatal(err)
	}
	code, out, running := c.RestartExpectingExit(0, 15*time.Second)
	switch {
	case running:
		t.Fatalf("the server started on %s damaged at byte 100", wal)
	case code == 0 || !strings.Contains(out, filepath.Base(wal)) || !strings.Contains(out, "write-ahead log"):
		t.Fatalf("exit status %d; want non-zero naming %s; output:\n%s", code, filepath.Base(wal), lastLinesOf(out, 15))
	}
	t.Logf("refused: %s", errorLine(out))
}

// TestCorruptWALCutShort cuts 4 KB off the newest write-ahead log of a
// single server that acknowledged every write, once the server has
// recorded how far it applied (raftnode's applied record, written about
// every second and at a clean stop), and restarts it: Pebble alone would
// replay the shortened log as if a crash had torn it and serve fewer keys
// without a word; the server must refuse to start, saying its log lost
// entries it had applied. (Writes in the second before a crash are not
// covered: the record lags by up to its interval.)
func TestCorruptWALCutShort(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: writes past a snapshot")
	}
	c, _ := corruptFixture(t)
	c.Restart(0)
	ctx := within(t, 60*time.Second)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	more := map[string]string{}
	for i := range 500 {
		more[fmt.Sprintf("corrupt/more%04d", i)] = fmt.Sprintf("value %d", i)
	}
	if err := putBatches(ctx, []string{c.HTTPAddr(0)}, more); err != nil {
		t.Fatal(err)
	}
	res, err := putIdempotent(ctx, c.Client(0), "corrupt/last", "x")
	if err != nil {
		t.Fatal(err)
	}
	last := res.Index
	if err := cluster.Eventually(ctx, "the applied record to reach the last write", func(ctx context.Context) error {
		b, err := os.ReadFile(filepath.Join(c.DataDir(0), "raft-applied.json"))
		if err != nil {
			return err
		}
		var rec struct {
			Applied map[string]uint64 `json:"applied"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return err
		}
		if got := rec.Applied["2"]; got < last {
			return fmt.Errorf("recorded %d, last write %d", got, last)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.Kill(0)
	dir := c.DataDir(0)
	var wal string
	var newest time.Time
	for f := range dataFiles(t, dir) {
		if strings.HasSuffix(f, ".log") && strings.Contains(f, "logdb-") {
			st, err := os.Stat(filepath.Join(dir, f))
			if err == nil && st.Size() > 4096 && st.ModTime().After(newest) {
				wal, newest = f, st.ModTime()
			}
		}
	}
	if wal == "" {
		t.Fatal("no write-ahead log in the data directory")
	}
	if err := truncateBy(4096)(filepath.Join(dir, wal)); err != nil {
		t.Fatal(err)
	}
	code, out, running := c.RestartExpectingExit(0, 15*time.Second)
	switch {
	case running:
		t.Fatalf("the server started on %s cut short by 4 KB (applied up to %d before)", wal, last)
	case code == 0 || !strings.Contains(out, "lost entries") || !strings.Contains(out, "cut short"):
		t.Fatalf("exit status %d; want non-zero saying the log lost entries; output:\n%s", code, lastLinesOf(out, 15))
	}
	t.Logf("refused: %s", errorLine(out))
}

// corruptFixture starts one server with one KV shard, writes past a
// snapshot (raftnode.DefaultConfig's SnapshotEntries) so that the data
// directory holds every kind of file, and stops it.
func corruptFixture(t *testing.T) (*cluster.Cluster, map[string]string) {
	c := cluster.Start(t, cluster.Options{Servers: 1, KVShards: 1})
	ctx := within(t, 90*time.Second)
	want := map[string]string{}
	n := int(raftnode.DefaultConfig().SnapshotEntries) + 500
	for i := range n {
		want[fmt.Sprintf("corrupt/k%05d", i)] = fmt.Sprintf("value %d", i)
	}
	if err := putBatches(ctx, []string{c.HTTPAddr(0)}, want); err != nil {
		t.Fatal(err)
	}
	// A finished snapshot: snapshot-<index>/ (not .generating) with its
	// metadata, written last.
	finished := regexp.MustCompile(`/snapshot-[0-9A-F]{16}/snapshot\.metadata$`)
	if err := cluster.Eventually(ctx, "a finished snapshot", func(context.Context) error {
		for f := range dataFiles(t, c.DataDir(0)) {
			if finished.MatchString(f) {
				return nil
			}
		}
		return fmt.Errorf("none yet")
	}); err != nil {
		t.Fatal(err)
	}
	c.Kill(0)
	return c, want
}

// dataFiles lists the files under dir, by path relative to it (slashes).
func dataFiles(t *testing.T, dir string) map[string]bool {
	out := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", from, to, err, out)
	}
}

// restoreDir makes dir a copy of pristine again.
func restoreDir(t *testing.T, pristine, dir string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyDir(t, pristine, dir)
}

func truncateTo(n int64) func(string) error {
	return func(path string) error { return os.Truncate(path, n) }
}

func truncateBy(n int64) func(string) error {
	return func(path string) error {
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		return os.Truncate(path, max(0, st.Size()-n))
	}
}

// flipAt inverts 4 bytes at offset off (or the last 4 of a shorter file).
func flipAt(off int) func(string) error {
	return func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if len(b) < 4 {
			return fmt.Errorf("%s: only %d bytes", path, len(b))
		}
		off := min(off, len(b)-4)
		for i := off; i < off+4; i++ {
			b[i] ^= 0xff
		}
		return os.WriteFile(path, b, 0o644)
	}
}

func replaceIn(old, new string) func(string) error {
	return func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), old) {
			return fmt.Errorf("%s does not hold %q: %s", path, old, b)
		}
		return os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
	}
}

// errorLine picks the line of a server's output that says why it stopped.
func errorLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "level=ERROR") {
			return l
		}
	}
	return lastLinesOf(out, 1)
}

func lastLinesOf(out string, n int) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
