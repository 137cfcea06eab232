package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
	"meridian/server/shard"
)

// TestDiskFull puts one server's data directory of three on a small tmpfs
// (mounted by the test: it skips, saying why, where mounting is not
// permitted) and fills it with a filler file; the writes then go through
// the other two, so the full server receives them as a follower (its own
// disk guard only refuses writes proposed through it: see
// TestDiskFullRefusesWrites). What happens, by design of the LogDB
// (Pebble under dragonboat): the server goes on while its
// preallocated write-ahead log has room, and exits (status 2) when a
// write finds none, with "no space left on device" and the file's path
// in its output. The test checks that: the full server exits and says
// so; writes and reads go on through the other two servers, and every
// write is acknowledged; once the filler is removed, the server restarts
// from its directory, catches up and serves every key.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: fills a disk")
	}
	// Before Start: cleanups run last in, first out, so the tmpfs is
	// unmounted after the cluster's cleanup has killed the servers.
	mnt := mountTmpfs(t, "48m")
	c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 1})
	ctx := within(t, 120*time.Second)
	const full = 0
	moveDataDir(t, ctx, c, full, mnt)
	before := map[string]string{"full/before": "x"}
	if err := putBatches(ctx, c.HTTPAddrs(), before); err != nil {
		t.Fatal(err)
	}

	c.ExpectExit(full)
	filler := filepath.Join(mnt, "filler")
	if err := fillDisk(filler); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s is full", mnt)

	// Write through the other servers until the full one gives up.
	others := []string{c.HTTPAddr(1), c.HTTPAddr(2)}
	want := map[string]string{"full/before": "x"}
	err := cluster.Eventually(ctx, c.Node(full)+" exits on the full disk", func(ctx context.Context) error {
		if !c.Running(full) {
			return nil
		}
		batch := map[string]string{}
		for i := range 512 {
			k := fmt.Sprintf("full/k%06d", len(want)+i)
			batch[k] = strings.Repeat("v", 200)
		}
		if err := putBatches(ctx, others, batch); err != nil {
			return err
		}
		for k, v := range batch {
			want[k] = v
		}
		return fmt.Errorf("still running after %d writes", len(want))
	})
	if err != nil {
		t.Fatal(err)
	}
	out := c.LastLines(full)
	said := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "no space left on device") {
			said = l
			break
		}
	}
	if said == "" {
		t.Errorf("%s exited without saying the disk is full; last lines:\n%s", c.Node(full), out)
	}
	t.Logf("%s exited after %d writes, saying: %s", c.Node(full), len(want), said)

	// The others go on: writes are acknowledged, reads answer.
	more := map[string]string{"full/after": "y"}
	if err := putBatches(ctx, others, more); err != nil {
		t.Fatal(err)
	}
	want["full/after"] = "y"
	for _, i := range []int{1, 2} {
		got, _, err := list(ctx, c.Client(i), "full/", rpc.ConsistencyDefault)
		if err != nil {
			t.Fatalf("%s: read while %s is down: %v", c.Node(i), c.Node(full), err)
		}
		if d := diff(got, want); d != "" {
			t.Errorf("%s while %s is down: %s", c.Node(i), c.Node(full), d)
		}
	}

	// Space returns: the server starts from its directory and catches up.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	c.Restart(full)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	id := shard.ForKey("full/", c.KVShards())
	err = cluster.Eventually(ctx, c.Node(full)+" serves every key from its own replica", func(ctx context.Context) error {
		got, _, err := list(ctx, c.Client(full), "full/", rpc.ConsistencyStale)
		if err != nil {
			return err
		}
		if d := diff(got, want); d != "" {
			return errors.New(d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := putIdempotent(ctx, c.Client(full), "full/last", "z")
	if err != nil {
		t.Fatalf("a write through %s after the space returned: %v", c.Node(full), err)
	}
	t.Logf("%s caught up; a write through it was acknowledged at index %d of %v", c.Node(full), res.Index, id)
}

// fillDisk writes zeros into path until the file system has no room left.
func fillDisk(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			return err
		}
	}
	// Whatever a smaller write still fits.
	for _, n := range []int{64 << 10, 4 << 10, 512} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	return f.Sync()
}

// TestDiskFullRefusesWrites: a server's data directory on a small tmpfs
// (mounted by the test; skipped where that is not permitted) is filled
// until less than the server's disk reserve is free. Writes then fail
// with a clear "disk full" error, retryable, and change nothing; reads
// keep working; once the filler is removed, writes are accepted again
// without a restart. The server never goes down.
func TestDiskFullRefusesWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: fills a disk")
	}
	mnt := mountTmpfs(t, "128m")
	// The reserve is at most a 20th of the filesystem: 6.4 MiB here.
	c := cluster.Start(t, cluster.Options{Servers: 1, KVShards: 1})
	ctx := within(t, 120*time.Second)
	moveDataDir(t, ctx, c, 0, mnt)
	cl := c.Client(0)
	if _, err := putIdempotent(ctx, cl, "disk/before", "x"); err != nil {
		t.Fatal(err)
	}

	// Leave 3 MiB free: under the reserve, with room for the log.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, free-3<<20), 0o644); err != nil {
		t.Fatal(err)
	}

	// The server reads the free space at most every 250 ms, so a probe
	// may still be accepted just after the filler lands; probes use their
	// own key. Once one is refused, the write that must change nothing.
	err := cluster.Eventually(ctx, "writes refused for lack of space", func(ctx context.Context) error {
		if err := cl.Call(ctx, rpc.MethodKVPut, rpc.KVPutParams{Key: "disk/probe", Value: []byte("p")}, nil); err == nil {
			return errors.New("a write was accepted")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	refused := cl.Call(ctx, rpc.MethodKVPut, rpc.KVPutParams{Key: "disk/during", Value: []byte("no")}, nil)
	var re *rpc.Error
	if !errors.As(refused, &re) || re.Code != rpc.CodeUnavailable || !re.Retryable() || !strings.Contains(re.Message, "disk full") {
		t.Fatalf("a write on a full disk: %v; want a retryable -32003 saying the disk is full", refused)
	}
	t.Logf("refused: %s", re.Message)
	var got rpc.KVGetResult
	if err := cl.Call(ctx, rpc.MethodKVGet, rpc.KVGetParams{Key: "disk/before"}, &got); err != nil || got.Entry == nil || string(got.Entry.Value) != "x" {
		t.Fatalf("a linearizable read on a full disk: %+v, %v", got.Entry, err)
	}
	if !c.Running(0) {
		t.Fatal("the server stopped")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	err = cluster.Eventually(ctx, "writes accepted once space returns", func(ctx context.Context) error {
		_, err := putIdempotent(ctx, cl, "disk/after", "y")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Call(ctx, rpc.MethodKVGet, rpc.KVGetParams{Key: "disk/during"}, &got); err != nil || got.Entry != nil {
		t.Fatalf("disk/during, refused, is %+v (%v); want absent", got.Entry, err)
	}
}

// mountTmpfs mounts a tmpfs of size (mount's syntax, "48m") on a new
// directory, unmounted when the test ends, or skips the test saying why it
// cannot. Call it before cluster.Start: cleanups run last in, first out.
func mountTmpfs(t *testing.T, size string) string {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s): this test needs root with CAP_SYS_ADMIN", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// moveDataDir moves server i's data directory onto mnt, leaving a link
// at its path, and restarts the server there.
func moveDataDir(t *testing.T, ctx context.Context, c *cluster.Cluster, i int, mnt string) {
	t.Helper()
	dir := c.DataDir(i)
	c.Kill(i)
	if err := os.Rename(dir, dir+".disk"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mnt, dir); err != nil {
		t.Fatal(err)
	}
	copyDir(t, dir+".disk", mnt)
	c.Restart(i)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}
