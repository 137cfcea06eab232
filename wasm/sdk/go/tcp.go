package check

import "time"

// TCP connects to addr ("host:port", "[v6]:port"), which must be granted,
// sends send (if any), and then, if readMax > 0, reads once: it returns
// what the peer sent first (at most readMax bytes; none if it closed
// without sending), without waiting to fill readMax. With readMax 0 it
// returns once connected and the bytes sent. timeout is the call's own
// (0: the rest of the check's deadline). The connection is closed when TCP
// returns.
//
// Errors wrap ErrDenied, ErrTimeout, ErrNetwork (refused, reset), ErrInvalid
// (a bad address) or ErrLimit (the run's network budget is spent).
func (c *Context) TCP(addr string, send []byte, readMax int, timeout time.Duration) ([]byte, error) {
	recv := make([]byte, max(readMax, 0))
	ms := millis(timeout)
	if ms > 1<<31-1 {
		ms = 0 // past any deadline: the check's deadline
	}
	n := c.h.tcpConnect([]byte(addr), send, recv, int32(ms))
	if n < 0 {
		return nil, codeError("tcp_connect", addr, n)
	}
	if int(n) > len(recv) {
		return nil, codeError("tcp_connect", addr, n)
	}
	return recv[:n], nil
}
