package wasm

import (
	"errors"
	"fmt"
)

// A reader of the module's binary structure, run before wazero sees the
// bytes. wazero's decoder allocates for every count a module declares
// (entries of a section, a function's locals, an element segment's
// indices, a name's bytes, a name map) before it reads what was declared,
// so a module of a few dozen bytes could make it allocate tens of
// gigabytes and kill the process: `checks submit` hands it untrusted
// bytes. walkModule reads every section and refuses any count that its
// bytes cannot hold (each entry takes at least a byte), any section that
// runs past the module's end, and more locals in a function than
// maxLocals.
//
// It also collects the facts validation needs that wazero's
// CompiledModule does not expose: every import with its kind (wazero
// lists imported functions and memories, not tables, globals or tags),
// the memory and tables the module defines, and its function bodies.

const (
	sectionCustom   = 0
	sectionType     = 1
	sectionImport   = 2
	sectionFunction = 3
	sectionTable    = 4
	sectionMemory   = 5
	sectionGlobal   = 6
	sectionExport   = 7
	sectionElem     = 9
	sectionCode     = 10
	sectionData     = 11

	kindFunc   = 0
	kindTable  = 1
	kindMemory = 2
	kindGlobal = 3
	kindTag    = 4

	// maxLocals caps the locals of one function. V8 and SpiderMonkey refuse
	// more than 50,000, so no module meant for a browser has more; wazero
	// allows 2^32 and allocates for them while decoding.
	maxLocals = 50000
)

var kindNames = [...]string{"function", "table", "memory", "global", "tag"}

var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory",
	"global", "export", "start", "element", "code", "data", "data count", "tag"}

func sectionName(id byte) string {
	if int(id) < len(sectionNames) {
		return sectionNames[id]
	}
	return "unknown"
}

type importEntry struct {
	module, name string
	kind         byte
}

type limits struct {
	min, max uint64
	hasMax   bool
}

type binaryFacts struct {
	imports   []importEntry
	hasMem    bool   // the module defines a memory
	memMin    uint32 // its initial pages
	memMax    uint32 // its declared maximum, if memHasMax
	memHasMax bool
	tables    []limits // the tables the module defines (imports are refused)
	bodies    [][]byte // function bodies, locals included, in order
}

// shapeError: the module declares more than its bytes hold, or its
// structure cannot be read. The module is refused before wazero decodes it.
type shapeError struct {
	section byte
	custom  string // a custom section's name
	entry   int    // index of the entry within the section; -1 for none
	msg     string
}

func (e *shapeError) Error() string {
	name := sectionName(e.section)
	if e.custom != "" {
		name = fmt.Sprintf("custom %q", e.custom)
	}
	s := fmt.Sprintf("section %d (%s)", e.section, name)
	if e.entry >= 0 {
		s += fmt.Sprintf(", entry %d", e.entry)
	}
	return s + ": " + e.msg
}

var errShort = errors.New("ends early")

// reader reads one section (or the section list); its first error sticks.
type reader struct {
	b       []byte
	err     error
	section byte
	custom  string // the name of the custom section being read
	entry   int
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = &shapeError{section: r.section, custom: r.custom, entry: r.entry, msg: fmt.Sprintf(format, args...)}
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// leb reads an LEB128 of at most bits bits, signed or not, and returns it
// unsigned (callers of the signed kinds only skip it).
func (r *reader) leb(bits uint) uint64 {
	var v uint64
	for shift := uint(0); shift < bits; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("an integer longer than %d bits", bits)
	return 0
}

func (r *reader) u32() uint32 { return uint32(r.leb(32)) }
func (r *reader) u64() uint64 { return r.leb(64) }

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

// count reads a vector's length and refuses one its remaining bytes
// cannot hold, each of its what taking at least a byte.
func (r *reader) count(what string) uint32 {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)) {
		r.fail("declares %d %s in %d bytes", n, what, len(r.b))
		return 0
	}
	return n
}

func (r *reader) name() string { return string(r.bytes(r.count("bytes of a name"))) }

