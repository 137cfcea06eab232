// Package freeport hands out loopback ports for tests and tools that must
// name a port before the process that listens on it starts (dragonboat's
// Raft address, a gossip seed, a server restarted on its old port).
//
// Ports are picked below the kernel's ephemeral range when there is room
// there. A port the kernel hands out for "127.0.0.1:0" is an ephemeral one,
// and until its owner binds it, any bind to port 0 (another test's gossip
// member) or any outgoing connection (a client, a Raft dial) may take it,
// so that the owner fails with "address already in use" or, worse, another
// test's process answers on it. Ports outside the range are never taken
// that way. Each port is free for both TCP and UDP (gossip uses both).
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	lowestPort = 10000
	minRoom    = 2000 // fewer free-range ports than this: fall back to ":0"
)

var ports struct {
	mu     sync.Mutex
	given  map[int]bool // never hand out a port twice in one process
	lo, hi int          // candidate range [lo, hi); hi == 0: use ":0"
	inited bool
}

// ephemeralRange reads the kernel's ephemeral port range (Linux); it returns
// ok false elsewhere.
func ephemeralRange() (lo, hi int, ok bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, false
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	return lo, hi, err1 == nil && err2 == nil
}

// Ports returns n distinct loopback ports that nothing listens on now, for
// TCP or UDP, never handed out before by this process. A port may still be
// taken before its owner binds it (by a process that picks a fixed port):
// callers that can, retry with new ports.
func Ports(n int) ([]int, error) {
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if !ports.inited {
		ports.inited = true
		ports.given = map[int]bool{}
		if lo, _, ok := ephemeralRange(); ok && lo-lowestPort >= minRoom {
			ports.lo, ports.hi = lowestPort, lo
		}
	}
	out := make([]int, 0, n)
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			return nil, fmt.Errorf("freeport: no free loopback port found after %d tries", tries)
		}
		p, err := pick()
		if err != nil {
			return nil, err
		}
		if p == 0 || ports.given[p] {
			continue
		}
		ports.given[p] = true
		out = append(out, p)
	}
	return out, nil
}

// Port is Ports(1) for a test: it fails t when no port is found.
func Port(t testing.TB) int {
	t.Helper()
	p, err := Ports(1)
	if err != nil {
		t.Fatal(err)
	}
	return p[0]
}

// Addr is "127.0.0.1:PORT" of a Port: an address nothing listens on, and
// nothing will by chance.
func Addr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(Port(t)))
}

// pick proposes one port that is free right now for TCP and UDP (0 when
// the proposal was taken).
func pick() (int, error) {
	addr := "127.0.0.1:0"
	if ports.hi > 0 {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.lo+rand.IntN(ports.hi-ports.lo)))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if ports.hi > 0 {
			return 0, nil // taken: try another
		}
		return 0, fmt.Errorf("freeport: listen on %s: %w", addr, err)
	}
	defer ln.Close()
	p := ln.Addr().(*net.TCPAddr).Port
	u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return 0, nil // UDP side taken: try another
	}
	u.Close()
	return p, nil
}
