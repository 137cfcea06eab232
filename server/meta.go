package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"meridian/server/atomicfile"
	"meridian/server/shard"
)

// metaFile records, in the data directory, what may never change for it.
const metaFile = "meridian.json"

type dataMeta struct {
	Version  int    `json:"version"`
	DC       string `json:"dc"`
	Node     string `json:"node"`
	KVShards int    `json:"kv_shards"`
	// ReplicaID is this server's replica ID in every shard, once known.
	ReplicaID uint64 `json:"replica_id,omitempty"`
	// Checksum covers the fields above (datadir.go).
	Checksum string `json:"checksum,omitempty"`
}

// saveMeta rewrites the record atomically.
func saveMeta(dir string, m dataMeta) error {
	path := filepath.Join(dir, metaFile)
	m.Checksum = metaChecksum(m)
	out, _ := json.MarshalIndent(m, "", "  ")
	if err := atomicfile.Write(path, append(out, '\n'), 0o644); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// ReadReplicaID returns the replica ID recorded in a data directory, 0 if
// none (a new directory, or one made before IDs were recorded).
func ReadReplicaID(dir string) uint64 {
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return 0
	}
	var m dataMeta
	if json.Unmarshal(b, &m) != nil {
		return 0
	}
	return m.ReplicaID
}

// loadMeta reads the data directory's record, or writes it when the
// directory is new. kvShards 0 means "as recorded, or the default".
func loadMeta(dir, dc, node string, kvShards int) (dataMeta, error) {
	path := filepath.Join(dir, metaFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if kvShards == 0 {
			kvShards = shard.DefaultKVShards
		}
		m := dataMeta{Version: 1, DC: dc, Node: node, KVShards: kvShards}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return m, fmt.Errorf("server: create data directory: %w", err)
		}
		return m, saveMeta(dir, m)
	case err != nil:
		return dataMeta{}, fmt.Errorf("server: read %s: %w", path, err)
	}
	var m dataMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("server: %s is corrupt (%v); it records the shard count and must not be guessed", path, err)
	}
	hasSum, err := verifyMeta(path, m)
	if err != nil {
		return m, err
	}
	if m.KVShards < 1 || m.KVShards > shard.MaxKVShards {
		return m, fmt.Errorf("server: %s records %d KV shards, want 1-%d: the file is corrupt", path, m.KVShards, shard.MaxKVShards)
	}
	if kvShards != 0 && kvShards != m.KVShards {
		return m, fmt.Errorf("%w: %s was created with %d KV shards, asked for %d", ErrShardCountChanged, dir, m.KVShards, kvShards)
	}
	if m.DC != dc || m.Node != node {
		return m, fmt.Errorf("%w: %s is node %q of %q, not %q of %q", ErrDataDirMismatch, dir, m.Node, m.DC, node, dc)
	}
	if !hasSum {
		return m, saveMeta(dir, m) // a record from before checksums gets one
	}
	return m, nil
}
