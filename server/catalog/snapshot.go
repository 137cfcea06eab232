package catalog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	iradix "github.com/hashicorp/go-immutable-radix/v2"

	"meridian/rpc"
)

// ErrCorruptSnapshot: a snapshot that does not read back whole.
var ErrCorruptSnapshot = errors.New("catalog: corrupt snapshot")

// snapshotVersion is the "v" of the header record.
const snapshotVersion = 1

// A snapshot is JSON lines: a header, one record per node, service, check
// and index, and a trailer with the record count and the CRC-32 (IEEE) of
// every byte before the trailer.
type snapHeader struct {
	V       int    `json:"v"`
	Applied uint64 `json:"applied"`
}

type snapRecord struct {
	Node    *rpc.Node     `json:"n,omitempty"`
	Service *snapService  `json:"s,omitempty"`
	Check   *rpc.Check    `json:"c,omitempty"`
	Index   *snapIndex    `json:"i,omitempty"`
	Module  *StoredModule `json:"m,omitempty"`
	Name    *snapName     `json:"mn,omitempty"`
	End     *snapEnd      `json:"end,omitempty"`
}

// snapName is a module name and the digest it points at.
type snapName struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

type snapService struct {
	Node string `json:"node"`
	rpc.Service
}

type snapIndex struct {
	Key   string `json:"k"`
	Value uint64 `json:"v"`
}

type snapEnd struct {
	Records int    `json:"records"`
	CRC     uint32 `json:"crc"`
}

// WriteSnapshot streams the view to w.
func (v *View) WriteSnapshot(w io.Writer) error {
	bw := bufio.NewWriter(w)
	crc := crc32.NewIEEE()
	enc := json.NewEncoder(io.MultiWriter(bw, crc))
	if err := enc.Encode(snapHeader{V: snapshotVersion, Applied: v.applied}); err != nil {
		return err
	}
	n := 0
	put := func(r snapRecord) error { n++; return enc.Encode(r) }
	for it := v.nodes.Root().Iterator(); ; {
		_, node, ok := it.Next()
		if !ok {
			break
		}
		if err := put(snapRecord{Node: node}); err != nil {
			return err
		}
	}
	for it := v.services.Root().Iterator(); ; {
		k, s, ok := it.Next()
		if !ok {
			break
		}
		node, _, _ := cutZero(k)
		if err := put(snapRecord{Service: &snapService{Node: node, Service: *s}}); err != nil {
			return err
		}
	}
	for it := v.checks.Root().Iterator(); ; {
		_, c, ok := it.Next()
		if !ok {
			break
		}
		if err := put(snapRecord{Check: c}); err != nil {
			return err
		}
	}
	for it := v.modules.Root().Iterator(); ; {
		_, m, ok := it.Next()
		if !ok {
			break
		}
		if err := put(snapRecord{Module: m}); err != nil {
			return err
		}
	}
	for it := v.moduleNames.Root().Iterator(); ; {
		k, d, ok := it.Next()
		if !ok {
			break
		}
		if err := put(snapRecord{Name: &snapName{Name: string(k), Digest: d}}); err != nil {
			return err
		}
	}
	for it := v.indexes.Root().Iterator(); ; {
		k, idx, ok := it.Next()
		if !ok {
			break
		}
		if err := put(snapRecord{Index: &snapIndex{Key: string(k), Value: idx}}); err != nil {
			return err
		}
	}
	if err := json.NewEncoder(bw).Encode(snapRecord{End: &snapEnd{Records: n, CRC: crc.Sum32()}}); err != nil {
		return err
	}
	return bw.Flush()
}

func cutZero(k []byte) (string, string, bool) {
	for i, c := range k {
		if c == 0 {
			return string(k[:i]), string(k[i+1:]), true
		}
	}
	return string(k), "", false
}

// RestoreSnapshot replaces the state with the snapshot read from r. On any
// error the state is left as it was.
func (m *Machine) RestoreSnapshot(r io.Reader) error {
	br := bufio.NewReader(r)
	crc := crc32.NewIEEE()
	line := func() ([]byte, error) {
		b, err := br.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorruptSnapshot, err)
		}
		return b, nil
	}
	b, err := line()
	if err != nil {
		return err
	}
	crc.Write(b)
	var h snapHeader
	if err := json.Unmarshal(b, &h); err != nil || h.V != snapshotVersion {
		return fmt.Errorf("%w: bad header", ErrCorruptSnapshot)
	}
	v := emptyView()
	nodes, services, checks := v.nodes.Txn(), v.services.Txn(), v.checks.Txn()
	byName, indexes := v.byName.Txn(), v.indexes.Txn()
	modules, names := v.modules.Txn(), v.moduleNames.Txn()
	n := 0
	for {
		b, err := line()
		if err != nil {
			return err
		}
		var rec snapRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrCorruptSnapshot, n+1, err)
		}
		if rec.End != nil {
			if rec.End.Records != n || rec.End.CRC != crc.Sum32() {
				return fmt.Errorf("%w: checksum or record count mismatch", ErrCorruptSnapshot)
			}
			break
		}
		crc.Write(b)
		n++
		switch {
		case rec.Node != nil:
			nodes.Insert([]byte(rec.Node.Node), rec.Node)
		case rec.Service != nil:
			s := rec.Service.Service
			services.Insert(pair(rec.Service.Node, s.ID), &s)
			byName.Insert(pair(s.Name, rec.Service.Node+"\x00"+s.ID), struct{}{})
		case rec.Check != nil:
			checks.Insert(pair(rec.Check.Node, rec.Check.ID), rec.Check)
		case rec.Index != nil:
			indexes.Insert([]byte(rec.Index.Key), rec.Index.Value)
		case rec.Module != nil:
			if Digest(rec.Module.Body) != rec.Module.Digest {
				return fmt.Errorf("%w: module %s does not match its digest", ErrCorruptSnapshot, rec.Module.Digest)
			}
			modules.Insert([]byte(rec.Module.Digest), rec.Module)
		case rec.Name != nil:
			names.Insert([]byte(rec.Name.Name), rec.Name.Digest)
		default:
			return fmt.Errorf("%w: record %d is empty", ErrCorruptSnapshot, n)
		}
	}
	nv := &View{nodes: nodes.Commit(), services: services.Commit(), checks: checks.Commit(),
		byName: byName.Commit(), indexes: indexes.Commit(), applied: h.Applied,
		modules: modules.Commit(), moduleNames: names.Commit()}
	old := m.cur.Swap(nv)
	// Wake every watcher of the old state: anything may have changed.
	closeAll(old.indexes)
	return nil
}

// closeAll closes the watch channels of every node of t by deleting them
// all in a tracked transaction that is never published.
func closeAll(t *iradix.Tree[uint64]) {
	txn := t.Txn()
	txn.TrackMutate(true)
	txn.DeletePrefix(nil)
	txn.CommitOnly()
	txn.Notify()
}
