package wasm

import "github.com/tetratelabs/wazero/experimental"

const pageSize = 65536

// memoryLimiter backs a guest's linear memory and enforces the check's
// Limits.MemoryPages, which may be lower than the runtime-wide cap
// (wazero's RuntimeConfig.WithMemoryLimitPages). A memory.grow past the
// limit fails (the guest sees -1) and the run is marked: the check is
// critical and the instance is not reused.
//
// It is used by one instance, on the goroutine that runs it.
type memoryLimiter struct {
	limit uint64 // bytes

	mem *limitedMemory // the instance's memory, once allocated
}

var _ experimental.MemoryAllocator = (*memoryLimiter)(nil)

func (l *memoryLimiter) Allocate(capacity, maxBytes uint64) experimental.LinearMemory {
	m := &limitedMemory{limit: l.limit, max: maxBytes}
	l.mem = m
	return m
}

// limitedMemory is a growable []byte that refuses to grow past limit.
type limitedMemory struct {
	buf   []byte
	limit uint64
	max   uint64

	started bool // the initial allocation was made
	overMin bool // the module's initial memory is already above the limit
	hit     bool // a memory.grow was refused
}

var _ experimental.LinearMemory = (*limitedMemory)(nil)

func (m *limitedMemory) Reallocate(size uint64) []byte {
	if !m.started {
		// wazero needs the initial size: give it, and let the instance
		// be refused before it runs anything.
		m.started = true
		if size > m.limit {
			m.overMin = true
		}
	} else if size > m.limit {
		m.hit = true
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	// Grow geometrically, but never past what may be asked for.
	c := max(size, min(2*uint64(cap(m.buf)), max(m.limit, size), m.max))
	nb := make([]byte, size, c)
	copy(nb, m.buf)
	m.buf = nb
	return nb
}

func (m *limitedMemory) Free() { m.buf = nil }
