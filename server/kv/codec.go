package kv

import (
	"encoding/binary"
	"fmt"

	"meridian/rpc"
)

// The binary helpers shared by commands, results and snapshot records:
// unsigned varints, and byte strings prefixed with their length as a varint.

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Transaction verbs travel as one byte; verbCustom is followed by the verb
// as a string, so that a verb this version does not know still reaches the
// state machine, which rejects it by name.
const verbCustom = 0

var verbCodes = [...]string{
	1: rpc.TxnSet,
	2: rpc.TxnGet,
	3: rpc.TxnDelete,
	4: rpc.TxnCAS,
	5: rpc.TxnDeleteCAS,
	6: rpc.TxnCheckIndex,
	7: rpc.TxnCheckNotExists,
}

func verbCode(verb string) byte {
	for code, v := range verbCodes {
		if code != verbCustom && v == verb {
			return byte(code)
		}
	}
	return verbCustom
}

func appendVerb(b []byte, verb string) []byte {
	if code := verbCode(verb); code != verbCustom {
		return append(b, code)
	}
	return appendString(append(b, verbCustom), verb)
}

// appendEntry writes e's fields in order: key, value, flags, create index,
// modify index, lock index, session.
func appendEntry(b []byte, e *rpc.KVEntry) []byte {
	b = appendString(b, e.Key)
	b = appendBytes(b, e.Value)
	b = binary.AppendUvarint(b, e.Flags)
	b = binary.AppendUvarint(b, e.CreateIndex)
	b = binary.AppendUvarint(b, e.ModifyIndex)
	b = binary.AppendUvarint(b, e.LockIndex)
	return appendString(b, e.Session)
}

// decoder reads what the append helpers write. The first error sticks: after
// it every read returns a zero value, so callers check err once at the end
// (or before allocating on a decoded count).
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) failf(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s at byte %d", fmt.Sprintf(format, args...), d.off)
	}
}

func (d *decoder) left() int { return len(d.b) - d.off }

func (d *decoder) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if d.left() < 1 {
		d.failf("truncated %s", what)
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if !d.skipVarint(n, what) {
		return 0
	}
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if !d.skipVarint(n, what) {
		return 0
	}
	return v
}

// skipVarint checks the length n that binary.Uvarint or binary.Varint
// returned for the varint at d.off and moves past it.
func (d *decoder) skipVarint(n int, what string) bool {
	switch {
	case n == 0:
		d.failf("truncated %s", what)
		return false
	case n < 0:
		d.failf("%s overflows 64 bits", what)
		return false
	case n > 1 && d.b[d.off+n-1] == 0:
		// A trailing zero group: not how the encoder writes it. One
		// value has one encoding, so decoding and encoding again gives
		// the same bytes.
		d.failf("%s is not minimally encoded", what)
		return false
	}
	d.off += n
	return true
}

// raw returns the next length-prefixed byte string without copying it.
func (d *decoder) raw(what string) []byte {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(d.left()) {
		d.failf("truncated %s: length %d, %d bytes left", what, n, d.left())
		return nil
	}
	p := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return p
}

// bytes returns a copy of the next byte string, nil when it is empty: the
// decoded value never aliases the input buffer, which is not ours to keep.
func (d *decoder) bytes(what string) []byte {
	p := d.raw(what)
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}

func (d *decoder) string(what string) string { return string(d.raw(what)) }

// count reads an element count and checks that the bytes left could hold
// that many elements of at least minSize bytes, so garbage cannot make us
// allocate a huge slice.
func (d *decoder) count(what string, minSize int) int {
	n := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if n > uint64(d.left()/minSize) {
		d.failf("%s %d does not fit in %d bytes", what, n, d.left())
		return 0
	}
	return int(n)
}

func (d *decoder) verb() string {
	code := d.byte("verb")
	if d.err != nil {
		return ""
	}
	if code == verbCustom {
		return d.string("verb")
	}
	if int(code) >= len(verbCodes) {
		d.off--
		d.failf("unknown verb code %d", code)
		return ""
	}
	return verbCodes[code]
}

func (d *decoder) entry() *rpc.KVEntry {
	e := &rpc.KVEntry{}
	e.Key = d.string("key")
	e.Value = d.bytes("value")
	e.Flags = d.uvarint("flags")
	e.CreateIndex = d.uvarint("create index")
	e.ModifyIndex = d.uvarint("modify index")
	e.LockIndex = d.uvarint("lock index")
	e.Session = d.string("session")
	return e
}

// finish reports trailing bytes as an error: an encoding has one reading.
func (d *decoder) finish() error {
	if d.err == nil && d.left() != 0 {
		d.failf("%d trailing bytes", d.left())
	}
	return d.err
}
