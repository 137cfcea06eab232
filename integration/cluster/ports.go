package cluster

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Ports are picked below the kernel's ephemeral range when there is room
// there. A port the kernel hands out for "127.0.0.1:0" is an ephemeral one,
// and while a killed server is down any outgoing connection of this machine
// (the test's clients, the other servers' Raft dials) may take it as its
// source port, so that the restart, which must reuse the port, fails with
// "address already in use". Ports outside the range are never taken that
// way.
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

// FreePorts returns n distinct loopback TCP ports that nothing listens on
// now. A port may still be taken between this call and the server's bind:
// Start retries with new ports when a server cannot bind.
func FreePorts(n int) ([]int, error) {
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
			return nil, fmt.Errorf("cluster: no free loopback port found after %d tries", tries)
		}
		p, err := pickPort()
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

// pickPort proposes one port that is free right now (0 when the proposal
// was taken).
func pickPort() (int, error) {
	addr := "127.0.0.1:0"
	if ports.hi > 0 {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.lo+rand.IntN(ports.hi-ports.lo)))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if ports.hi > 0 {
			return 0, nil // taken: try another
		}
		return 0, fmt.Errorf("cluster: listen on %s: %w", addr, err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p, nil
}