// each reads a section's vector of entries, numbering them for errors.
func (r *reader) each(f func()) {
	n := r.count("entries")
	for i := 0; i < int(n) && r.err == nil; i++ {
		r.entry = i
		f()
	}
	if r.err == nil {
		r.entry = -1
	}
}

// limits reads memory or table limits.
func (r *reader) limits() limits {
	flags := r.byte()
	wide := flags&0x04 != 0
	read := func() uint64 {
		if wide {
			return r.u64()
		}
		return uint64(r.u32())
	}
	l := limits{min: read()}
	if flags&0x01 != 0 {
		l.max, l.hasMax = read(), true
	}
	if flags&^0x07 != 0 && r.err == nil {
		r.fail("limits flags 0x%02x", flags)
	}
	return l
}

// valType skips a value type: one byte, or a reference type prefix and
// its heap type.
func (r *reader) valType() {
	if b := r.byte(); b == 0x63 || b == 0x64 {
		r.leb(33)
	}
}

func (r *reader) valTypes() {
	for n := r.count("value types"); n > 0 && r.err == nil; n-- {
		r.valType()
	}
}

// constExpr skips a constant expression, through its end opcode.
func (r *reader) constExpr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b: // end
			return
		case 0x41, 0x23, 0xd2: // i32.const, global.get, ref.func
			r.leb(32)
		case 0x42: // i64.const
			r.leb(64)
		case 0x43: // f32.const
			r.bytes(4)
		case 0x44: // f64.const
			r.bytes(8)
		case 0xd0: // ref.null
			if t := r.byte(); t != 0x70 && t != 0x6f && t != 0x69 && t&0x80 != 0 {
				r.leb(25) // a type index; its first byte was read
			}
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended-const arithmetic
		case 0xfd: // v128.const
			if r.u32() != 12 && r.err == nil {
				r.fail("a vector instruction other than v128.const in a constant expression")
			}
			r.bytes(16)
		default:
			if r.err == nil {
				r.fail("opcode 0x%02x in a constant expression", op)
			}
		}
	}
}

// walkModule reads the whole module; see the top of this file.
func walkModule(wasm []byte) (binaryFacts, error) {
	var f binaryFacts
	if len(wasm) < 8 {
		return f, &shapeError{entry: -1, msg: "the module is shorter than its header"}
	}
	top := &reader{b: wasm[8:], entry: -1}
	for len(top.b) > 0 {
		id := top.byte()
		size := top.u32()
		if top.err != nil {
			return f, &shapeError{section: id, entry: -1, msg: "its size cannot be read"}
		}
		if uint64(size) > uint64(len(top.b)) {
			return f, &shapeError{section: id, entry: -1,
				msg: fmt.Sprintf("declares %d bytes, %d remain in the module", size, len(top.b))}
		}
		body := &reader{b: top.bytes(size), section: id, entry: -1}
		f.section(body)
		if body.err == errShort {
			body.err = &shapeError{section: id, custom: body.custom, entry: body.entry, msg: "runs past the end of the section"}
		}
		if body.err != nil {
			return f, body.err
		}
	}
	return f, nil
}

