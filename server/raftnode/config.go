package raftnode

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/lni/dragonboat/v4/config"

	"meridian/server/shard"
)

// Config of a Host. Build it from DefaultConfig and set the identity fields.
type Config struct {
	// DataDir holds the NodeHost's logs and snapshots (created if missing).
	DataDir string
	// RaftAddr is this server's Raft address, host:port with a real port.
	RaftAddr string
	// ReplicaID is this server's replica ID in every shard.
	ReplicaID shard.ReplicaID
	// Peers are the initial members of every shard, this server included.
	// Used only when the shards are created; ignored on restart.
	Peers map[shard.ReplicaID]string
	// Join starts replicas that a running cluster added with AddServer,
	// instead of creating the shards from Peers.
	Join bool
	// Shards to run on this host, and Machine makes each one's state
	// machine (called once per shard, at start).
	Shards  []shard.ID
	Machine func(shard.ID) Machine

	// RTT is the Raft tick; HeartbeatRTT and ElectionRTT count ticks.
	// See docs/RATIONALE.md for the chosen values.
	RTT          time.Duration
	HeartbeatRTT uint64
	ElectionRTT  uint64
	// SnapshotEntries: a snapshot every this many applied entries;
	// CompactionOverhead entries are kept behind it for slow followers.
	SnapshotEntries    uint64
	CompactionOverhead uint64
	// LogDBProfile picks dragonboat's LogDB memory preset: "tiny" (about
	// 256 MB at most, tests and dev), "small" (about 1 GB) or "default".
	LogDBProfile string
	// StepWorkers is the number of dragonboat step workers and LogDBShards
	// the number of LogDB instances (each a WAL with its own fsync). Shards
	// are spread over both by ID. One of each lets every shard's entries
	// share one fsync per batch; separate ones only pay on machines with
	// many cores and disks. Both are recorded in the data directory by
	// dragonboat and cannot change for it later.
	StepWorkers uint64
	LogDBShards uint64
	// BalanceInterval: how often this server checks whether it leads too
	// few shards and, if so, takes one over from the server that leads the
	// most (see Host.Balance). 0 turns balancing off.
	BalanceInterval time.Duration
	// LeaderWait bounds how long a call waits for a shard to have a leader
	// before failing with a retryable error.
	LeaderWait time.Duration

	Logger *slog.Logger

	// testFS, if set, is the filesystem dragonboat and its LogDB use
	// instead of the operating system's: for tests that make the disk
	// fail.
	testFS config.IFS
}

// DefaultConfig returns the production timings: 50 ms ticks, heartbeat every
// tick, election after 10-20 ticks (0.5-1 s).
func DefaultConfig() Config {
	return Config{
		RTT:                50 * time.Millisecond,
		HeartbeatRTT:       1,
		ElectionRTT:        10,
		SnapshotEntries:    10000,
		CompactionOverhead: 5000,
		LogDBProfile:       "small",
		StepWorkers:        1,
		LogDBShards:        1,
		LeaderWait:         1500 * time.Millisecond,
		BalanceInterval:    30 * time.Second,
	}
}

// Validate reports the first thing wrong with c.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("raftnode: DataDir is required")
	}
	host, port, err := net.SplitHostPort(c.RaftAddr)
	if err != nil {
		return fmt.Errorf("raftnode: raft address %q: %w", c.RaftAddr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("raftnode: raft address %q: the port must be 1-65535", c.RaftAddr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return fmt.Errorf("raftnode: raft address %q: IPv6 literals are not supported by the Raft transport", c.RaftAddr)
	}
	if c.ReplicaID == 0 {
		return errors.New("raftnode: ReplicaID must be >= 1")
	}
	if c.Machine == nil {
		return errors.New("raftnode: Machine is required")
	}
	if len(c.Shards) == 0 {
		return errors.New("raftnode: no shards to run")
	}
	if c.RTT < time.Millisecond {
		return errors.New("raftnode: RTT must be at least 1ms")
	}
	if c.HeartbeatRTT == 0 || c.ElectionRTT <= 2*c.HeartbeatRTT {
		return fmt.Errorf("raftnode: ElectionRTT (%d) must be more than twice HeartbeatRTT (%d)", c.ElectionRTT, c.HeartbeatRTT)
	}
	if c.StepWorkers == 0 || c.LogDBShards == 0 {
		return errors.New("raftnode: StepWorkers and LogDBShards must be at least 1")
	}
	switch c.LogDBProfile {
	case "tiny", "small", "default":
	default:
		return fmt.Errorf("raftnode: LogDBProfile %q: want tiny, small or default", c.LogDBProfile)
	}
	return nil
}
