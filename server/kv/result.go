package kv

import (
	"encoding/binary"
	"fmt"

	"meridian/rpc"
)

// Result is the outcome of one applied entry.
type Result struct {
	// OK: for a put or delete, the CAS held (always true without one); for
	// a delete-tree, true; for a transaction, it committed.
	OK bool
	// Index is the raft index of the entry.
	Index uint64
	// Txn is the outcome of an OpTxn (nil for the other ops); Txn.Index is
	// Index.
	Txn *rpc.KVTxnResult
	// Err is set when the command was malformed and changed nothing.
	Err string
}

// resultVersion is the first byte of a non-empty encoded result.
const resultVersion = 1

// Bits of the second byte of an encoded result.
const (
	resOK  = 1 << iota // OK
	resErr             // an error string follows
	resTxn             // a transaction result follows
	resAll = resOK | resErr | resTxn
)

// Encode turns r into the value and data of a dragonboat sm.Result. value
// is always the raft index. The common case, a write that succeeded, has no
// data and costs no allocation; anything else is a small binary record.
func (r Result) Encode() (value uint64, data []byte) {
	if r.OK && r.Txn == nil && r.Err == "" {
		return r.Index, nil
	}
	var bits byte
	if r.OK {
		bits |= resOK
	}
	if r.Err != "" {
		bits |= resErr
	}
	if r.Txn != nil {
		bits |= resTxn
	}
	b := []byte{resultVersion, bits}
	if r.Err != "" {
		b = appendString(b, r.Err)
	}
	if r.Txn != nil {
		b = appendTxnResult(b, r.Txn)
	}
	return r.Index, b
}

func appendTxnResult(b []byte, t *rpc.KVTxnResult) []byte {
	ok := byte(0)
	if t.OK {
		ok = 1
	}
	b = append(b, ok)
	b = binary.AppendUvarint(b, t.Index)
	b = binary.AppendUvarint(b, uint64(len(t.Results)))
	for i := range t.Results {
		b = appendVerb(b, t.Results[i].Verb)
		if e := t.Results[i].Entry; e != nil {
			b = appendEntry(append(b, 1), e)
		} else {
			b = append(b, 0)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(t.Errors)))
	for _, e := range t.Errors {
		b = binary.AppendVarint(b, int64(e.OpIndex))
		b = appendString(b, e.What)
	}
	return b
}

// DecodeResult decodes what Result.Encode returned. Empty data, nil or not,
// is a plain success. It never panics; the error wraps ErrMalformedResult.
func DecodeResult(value uint64, data []byte) (Result, error) {
	if len(data) == 0 {
		return Result{OK: true, Index: value}, nil
	}
	r := Result{Index: value}
	d := decoder{b: data}
	if v := d.byte("version"); d.err == nil && v != resultVersion {
		return Result{}, fmt.Errorf("%w: unknown version %d (want %d)", ErrMalformedResult, v, resultVersion)
	}
	bits := d.byte("bits")
	if d.err == nil && bits&^resAll != 0 {
		return Result{}, fmt.Errorf("%w: unknown bits %#x", ErrMalformedResult, bits&^resAll)
	}
	r.OK = bits&resOK != 0
	if bits&resErr != 0 {
		r.Err = d.string("error")
	}
	if bits&resTxn != 0 {
		r.Txn = decodeTxnResult(&d)
	}
	if err := d.finish(); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrMalformedResult, err)
	}
	return r, nil
}

func decodeTxnResult(d *decoder) *rpc.KVTxnResult {
	t := &rpc.KVTxnResult{}
	switch ok := d.byte("txn ok"); {
	case d.err != nil:
	case ok > 1:
		d.off--
		d.failf("txn ok byte is %d", ok)
	default:
		t.OK = ok == 1
	}
	t.Index = d.uvarint("txn index")
	// A result takes at least two bytes (verb, entry flag); an error two
	// (op index, length of what).
	if n := d.count("result count", 2); n > 0 {
		t.Results = make([]rpc.TxnResult, n)
		for i := range t.Results {
			t.Results[i].Verb = d.verb()
			switch has := d.byte("entry flag"); {
			case d.err != nil:
			case has == 1:
				t.Results[i].Entry = d.entry()
			case has != 0:
				d.off--
				d.failf("entry flag is %d", has)
			}
			if d.err != nil {
				return nil
			}
		}
	}
	if n := d.count("error count", 2); n > 0 {
		t.Errors = make([]rpc.TxnError, n)
		for i := range t.Errors {
			op := d.varint("op index")
			if op != int64(int(op)) {
				d.failf("op index %d overflows int", op)
			}
			t.Errors[i] = rpc.TxnError{OpIndex: int(op), What: d.string("what")}
			if d.err != nil {
				return nil
			}
		}
	}
	return t
}
