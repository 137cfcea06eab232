package raftnode

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"meridian/server/atomicfile"
	"meridian/server/shard"
)

// The applied record (appliedFile in the data directory) is the highest
// index each shard's state machine has applied, written about every
// second and at Close. An entry is in the replica's own durable log before
// it is applied, so after a restart each shard's log must reach at least
// the recorded index. If it does not, the write-ahead log lost entries that
// were already durable: a log cut short, which Pebble cannot tell from the
// torn tail of a crash and would replay silently. New refuses to start
// then. The record can lag the log by its interval, so the newest second
// of writes is not covered.
const (
	appliedFile     = "raft-applied.json"
	appliedInterval = time.Second
)

// ErrLogBehind: a shard's Raft log ends before an index this server had
// already applied.
var ErrLogBehind = errors.New("raftnode: the Raft log lost entries this server had applied")

type appliedRecord struct {
	Applied  map[string]uint64 `json:"applied"` // shard ID -> index
	Checksum uint32            `json:"crc32c"`
}

func (a *appliedRecord) sum() uint32 {
	b, _ := json.Marshal(a.Applied) // map keys are sorted: stable
	return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
}

// appliedNow is every shard's applied index.
func (h *Host) appliedNow() map[string]uint64 {
	out := make(map[string]uint64, len(h.shards))
	for id, r := range h.shards {
		out[strconv.FormatUint(uint64(id), 10)] = r.m.Applied()
	}
	return out
}

// saveApplied writes the record atomically and durably.
func (h *Host) saveApplied(applied map[string]uint64) error {
	rec := appliedRecord{Applied: applied}
	rec.Checksum = rec.sum()
	b, _ := json.Marshal(rec)
	path := filepath.Join(h.cfg.DataDir, appliedFile)
	return atomicfile.Write(path, b, 0o644)
}

// appliedLoop records the applied indexes while they change.
func (h *Host) appliedLoop() {
	defer h.wg.Done()
	t := time.NewTicker(appliedInterval)
	defer t.Stop()
	var last map[string]uint64
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		now := h.appliedNow()
		if equalApplied(now, last) {
			continue
		}
		if err := h.saveApplied(now); err != nil {
			h.log.Warn("recording the applied indexes", "err", err)
			continue
		}
		last = now
	}
}

func equalApplied(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// checkApplied compares each restarted shard's log with the record. It
// runs once the replicas are started, before anything is served.
func (h *Host) checkApplied(restarted map[shard.ID]bool) error {
	path := filepath.Join(h.cfg.DataDir, appliedFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new data directory, or one from before the record
	}
	if err != nil {
		return fmt.Errorf("raftnode: read %s: %w", path, err)
	}
	var rec appliedRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.sum() != rec.Checksum {
		return fmt.Errorf("%w: %s is damaged (it records the applied index of each shard)", ErrLogBehind, path)
	}
	for id := range restarted {
		want := rec.Applied[strconv.FormatUint(uint64(id), 10)]
		lr, err := h.nh.GetLogReader(uint64(id))
		if err != nil {
			return fmt.Errorf("raftnode: %v: reading its log: %w", id, err)
		}
		if _, last := lr.GetRange(); last < want {
			return fmt.Errorf("%w: %v: the log ends at index %d, but this server had applied index %d (%s): "+
				"its write-ahead log under %s was cut short or damaged; restore the data directory from a backup, "+
				"or remove it and let the server join its datacenter again",
				ErrLogBehind, id, last, want, path, filepath.Join(h.cfg.DataDir, "raft"))
		}
	}
	return nil
}
