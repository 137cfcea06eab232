package kv

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	iradix "github.com/hashicorp/go-immutable-radix/v2"

	"meridian/rpc"
)

// Snapshot format, version 1. Integers in the header and trailer are
// big-endian; records are a uvarint length then that many bytes.
//
//	header   "MKVS" | version (1 byte) | applied index | floor
//	         | entry count | tombstone count           (uint64 each)
//	entries  one record per key, in key order: key, value, flags,
//	         create index, modify index, lock index, session (as appendEntry)
//	tombs    one record per tombstone, in key order: key, delete index
//	trailer  CRC-32 (Castagnoli) of every byte before it (uint32)
const (
	snapshotMagic   = "MKVS"
	snapshotVersion = 1
	headerSize      = len(snapshotMagic) + 1 + 4*8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteSnapshot writes the whole state of v to w, streaming: memory use does
// not grow with the state. The same state always gives the same bytes.
// Other goroutines may keep applying entries meanwhile: v does not change.
func (v *View) WriteSnapshot(w io.Writer) error {
	cw := &crcWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)

	hdr := make([]byte, 0, headerSize)
	hdr = append(hdr, snapshotMagic...)
	hdr = append(hdr, snapshotVersion)
	hdr = binary.BigEndian.AppendUint64(hdr, v.applied)
	hdr = binary.BigEndian.AppendUint64(hdr, v.floor)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(v.entries.Len()))
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(v.tombs.Len()))
	if _, err := bw.Write(hdr); err != nil {
		return fmt.Errorf("kv: write snapshot: %w", err)
	}

	var rec []byte
	writeRecord := func(payload []byte) error {
		rec = binary.AppendUvarint(rec[:0], uint64(len(payload)))
		if _, err := bw.Write(rec); err != nil {
			return err
		}
		_, err := bw.Write(payload)
		return err
	}
	var buf []byte
	n := 0
	it := v.entries.Root().Iterator()
	for _, e, ok := it.Next(); ok; _, e, ok = it.Next() {
		buf = appendEntry(buf[:0], e)
		if err := writeRecord(buf); err != nil {
			return fmt.Errorf("kv: write snapshot: %w", err)
		}
		n++
	}
	tn := 0
	tit := v.tombs.Root().Iterator()
	for k, t, ok := tit.Next(); ok; k, t, ok = tit.Next() {
		buf = appendBytes(buf[:0], k)
		buf = binary.AppendUvarint(buf, t)
		if err := writeRecord(buf); err != nil {
			return fmt.Errorf("kv: write snapshot: %w", err)
		}
		tn++
	}
	// The header's counts come from the trees' Len; a snapshot that
	// disagrees with itself would only fail on restore, so check here.
	if n != v.entries.Len() || tn != v.tombs.Len() {
		return fmt.Errorf("kv: write snapshot: wrote %d entries and %d tombstones, header says %d and %d",
			n, tn, v.entries.Len(), v.tombs.Len())
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("kv: write snapshot: %w", err)
	}
	if _, err := w.Write(binary.BigEndian.AppendUint32(nil, cw.crc)); err != nil {
		return fmt.Errorf("kv: write snapshot: %w", err)
	}
	return nil
}

type crcWriter struct {
	w   io.Writer
	crc uint32
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	return n, err
}

// RestoreSnapshot replaces the state with the one WriteSnapshot wrote to r,
// indexes included. It reads r to its end and checks everything before
// changing anything: on a truncated, altered or inconsistent snapshot it
// returns an error wrapping ErrCorruptSnapshot (or ErrSnapshotVersion) and
// the machine is as it was. On success the new state is published at once
// and every watch channel handed out before is closed, since any key may
// have changed.
//
// Like a Batch, RestoreSnapshot is the writer's: never beside an open Batch.
func (m *Machine) RestoreSnapshot(r io.Reader) error {
	v, err := readSnapshot(r)
	if err != nil {
		return err
	}
	wakeAll(m.cur.Swap(v))
	return nil
}

// wakeAll closes the watch channel of every node and leaf of v's tree, by
// deleting everything in a tracked transaction that is then thrown away.
func wakeAll(v *View) {
	txn := v.entries.Txn()
	txn.TrackMutate(true)
	txn.DeletePrefix(nil)
	txn.CommitOnly()
	txn.Notify()
}

type snapReader struct {
	r   *bufio.Reader
	crc uint32
	one [1]byte
	buf []byte
	// ioErr is the last error of r itself, as opposed to a format error.
	ioErr error
	// last and nread: the last byte ReadByte returned and how many since
	// a record began, to refuse a length that is not minimally encoded.
	last  byte
	nread int
}

func (s *snapReader) ReadByte() (byte, error) {
	c, err := s.r.ReadByte()
	if err != nil {
		s.ioErr = err
		return 0, err
	}
	s.one[0] = c
	s.crc = crc32.Update(s.crc, castagnoli, s.one[:])
	s.last = c
	s.nread++
	return c, nil
}

// full reads exactly n bytes into a buffer reused across calls. A length
// read from a corrupt snapshot can be huge: past 1 MiB the buffer grows only
// as bytes actually arrive, so garbage cannot make us allocate more than
// about twice what the reader holds.
func (s *snapReader) full(n uint64) ([]byte, error) {
	const chunk = 1 << 20
	s.buf = s.buf[:0]
	for n > 0 {
		c := min(n, chunk)
		start := len(s.buf)
		s.buf = append(s.buf, make([]byte, c)...)
		if _, err := io.ReadFull(s.r, s.buf[start:]); err != nil {
			s.ioErr = err
			return nil, err
		}
		n -= c
	}
	s.crc = crc32.Update(s.crc, castagnoli, s.buf)
	return s.buf, nil
}