// section reads one section's body into f.
func (f *binaryFacts) section(r *reader) {
	switch r.section {
	case sectionCustom:
		if r.custom = r.name(); r.custom == "name" {
			nameSection(r)
		}
	case sectionType:
		r.each(func() {
			if r.byte() == 0x4e { // a recursive group of function types
				for n := r.count("types"); n > 0 && r.err == nil; n-- {
					r.byte()
					r.valTypes()
					r.valTypes()
				}
				return
			}
			r.valTypes()
			r.valTypes()
		})
	case sectionImport:
		r.each(func() {
			e := importEntry{module: r.name(), name: r.name(), kind: r.byte()}
			switch e.kind {
			case kindFunc:
				r.u32()
			case kindTable:
				r.valType()
				r.limits()
			case kindMemory:
				r.limits()
			case kindGlobal:
				r.valType()
				r.byte()
			case kindTag:
				r.byte()
				r.u32()
			default:
				r.fail("import kind 0x%02x", e.kind)
			}
			f.imports = append(f.imports, e)
		})
	case sectionFunction:
		r.each(func() { r.u32() })
	case sectionTable:
		r.each(func() {
			init := false
			if len(r.b) > 0 && r.b[0] == 0x40 { // a table with an initializer
				r.bytes(2)
				init = true
			}
			r.valType()
			f.tables = append(f.tables, r.limits())
			if init {
				r.constExpr()
			}
		})
	case sectionMemory:
		r.each(func() {
			l := r.limits()
			if !f.hasMem {
				f.hasMem, f.memHasMax = true, l.hasMax
				f.memMin, f.memMax = uint32(min(l.min, 1<<32-1)), uint32(min(l.max, 1<<32-1))
			}
		})
	case sectionGlobal:
		r.each(func() {
			r.valType()
			r.byte()
			r.constExpr()
		})
	case sectionExport:
		r.each(func() {
			r.name()
			r.byte()
			r.u32()
		})
	case sectionElem:
		r.each(func() { elemSegment(r) })
	case sectionCode:
		r.each(func() {
			body := r.bytes(r.count("bytes of a function body"))
			f.bodies = append(f.bodies, body)
			locals(&reader{b: body, section: r.section, entry: r.entry}, r)
		})
	case sectionData:
		r.each(func() {
			switch flags := r.u32(); flags {
			case 0:
				r.constExpr()
			case 1:
			case 2:
				r.u32()
				r.constExpr()
			default:
				r.fail("data segment flags %d", flags)
			}
			r.bytes(r.count("bytes of data"))
		})
	default:
		// A start index, a data count, a tag vector (refused by wazero, as
		// is an unknown section, before it allocates).
		r.b = nil
	}
}

// locals reads a function body's local declarations, reporting to outer.
func locals(r, outer *reader) {
	total := uint64(0)
	for n := r.count("local declarations"); n > 0 && r.err == nil; n-- {
		total += uint64(r.u32())
		r.valType()
		if total > maxLocals && r.err == nil {
			r.fail("declares more than %d locals in one function (the limit browsers also apply)", maxLocals)
		}
	}
	if r.err == errShort {
		r.err = nil
		r.fail("its local declarations run past the end of its body")
	}
	if r.err != nil && outer.err == nil {
		outer.err = r.err
	}
}

// elemSegment reads one element segment (its 8 encodings).
func elemSegment(r *reader) {
	flags := r.u32()
	if flags > 7 {
		r.fail("element segment flags %d", flags)
		return
	}
	if flags&0x02 != 0 && flags&0x01 == 0 { // active, with a table index
		r.u32()
	}
	if flags&0x01 == 0 { // active: an offset
		r.constExpr()
	}
	if flags&0x03 != 0 { // an element kind or reference type
		if flags&0x04 != 0 {
			r.valType()
		} else {
			r.byte()
		}
	}
	if flags&0x04 == 0 {
		for n := r.count("function indices"); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		return
	}
	for n := r.count("expressions"); n > 0 && r.err == nil; n-- {
		r.constExpr()
	}
}

// nameSection reads the custom "name" section's subsections: the module
// name, function names and local names, which wazero decodes (and
// allocates for); others are skipped by their size.
func nameSection(r *reader) {
	nameMap := func(s *reader) {
		for n := s.count("names"); n > 0 && s.err == nil; n-- {
			s.u32()
			s.name()
		}
	}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		s := &reader{b: r.bytes(r.count("bytes of a name subsection")), section: r.section, custom: r.custom, entry: -1}
		switch id {
		case 0:
			s.name()
		case 1:
			nameMap(s)
		case 2:
			for n := s.count("functions' local names"); n > 0 && s.err == nil; n-- {
				s.u32()
				nameMap(s)
			}
		}
		if s.err != nil && r.err == nil {
			r.err = s.err
		}
	}
}

func kindName(k byte) string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}
