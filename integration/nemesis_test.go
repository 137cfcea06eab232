package integration

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"meridian/integration/cluster"
)

// partitioner cuts Raft traffic between servers of a cluster with nftables.
//
// Every server binds 127.0.0.1, so addresses cannot tell one server's
// packets from another's. Each server runs in a cgroup (v2) of its own
// instead, and a rule drops the packets that sockets of server a's cgroup
// send to server b's Raft port. Dragonboat's connections carry messages one
// way (the dialer sends, the listener only reads), so dropping a's packets
// to b's Raft port stops every message from a to b. A socket belongs to the
// cgroup of the process that created it, so a server must start inside its
// cgroup: launch starts it with the test process moved into that cgroup
// for the duration of the fork.
//
// It needs Linux, root, the nft tool (Debian package nftables), a writable
// cgroup2 hierarchy mounted under /sys/fs/cgroup (nft resolves cgroup
// paths there) and the kernel's nft socket match; newPartitioner says which
// is missing.
type partitioner struct {
	t     *testing.T
	c     *cluster.Cluster
	table string   // our nft table, "inet <name>"
	dirs  []string // server i's cgroup directory
	paths []string // server i's cgroup path as nft names it
	home  string   // the test process's own cgroup directory
}

// cgroup2Mount finds the cgroup2 mount point.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts ... - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		if fs := strings.Fields(post); len(fs) > 0 && fs[0] == "cgroup2" {
			if f := strings.Fields(pre); len(f) >= 5 {
				return f[4], nil
			}
		}
	}
	return "", errors.New("no cgroup2 file system is mounted")
}

// ownCgroup returns the test process's cgroup2 path ("/..." from the root).
func ownCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", errors.New("no cgroup2 entry in /proc/self/cgroup")
}

// nft runs the nft tool with a script on stdin.
func nft(script string) error {
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("nft: %v: %s\nscript:\n%s", err, strings.TrimSpace(string(out)), script)
	}
	return nil
}

// newPartitioner prepares n cgroups and an empty nft table, removed at the
// end of the test (after the cluster's processes are gone: call it before
// cluster.Start). It returns why partitions are impossible here, if they
// are.
func newPartitioner(t *testing.T, n int) (*partitioner, string) {
	switch {
	case runtime.GOOS != "linux":
		return nil, "network partitions need Linux (nftables, cgroup2)"
	case os.Geteuid() != 0:
		return nil, "network partitions need root (nftables rules, cgroups)"
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, "network partitions need the nft tool (Debian package nftables): " + err.Error()
	}
	mnt, err := cgroup2Mount()
	if err != nil {
		return nil, "network partitions need cgroup2: " + err.Error()
	}
	rel, err := filepath.Rel("/sys/fs/cgroup", mnt)
	if err != nil || strings.HasPrefix(rel, "..") {
		return nil, fmt.Sprintf("network partitions need cgroup2 mounted under /sys/fs/cgroup, where nft looks for cgroups (it is at %s)", mnt)
	}
	own, err := ownCgroup()
	if err != nil {
		return nil, "network partitions need cgroup2: " + err.Error()
	}
	p := &partitioner{
		t:     t,
		table: fmt.Sprintf("inet meridian_lin_%d", os.Getpid()),
		home:  filepath.Join(mnt, own),
	}
	t.Cleanup(p.remove) // registered before the cluster's: runs after it
	for i := range n {
		name := fmt.Sprintf("meridian-lin-%d-s%d", os.Getpid(), i+1)
		dir := filepath.Join(mnt, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, "network partitions need a writable cgroup2 hierarchy: " + err.Error()
		}
		p.dirs = append(p.dirs, dir)
		nftPath := name
		if rel != "." {
			nftPath = filepath.Join(rel, name)
		}
		p.paths = append(p.paths, nftPath)
	}
	// The table, and one rule that uses the socket cgroupv2 match (on a
	// port nothing uses), prove the kernel and the tool can do it all.
	probe := fmt.Sprintf("add table %s\nadd chain %s out { type filter hook output priority 0; policy accept; }\nadd rule %s out socket cgroupv2 level 1 %q tcp dport 1 drop\nflush chain %s out\n",
		p.table, p.table, p.table, p.paths[0], p.table)
	if err := nft(probe); err != nil {
		return nil, "network partitions need nftables with the socket cgroupv2 match: " + err.Error()
	}
	return p, ""
}

// attach gives the partitioner the cluster it cuts.
func (p *partitioner) attach(c *cluster.Cluster) { p.c = c }

// moveSelf moves the test process (every thread) into the cgroup dir.
func moveSelf(dir string) error {
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644)
}

// launch (re)starts server i inside its cgroup: the test process enters
// the cgroup, c.Restart forks the server, which inherits it, and the test
// process goes home. The test's own sockets made meanwhile go to HTTP
// ports, which no rule names.
func (p *partitioner) launch(i int) {
	p.t.Helper()
	if err := moveSelf(p.dirs[i]); err != nil {
		p.t.Fatalf("partitions: enter the cgroup of %s: %v", p.c.Node(i), err)
	}
	defer func() {
		if err := moveSelf(p.home); err != nil {
			p.t.Fatalf("partitions: leave the cgroup of %s: %v", p.c.Node(i), err)
		}
	}()
	p.c.Restart(i)
}

// split drops Raft traffic both ways between every server of a and every
// server of b; traffic within a side, and every other port, flows.
func (p *partitioner) split(a, b []int) {
	p.t.Helper()
	var sb strings.Builder
	rule := func(from int, to []int) {
		var ports []string
		for _, j := range to {
			_, port, _ := strings.Cut(p.c.RaftAddr(j), ":")
			ports = append(ports, port)
		}
		fmt.Fprintf(&sb, "add rule %s out socket cgroupv2 level 1 %q tcp dport { %s } drop\n", p.table, p.paths[from], strings.Join(ports, ", "))
	}
	for _, i := range a {
		rule(i, b)
	}
	for _, j := range b {
		rule(j, a)
	}
	if err := nft(sb.String()); err != nil {
		p.t.Fatalf("partitions: %v", err)
	}
}

// heal removes every rule.
func (p *partitioner) heal() {
	p.t.Helper()
	if err := nft(fmt.Sprintf("flush chain %s out\n", p.table)); err != nil {
		p.t.Fatalf("partitions: %v", err)
	}
}

// remove deletes the table and the cgroups (the servers are gone by now;
// a cgroup can be removed once its last process has been reaped).
func (p *partitioner) remove() {
	if err := nft(fmt.Sprintf("delete table %s\n", p.table)); err != nil && !strings.Contains(err.Error(), "No such file") {
		p.t.Errorf("partitions: removing the nft table: %v", err)
	}
	_ = moveSelf(p.home)
	for _, dir := range p.dirs {
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := os.Remove(dir)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				p.t.Errorf("partitions: removing cgroup %s: %v", dir, err)
				break
			}
			time.Sleep(cluster.PollInterval) // polling for the kernel to empty it
		}
	}
}
