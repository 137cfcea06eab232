package rpc

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
)

// Decoding the answers of kv.get, kv.put and kv.delete without reflection.
// encoding/json was about a third of a client's CPU per kv.get
// (BenchmarkClientKVGet's profile): these answers are small, their shape
// fixed, and a client makes thousands a second. The fast path takes only
// the shape our servers write (members in any order, plain ASCII strings,
// unsigned integers, a zero-valued target) and gives up on anything else,
// which encoding/json then decodes as before, with its own errors. So
// either path yields the same result (FuzzFastDecode checks it).

// fastResult is a result the client can decode without encoding/json.
// decodeFast reports false, leaving the target as it was, when b is not in
// the fast path's shape.
type fastResult interface {
	decodeFast(b []byte) bool
}

// fastAnswer decodes a whole answer to call id into fr when both are in
// the fast path's shape: a valid object with exactly "jsonrpc":"2.0", the
// call's id and a result. handled is false otherwise (an error answer,
// another shape), and the caller decodes the answer with encoding/json.
func fastAnswer(body []byte, id uint64, fr fastResult) (handled bool) {
	if !json.Valid(body) {
		return false
	}
	b := trimValue(body)
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	var seen uint8
	var result []byte
	for k, v := range members(b) {
		var bit uint8
		switch string(k) {
		case "jsonrpc":
			bit = 1
			if string(v) != `"2.0"` {
				return false
			}
		case "id":
			bit = 2
			if n, ok := fastUint(v); !ok || n != id {
				return false
			}
		case "result":
			bit = 4
			result = v
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	return seen == 7 && fr.decodeFast(result)
}

// fastString is a JSON string of printable ASCII without escapes.
func fastString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	for _, c := range v[1 : len(v)-1] {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(v[1 : len(v)-1]), true
}

// fastUint is a JSON number that is an unsigned integer (no sign,
// fraction or exponent, no leading zero) within uint64.
func fastUint(v []byte) (uint64, bool) {
	if len(v) == 0 || len(v) > 20 || (v[0] == '0' && len(v) > 1) {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	return n, err == nil
}

// fastInt is fastUint with an optional minus sign, within int64.
func fastInt(v []byte) (int64, bool) {
	neg := len(v) > 0 && v[0] == '-'
	digits := v
	if neg {
		digits = v[1:]
	}
	if _, ok := fastUint(digits); !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}

// fastBool is true or false.
func fastBool(v []byte) (b, ok bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// fastBytes is a []byte as encoding/json writes it: null, or standard
// base64 in a string (empty gives an empty, non-nil slice, as
// encoding/json does).
func fastBytes(v []byte) ([]byte, bool) {
	if string(v) == "null" {
		return nil, true
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false
	}
	s := v[1 : len(v)-1]
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	for _, c := range s {
		// The alphabet and padding only: encoding/json's decoder would
		// also skip line breaks, which our servers do not send.
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return nil, false
		}
	}
	n, err := base64.StdEncoding.Decode(out, s)
	if err != nil {
		return nil, false
	}
	return out[:n], true
}

// fields walks the members of object v once each, calling f with a member
// index from names (or -1 for an unknown name, which fails the walk).
func fields(v []byte, names []string, f func(i int, v []byte) bool) bool {
	if len(v) == 0 || v[0] != '{' {
		return false
	}
	var seen uint32
	for k, val := range members(v) {
		i := -1
		for j, name := range names {
			if string(k) == name {
				i = j
				break
			}
		}
		if i < 0 || seen&(1<<i) != 0 || !f(i, val) {
			return false
		}
		seen |= 1 << i
	}
	return true
}

var entryFields = []string{"key", "value", "flags", "create_index", "modify_index", "lock_index", "session"}

func (e *KVEntry) decodeFast(b []byte) bool {
	var out KVEntry
	ok := fields(b, entryFields, func(i int, v []byte) (ok bool) {
		switch i {
		case 0:
			out.Key, ok = fastString(v)
		case 1:
			out.Value, ok = fastBytes(v)
		case 2:
			out.Flags, ok = fastUint(v)
		case 3:
			out.CreateIndex, ok = fastUint(v)
		case 4:
			out.ModifyIndex, ok = fastUint(v)
		case 5:
			out.LockIndex, ok = fastUint(v)
		case 6:
			out.Session, ok = fastString(v)
		}
		return ok
	})
	if ok {
		*e = out
	}
	return ok
}

var getFields = []string{"entry", "index", "known_leader", "last_contact_ms"}

func (r *KVGetResult) decodeFast(b []byte) bool {
	if *r != (KVGetResult{}) { // encoding/json would merge into it
		return false
	}
	var out KVGetResult
	ok := fields(b, getFields, func(i int, v []byte) (ok bool) {
		switch i {
		case 0:
			if string(v) == "null" {
				return true
			}
			out.Entry = new(KVEntry)
			return out.Entry.decodeFast(v)
		case 1:
			out.Index, ok = fastUint(v)
		case 2: // stale reads
			var b bool
			if b, ok = fastBool(v); ok {
				out.KnownLeader = &b
			}
		case 3:
			var n int64
			if n, ok = fastInt(v); ok {
				out.LastContactMS = &n
			}
		}
		return ok
	})
	if ok {
		*r = out
	}
	return ok
}

var writeFields = []string{"ok", "index"}

// decodeWrite decodes the answer of kv.put and kv.delete, both {ok, index}.
func decodeWrite(b []byte, ok *bool, index *uint64) bool {
	if *ok || *index != 0 {
		return false
	}
	var o bool
	var n uint64
	done := fields(b, writeFields, func(i int, v []byte) (good bool) {
		if i == 0 {
			o, good = fastBool(v)
		} else {
			n, good = fastUint(v)
		}
		return good
	})
	if done {
		*ok, *index = o, n
	}
	return done
}

func (r *KVPutResult) decodeFast(b []byte) bool    { return decodeWrite(b, &r.OK, &r.Index) }
func (r *KVDeleteResult) decodeFast(b []byte) bool { return decodeWrite(b, &r.OK, &r.Index) }