func (s *snapReader) record() ([]byte, error) {
	s.nread = 0
	n, err := binary.ReadUvarint(s)
	if err != nil {
		return nil, err
	}
	if s.nread > 1 && s.last == 0 {
		return nil, errors.New("record length is not minimally encoded")
	}
	return s.full(n)
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptSnapshot}, args...)...)
}

// readErr describes a failure to read the part where: running out of bytes
// is a truncation, an error of the reader itself is passed on, anything
// else (a record length that overflows) is corruption.
func (s *snapReader) readErr(where string, err error) error {
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return corrupt("truncated in %s", where)
	case s.ioErr != nil:
		return fmt.Errorf("kv: read snapshot: %s: %w", where, err)
	}
	return corrupt("%s: %v", where, err)
}

func readSnapshot(r io.Reader) (*View, error) {
	s := &snapReader{r: bufio.NewReaderSize(r, 64<<10)}
	hdr, err := s.full(uint64(headerSize))
	if err != nil {
		return nil, s.readErr("header", err)
	}
	if string(hdr[:len(snapshotMagic)]) != snapshotMagic {
		return nil, corrupt("bad magic %q (want %q)", hdr[:len(snapshotMagic)], snapshotMagic)
	}
	if v := hdr[len(snapshotMagic)]; v != snapshotVersion {
		return nil, fmt.Errorf("%w: %d (this build reads %d)", ErrSnapshotVersion, v, snapshotVersion)
	}
	h := hdr[len(snapshotMagic)+1:]
	v := &View{
		applied: binary.BigEndian.Uint64(h[0:]),
		floor:   binary.BigEndian.Uint64(h[8:]),
	}
	nEntries := binary.BigEndian.Uint64(h[16:])
	nTombs := binary.BigEndian.Uint64(h[24:])
	if v.floor > v.applied {
		return nil, corrupt("floor %d is past applied index %d", v.floor, v.applied)
	}

	entries := iradix.New[*rpc.KVEntry]().Txn()
	var prev string
	for i := uint64(0); i < nEntries; i++ {
		where := fmt.Sprintf("entry %d of %d", i+1, nEntries)
		rec, err := s.record()
		if err != nil {
			return nil, s.readErr(where, err)
		}
		d := decoder{b: rec}
		e := d.entry()
		if err := d.finish(); err != nil {
			return nil, corrupt("%s: %v", where, err)
		}
		if err := checkEntry(e, i, prev, v.applied); err != nil {
			return nil, corrupt("%s: %v", where, err)
		}
		prev = e.Key
		entries.Insert([]byte(e.Key), e)
	}

	tombs := iradix.New[uint64]().Txn()
	var prevTomb []byte
	for i := uint64(0); i < nTombs; i++ {
		where := fmt.Sprintf("tombstone %d of %d", i+1, nTombs)
		rec, err := s.record()
		if err != nil {
			return nil, s.readErr(where, err)
		}
		d := decoder{b: rec}
		k := d.bytes("key")
		t := d.uvarint("index")
		if err := d.finish(); err != nil {
			return nil, corrupt("%s: %v", where, err)
		}
		switch {
		case i > 0 && bytes.Compare(k, prevTomb) <= 0:
			return nil, corrupt("%s: key %q not after %q", where, k, prevTomb)
		case ValidateKey(string(k)) != nil:
			return nil, corrupt("%s: %v", where, ValidateKey(string(k)))
		case t <= v.floor || t > v.applied:
			// Tombstones left after a drop are younger than the floor.
			return nil, corrupt("%s: index %d outside %d..%d", where, t, v.floor+1, v.applied)
		}
		if _, ok := entries.Get(k); ok {
			return nil, corrupt("%s: key %q is also an entry", where, k)
		}
		prevTomb = k
		tombs.Insert(k, t)
	}

	var trailer [4]byte
	if _, err := io.ReadFull(s.r, trailer[:]); err != nil {
		s.ioErr = err
		return nil, s.readErr("trailer", err)
	}
	if got, want := binary.BigEndian.Uint32(trailer[:]), s.crc; got != want {
		return nil, corrupt("checksum %08x, computed %08x", got, want)
	}
	if _, err := s.r.ReadByte(); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("kv: read snapshot: after the trailer: %w", err)
		}
		return nil, corrupt("data after the trailer")
	}
	v.entries = entries.CommitOnly()
	v.tombs = tombs.CommitOnly()
	return v, nil
}

// checkEntry checks what every entry the machine stores satisfies.
func checkEntry(e *rpc.KVEntry, i uint64, prev string, applied uint64) error {
	switch {
	case i > 0 && e.Key <= prev:
		return fmt.Errorf("key %q not after %q", e.Key, prev)
	case ValidateKey(e.Key) != nil:
		return ValidateKey(e.Key)
	case e.CreateIndex == 0 || e.CreateIndex > e.ModifyIndex || e.ModifyIndex > applied:
		return fmt.Errorf("key %q: indexes create %d, modify %d outside 1..%d in order",
			e.Key, e.CreateIndex, e.ModifyIndex, applied)
	}
	return nil
}
