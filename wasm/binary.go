package wasm

import (
	"errors"
	"fmt"
)

// The few facts validation needs that wazero's CompiledModule does not
// expose: every import with its kind (wazero lists imported functions and
// memories, not tables, globals or tags) and the initial size of a memory
// the module defines (checked against the check's limit before an
// instance is made). The module has already been decoded by wazero; this
// reader is still defensive, since Validate gets untrusted bytes.

const (
	sectionImport = 2
	sectionMemory = 5

	kindFunc   = 0
	kindTable  = 1
	kindMemory = 2
	kindGlobal = 3
	kindTag    = 4
)

var kindNames = [...]string{"function", "table", "memory", "global", "tag"}

type importEntry struct {
	module, name string
	kind         byte
}

type binaryFacts struct {
	imports   []importEntry
	hasMem    bool   // the module defines a memory
	memMin    uint32 // its initial pages
	memMax    uint32 // its declared maximum, if memHasMax
	memHasMax bool
}

var errMalformed = errors.New("malformed module")

type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errMalformed
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// u32 reads an unsigned LEB128 of at most 32 bits.
func (r *reader) u32() uint32 {
	var v uint32
	for shift := uint(0); shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errMalformed
	return 0
}

// u64 reads an unsigned LEB128 of at most 64 bits (memory64 limits).
func (r *reader) u64() uint64 {
	var v uint64
	for shift := uint(0); shift < 70; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errMalformed
	return 0
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil || uint64(n) > uint64(len(r.b)) {
		r.err = errMalformed
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) name() string { return string(r.bytes(r.u32())) }

// limits reads memory or table limits.
func (r *reader) limits() (min, max uint64, hasMax bool) {
	flags := r.byte()
	wide := flags&0x04 != 0
	read := func() uint64 {
		if wide {
			return r.u64()
		}
		return uint64(r.u32())
	}
	min = read()
	if flags&0x01 != 0 {
		max, hasMax = read(), true
	}
	if flags&^0x07 != 0 {
		r.err = errMalformed
	}
	return min, max, hasMax
}

// vectorError: a section declares more entries than it has bytes.
type vectorError struct {
	section byte
	count   uint32
	bytes   int
}

func (e *vectorError) Error() string {
	return fmt.Sprintf("section %d declares %d entries in %d bytes", e.section, e.count, e.bytes)
}

func readBinaryFacts(wasm []byte) (binaryFacts, error) {
	var f binaryFacts
	if len(wasm) < 8 {
		return f, errMalformed
	}
	r := &reader{b: wasm[8:]}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		body := &reader{b: r.bytes(r.u32())}
		if r.err != nil {
			break
		}
		// Sections 1-7, 9-11 hold a vector whose every entry takes at least
		// a byte. A count beyond the section's bytes is refused here:
		// wazero allocates for the count before reading the entries, so a
		// 50-byte module declaring 2^32 functions exhausted the memory.
		if (id >= 1 && id <= 7) || (id >= 9 && id <= 11) {
			c := *body
			if n := c.u32(); c.err == nil && uint64(n) > uint64(len(c.b)) {
				return f, &vectorError{section: id, count: n, bytes: len(c.b)}
			}
		}
		switch id {
		case sectionImport:
			n := body.u32()
			for i := uint32(0); i < n && body.err == nil; i++ {
				e := importEntry{module: body.name(), name: body.name(), kind: body.byte()}
				switch e.kind {
				case kindFunc:
					body.u32()
				case kindTable:
					body.byte()
					body.limits()
				case kindMemory:
					body.limits()
				case kindGlobal:
					body.byte()
					body.byte()
				case kindTag:
					body.byte()
					body.u32()
				default:
					body.err = errMalformed
				}
				f.imports = append(f.imports, e)
			}
		case sectionMemory:
			if n := body.u32(); n > 0 {
				lo, hi, hasMax := body.limits()
				f.hasMem, f.memHasMax = true, hasMax
				f.memMin, f.memMax = uint32(min(lo, 1<<32-1)), uint32(min(hi, 1<<32-1))
			}
		}
		if body.err != nil {
			return f, body.err
		}
	}
	return f, r.err
}

func kindName(k byte) string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}
