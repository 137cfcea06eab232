package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestPorts: the ports are distinct, never handed out twice, below the
// ephemeral range when it leaves room, and bindable for TCP and UDP.
func TestPorts(t *testing.T) {
	a, err := Ports(20)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Ports(20)
	if err != nil {
		t.Fatal(err)
	}
	lo, _, ok := ephemeralRange()
	seen := map[int]bool{}
	for _, p := range append(a, b...) {
		if seen[p] {
			t.Errorf("port %d handed out twice", p)
		}
		seen[p] = true
		if ok && lo-lowestPort >= minRoom && (p < lowestPort || p >= lo) {
			t.Errorf("port %d is outside [%d, %d): the ephemeral range starts at %d", p, lowestPort, lo, lo)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("tcp %s: %v", addr, err)
			continue
		}
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Errorf("udp %s: %v", addr, err)
		} else {
			u.Close()
		}
		ln.Close()
	}
}
