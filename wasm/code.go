package wasm

import "fmt"

// maxTableEntries caps a table's size: wazero allocates a table's initial
// entries when a module is instantiated, and table.grow appends as many as
// asked (8 bytes each) up to the declared maximum, or to 2^32 without one,
// which runs the process out of memory. 2^20 entries are 8 MiB; Go and
// TinyGo modules start with a few thousand.
const maxTableEntries = 1 << 20

// checkTables refuses a table that starts above maxTableEntries, or one
// that a function grows (table.grow) and that may grow beyond it. Tables
// that no function grows keep their size, declared maximum or not.
func checkTables(f binaryFacts) error {
	for i, t := range f.tables {
		if t.min > maxTableEntries {
			return detailf(ErrInvalidModule, fmt.Sprintf("table %d starts with %d entries, more than the cap of %d", i, t.min, maxTableEntries))
		}
	}
	imported := 0
	for _, e := range f.imports {
		if e.kind == kindFunc {
			imported++
		}
	}
	for i, body := range f.bodies {
		grown, err := tablesGrown(body)
		if err != nil {
			return detailf(ErrInvalidModule, fmt.Sprintf("function %d: %v", imported+i, err))
		}
		for _, ti := range grown {
			if int(ti) >= len(f.tables) {
				continue // an imported table: imports other than functions are refused
			}
			switch t := f.tables[ti]; {
			case !t.hasMax:
				return detailf(ErrInvalidModule, fmt.Sprintf("function %d grows table %d, which declares no maximum: declare one of at most %d entries",
					imported+i, ti, maxTableEntries))
			case t.max > maxTableEntries:
				return detailf(ErrInvalidModule, fmt.Sprintf("function %d grows table %d, whose maximum of %d entries is above the cap of %d",
					imported+i, ti, t.max, maxTableEntries))
			}
		}
	}
	return nil
}

// tablesGrown reads a function body (locals, then instructions of
// WebAssembly 2.0, which is what the runtime enables) and returns the
// indices of the tables its table.grow instructions name. wazero has
// validated the body already; an instruction this reader does not know is
// an error all the same, so that nothing is let through unread.
func tablesGrown(body []byte) ([]uint32, error) {
	r := &reader{b: body, entry: -1}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.u32()
		r.valType()
	}
	var grown []uint32
	for len(r.b) > 0 && r.err == nil {
		op := r.byte()
		switch {
		case op <= 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b,
			op >= 0x45 && op <= 0xc4, op == 0xd1:
			// no immediate
		case op >= 0x02 && op <= 0x04: // block, loop, if
			r.blockType()
		case op == 0x0c, op == 0x0d, op == 0x10, op >= 0x20 && op <= 0x26, op == 0xd2:
			r.u32()
		case op == 0x0e: // br_table
			for n := r.count("branch targets"); n > 0 && r.err == nil; n-- {
				r.u32()
			}
			r.u32()
		case op == 0x11: // call_indirect
			r.u32()
			r.u32()
		case op == 0x1c: // select with types
			r.valTypes()
		case op >= 0x28 && op <= 0x3e: // loads and stores
			r.memArg()
		case op == 0x3f, op == 0x40: // memory.size, memory.grow
			r.byte()
		case op == 0x41:
			r.leb(32)
		case op == 0x42:
			r.leb(64)
		case op == 0x43:
			r.bytes(4)
		case op == 0x44:
			r.bytes(8)
		case op == 0xd0: // ref.null
			r.valType()
		case op == 0xfc:
			if t, ok := r.miscOp(); ok {
				grown = append(grown, t)
			}
		case op == 0xfd:
			r.vectorOp()
		default:
			r.fail("opcode 0x%02x", op)
		}
	}
	if r.err == errShort {
		return nil, fmt.Errorf("its code runs past the end of its body")
	}
	if se, ok := r.err.(*shapeError); ok {
		return nil, fmt.Errorf("cannot read its code: %s", se.msg)
	}
	return grown, r.err
}

func (r *reader) blockType() {
	if len(r.b) == 0 {
		r.err = errShort
		return
	}
	switch b := r.b[0]; b {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x63, 0x64:
		r.valType()
	default: // a type index, as a signed 33-bit integer
		r.leb(33)
	}
}

func (r *reader) memArg() {
	if align := r.u32(); align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.u64()
}

// miscOp reads an instruction of the 0xfc prefix and returns the table of
// a table.grow.
func (r *reader) miscOp() (table uint32, grow bool) {
	switch op := r.u32(); {
	case op <= 7: // saturating truncations
	case op == 8: // memory.init
		r.u32()
		r.byte()
	case op == 9, op == 13, op == 16, op == 17: // data.drop, elem.drop, table.size, table.fill
		r.u32()
	case op == 10: // memory.copy
		r.bytes(2)
	case op == 11: // memory.fill
		r.byte()
	case op == 12, op == 14: // table.init, table.copy
		r.u32()
		r.u32()
	case op == 15: // table.grow
		return r.u32(), r.err == nil
	default:
		r.fail("opcode 0xfc %d", op)
	}
	return 0, false
}

// vectorOp reads an instruction of the 0xfd (SIMD) prefix.
func (r *reader) vectorOp() {
	switch op := r.u32(); {
	case op <= 11, op == 92, op == 93: // loads, stores
		r.memArg()
	case op == 12, op == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case op >= 21 && op <= 34: // extract and replace lane
		r.byte()
	case op >= 84 && op <= 91: // load and store lane
		r.memArg()
		r.byte()
	case op <= 0xff: // no immediate
	default:
		r.fail("opcode 0xfd %d", op)
	}
}
