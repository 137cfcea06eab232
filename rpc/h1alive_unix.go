//go:build unix

package rpc

import (
	"net"
	"syscall"
)

// alive reports whether an idle kept connection is still open at the
// other end: a peek that does not wait finds neither the end of the stream
// nor an error. http.Transport learns the same from the reader goroutine it
// keeps on every idle connection; a server restarted or gone since the
// last call would otherwise fail the next one after it was sent, instead of
// letting the client dial (and fail over) cleanly.
func alive(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing to read, still open. A byte, an EOF (n == 0, no
		// error) or another error: not a connection to send a call on.
		open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true // never wait
	})
	return err == nil && open
}
