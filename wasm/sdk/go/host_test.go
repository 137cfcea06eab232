package check

import (
	"testing"
)

// fakeHost is the in-memory twin of the "meridian" host module: it
// records what the check did and answers from its fields.
type fakeHost struct {
	t      *testing.T
	args   []byte
	output string
	logs   []string
	now    int64

	// answers of the network calls: the bytes to write, or a negative code
	answer []byte
	code   int32
	// the last request
	req      []byte
	respCap  int
	addr     string
	send     []byte
	recvCap  int
	timeout  int32
	lookedUp string
}

var _ host = (*fakeHost)(nil)

func (h *fakeHost) setOutput(p []byte) int32 { h.output = string(p); return int32(len(p)) }

func (h *fakeHost) log(level int32, p []byte) int32 {
	if level < 0 || level > 3 {
		return -5
	}
	h.logs = append(h.logs, string(p))
	return 0
}

func (h *fakeHost) argsLen() int32 { return int32(len(h.args)) }

func (h *fakeHost) argsRead(p []byte) int32 {
	if len(p) < len(h.args) {
		return -4
	}
	return int32(copy(p, h.args))
}

func (h *fakeHost) nowMS() int64 { return h.now }

// reply writes the answer into out as the host does, or returns the code.
func (h *fakeHost) reply(out []byte) int32 {
	if h.code < 0 {
		return h.code
	}
	if len(h.answer) > len(out) {
		h.t.Fatalf("answer of %d bytes does not fit the %d-byte buffer", len(h.answer), len(out))
	}
	return int32(copy(out, h.answer))
}

func (h *fakeHost) httpRequest(req, resp []byte) int32 {
	h.req, h.respCap = append([]byte(nil), req...), len(resp)
	return h.reply(resp)
}

func (h *fakeHost) tcpConnect(addr, send, recv []byte, timeoutMS int32) int32 {
	h.addr, h.send, h.recvCap, h.timeout = string(addr), append([]byte(nil), send...), len(recv), timeoutMS
	return h.reply(recv)
}

func (h *fakeHost) dnsLookup(name, out []byte) int32 {
	h.lookedUp = string(name)
	return h.reply(out)
}
