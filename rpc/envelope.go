package rpc

import (
	"bytes"
	"encoding/json"
	"iter"
)

// This file reads the JSON-RPC envelope. The body is checked once with
// json.Valid; after that a small scanner finds the members of the request
// object and the elements of a batch without decoding them, so params are
// decoded only once, straight into the method's parameter type.

// request is one parsed request object. Its slices point into the body.
type request struct {
	id     []byte  // raw JSON of the id; nil when the member is absent
	method []byte  // method name, unquoted; nil when invalid
	params []byte  // raw JSON of params; nil when absent
	err    *Error  // set when the request is invalid (always answered)
	m      *method // the registered method; nil when not found
	raw    []byte  // the whole request object, for Forward
}

// notification reports whether no answer must be sent.
func (r *request) notification() bool { return r.id == nil && r.err == nil }

// answerID is the id to send back: null when it was absent or invalid.
func (r *request) answerID() []byte {
	if r.id == nil {
		return nullID
	}
	return r.id
}

var nullID = []byte("null")

// parseRequest reads one request object. b is one valid JSON value with no
// surrounding space.
func parseRequest(b []byte) request {
	r := request{raw: b}
	if b[0] != '{' {
		r.err = invalidRequest("a request must be an object")
		return r
	}
	var version, method []byte
	for key, val := range members(b) {
		switch string(key) {
		case "jsonrpc":
			version = val
		case "method":
			method = val
		case "params":
			r.params = val
		case "id":
			r.id = val
		}
	}
	if r.id != nil {
		switch r.id[0] {
		case '"', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		default:
			r.id = nil
			r.err = invalidRequest("id must be a string, a number or null")
			return r
		}
	}
	if string(version) != `"2.0"` && unquote(version) != "2.0" {
		r.err = invalidRequest(`jsonrpc must be "2.0"`)
		return r
	}
	if len(method) == 0 || method[0] != '"' {
		r.err = invalidRequest("method must be a string")
		return r
	}
	r.method = unquoteBytes(method)
	return r
}

func invalidRequest(why string) *Error {
	return &Error{Code: CodeInvalidRequest, Message: "invalid request: " + why}
}

// members yields the members of the JSON object b (valid, no surrounding
// space), with keys unquoted.
func members(b []byte) iter.Seq2[[]byte, []byte] {
	return func(yield func(key, val []byte) bool) {
		i := skipSpace(b, 1)
		for i < len(b) && b[i] == '"' {
			k := i
			i = skipString(b, i)
			key := unquoteBytes(b[k:i])
			i = skipSpace(b, i)   // at ':'
			i = skipSpace(b, i+1) // at the value
			v := i
			i = skipValue(b, i)
			if !yield(key, b[v:i]) {
				return
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ',' {
				return
			}
			i = skipSpace(b, i+1)
		}
	}
}

// elements yields the elements of the JSON array b (valid, no surrounding
// space).
func elements(b []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		i := skipSpace(b, 1)
		for i < len(b) && b[i] != ']' {
			v := i
			i = skipValue(b, i)
			if !yield(b[v:i]) {
				return
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ',' {
				return
			}
			i = skipSpace(b, i+1)
		}
	}
}

// trimValue returns the single JSON value of the valid document b without
// surrounding space.
func trimValue(b []byte) []byte {
	i := skipSpace(b, 0)
	return b[i:skipValue(b, i)]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue returns the index just past the value that starts at b[i].
// b must be valid JSON; the scan does not recurse, so nesting depth costs
// nothing.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return i
	}
}

// skipString returns the index just past the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// unquoteBytes returns the contents of the JSON string s. Without escapes
// it is a sub-slice of s and costs nothing.
func unquoteBytes(s []byte) []byte {
	if len(s) < 2 || s[0] != '"' {
		return nil
	}
	if bytes.IndexByte(s, '\\') < 0 {
		return s[1 : len(s)-1]
	}
	var v string
	if json.Unmarshal(s, &v) != nil {
		return nil
	}
	return []byte(v)
}

// unquote is unquoteBytes for comparisons off the hot path.
func unquote(s []byte) string {
	if len(s) == 0 || s[0] != '"' {
		return "\x00" // matches no name
	}
	return string(unquoteBytes(s))
}
