package checks

import (
	"net"
	"strings"
	"testing"
	"time"

	"meridian/rpc"
)

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // accept and hang up
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open, closed := ln.Addr().String(), closedAddr(t)
	r := newRunner(t, Config{})

	cases := []struct {
		name   string
		addr   string
		status string
		output string
	}{
		{"open port passing", open, rpc.HealthPassing, "TCP connect " + open + ": Success"},
		{"closed port critical", closed, rpc.HealthCritical, "TCP connect " + closed + ": dial tcp " + closed + ": connect: connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			def := rpc.CheckDefinition{ID: "db", Name: "db", Kind: rpc.CheckTCP, TCP: tc.addr, Interval: dur(time.Second)}
			res := probeOnce(t, r, def)
			if res.status != tc.status || !strings.HasPrefix(res.output, tc.output) {
				t.Fatalf("got %s %q, want %s %q", res.status, res.output, tc.status, tc.output)
			}
		})
	}
}
