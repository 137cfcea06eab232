package kv

import (
	"encoding/binary"
	"fmt"

	"meridian/rpc"
)

// Op says what a Command does.
type Op uint8

// The operations. Their numbers are part of the log format: never reuse one.
const (
	OpPut        Op = 1 // write Key (conditionally with HasCAS)
	OpDelete     Op = 2 // delete Key (conditionally with HasCAS)
	OpDeleteTree Op = 3 // delete every key that starts with Key
	OpTxn        Op = 4 // apply Ops atomically
)

func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpDeleteTree:
		return "delete-tree"
	case OpTxn:
		return "txn"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Command is one write, as proposed to Raft and applied by Batch.Apply.
type Command struct {
	Op    Op
	Key   string // for OpDeleteTree: the prefix ("" = the whole shard)
	Value []byte
	Flags uint64
	// HasCAS makes OpPut and OpDelete conditional on CASIndex, the key's
	// modify index; CASIndex 0 means "only if the key does not exist".
	// See Batch.Apply for the exact rules.
	HasCAS   bool
	CASIndex uint64
	Ops      []rpc.TxnOp // OpTxn
}

// commandVersion is the first byte of every encoded command.
const commandVersion = 1

// Field-presence bits of an encoded command.
const (
	cmdKey   = 1 << iota // key follows
	cmdValue             // value follows
	cmdFlags             // flags follow
	cmdCAS               // CAS index follows; HasCAS is true
	cmdOps               // transaction operations follow
	cmdAll   = cmdKey | cmdValue | cmdFlags | cmdCAS | cmdOps
)

// Field-presence bits of an encoded transaction operation.
const (
	opKey   = 1 << iota // key follows
	opValue             // value follows
	opFlags             // flags follow
	opIndex             // index follows
	opAll   = opKey | opValue | opFlags | opIndex
)

// Marshal encodes c compactly: a version byte, the op, a byte of
// field-presence bits, then only the fields that are set, as varints and
// length-prefixed strings. A put of a short key and a 128-byte value takes
// about 140 bytes.
//
// An empty Value decodes as nil, and CASIndex is encoded only with HasCAS:
// otherwise UnmarshalCommand(c.Marshal()) equals c.
func (c *Command) Marshal() []byte {
	var bits byte
	size := 3
	if c.Key != "" {
		bits |= cmdKey
		size += binary.MaxVarintLen32 + len(c.Key)
	}
	if len(c.Value) != 0 {
		bits |= cmdValue
		size += binary.MaxVarintLen32 + len(c.Value)
	}
	if c.Flags != 0 {
		bits |= cmdFlags
		size += binary.MaxVarintLen64
	}
	if c.HasCAS {
		bits |= cmdCAS
		size += binary.MaxVarintLen64
	}
	if len(c.Ops) != 0 {
		bits |= cmdOps
		size += binary.MaxVarintLen32
		for i := range c.Ops {
			op := &c.Ops[i]
			size += 2 + 2*binary.MaxVarintLen32 + 2*binary.MaxVarintLen64 + len(op.Key) + len(op.Value)
			if verbCode(op.Verb) == verbCustom {
				size += binary.MaxVarintLen32 + len(op.Verb)
			}
		}
	}

	b := make([]byte, 0, size)
	b = append(b, commandVersion, byte(c.Op), bits)
	if bits&cmdKey != 0 {
		b = appendString(b, c.Key)
	}
	if bits&cmdValue != 0 {
		b = appendBytes(b, c.Value)
	}
	if bits&cmdFlags != 0 {
		b = binary.AppendUvarint(b, c.Flags)
	}
	if bits&cmdCAS != 0 {
		b = binary.AppendUvarint(b, c.CASIndex)
	}
	if bits&cmdOps != 0 {
		b = binary.AppendUvarint(b, uint64(len(c.Ops)))
		for i := range c.Ops {
			b = appendTxnOp(b, &c.Ops[i])
		}
	}
	return b
}

func appendTxnOp(b []byte, op *rpc.TxnOp) []byte {
	var bits byte
	if op.Key != "" {
		bits |= opKey
	}
	if len(op.Value) != 0 {
		bits |= opValue
	}
	if op.Flags != 0 {
		bits |= opFlags
	}
	if op.Index != 0 {
		bits |= opIndex
	}
	b = appendVerb(b, op.Verb)
	b = append(b, bits)
	if bits&opKey != 0 {
		b = appendString(b, op.Key)
	}
	if bits&opValue != 0 {
		b = appendBytes(b, op.Value)
	}
	if bits&opFlags != 0 {
		b = binary.AppendUvarint(b, op.Flags)
	}
	if bits&opIndex != 0 {
		b = binary.AppendUvarint(b, op.Index)
	}
	return b
}

// UnmarshalCommand decodes what Command.Marshal wrote. It never panics, and
// the command it returns shares no memory with b. The error wraps
// ErrMalformedCommand and says what is wrong and where.
func UnmarshalCommand(b []byte) (*Command, error) {
	d := decoder{b: b}
	c, err := decodeCommand(&d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedCommand, err)
	}
	return c, nil
}

func decodeCommand(d *decoder) (*Command, error) {
	if v := d.byte("version"); d.err == nil && v != commandVersion {
		return nil, fmt.Errorf("unknown version %d (want %d)", v, commandVersion)
	}
	c := &Command{Op: Op(d.byte("op"))}
	if d.err == nil {
		switch c.Op {
		case OpPut, OpDelete, OpDeleteTree, OpTxn:
		default:
			return nil, fmt.Errorf("unknown op %d", uint8(c.Op))
		}
	}
	bits := d.byte("field bits")
	if d.err == nil && bits&^cmdAll != 0 {
		return nil, fmt.Errorf("unknown field bits %#x", bits&^cmdAll)
	}
	if bits&cmdKey != 0 {
		c.Key = d.string("key")
	}
	if bits&cmdValue != 0 {
		c.Value = d.bytes("value")
	}
	if bits&cmdFlags != 0 {
		c.Flags = d.uvarint("flags")
	}
	if bits&cmdCAS != 0 {
		c.HasCAS = true
		c.CASIndex = d.uvarint("cas index")
	}
	if bits&cmdOps != 0 {
		// An operation takes at least two bytes: its verb and its bits.
		if n := d.count("op count", 2); n > 0 {
			c.Ops = make([]rpc.TxnOp, n)
			for i := range c.Ops {
				decodeTxnOp(d, &c.Ops[i])
				if d.err != nil {
					return nil, fmt.Errorf("op %d: %v", i, d.err)
				}
			}
		}
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeTxnOp(d *decoder, op *rpc.TxnOp) {
	op.Verb = d.verb()
	bits := d.byte("op field bits")
	if d.err == nil && bits&^opAll != 0 {
		d.off--
		d.failf("unknown op field bits %#x", bits&^opAll)
		return
	}
	if bits&opKey != 0 {
		op.Key = d.string("op key")
	}
	if bits&opValue != 0 {
		op.Value = d.bytes("op value")
	}
	if bits&opFlags != 0 {
		op.Flags = d.uvarint("op flags")
	}
	if bits&opIndex != 0 {
		op.Index = d.uvarint("op index")
	}
}
