package server

import "errors"

var (
	// ErrShardCountChanged: the data directory was created with another
	// number of KV shards; the count is fixed for the life of a datacenter.
	ErrShardCountChanged = errors.New("server: KV shard count differs from the data directory's")
	// ErrDataDirMismatch: the data directory belongs to another node or DC.
	ErrDataDirMismatch = errors.New("server: data directory belongs to another node or datacenter")
	// ErrStopping: the server is shutting down.
	ErrStopping = errors.New("server: stopping")
)
