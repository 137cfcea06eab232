package examples_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"meridian/wasm"
)

// TestDNSResolve runs the DNS example on "localhost", which the agent's
// resolver answers from /etc/hosts without the network.
func TestDNSResolve(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// What the runtime's resolver says, in its order.
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, "localhost")
	if err != nil {
		t.Skipf("localhost does not resolve here: %v", err)
	}
	var addrs []string
	for _, ip := range ips {
		addrs = append(addrs, ip.String())
	}
	if !slices.Contains(addrs, "127.0.0.1") {
		t.Skipf("localhost resolves to %v here, not 127.0.0.1", addrs)
	}
	got := "localhost: " + strings.Join(addrs, ", ")
	grants := []string{"localhost"}

	rt := newRuntime(t)
	m := load(t, rt, "dnsresolve")
	for _, tc := range []runCase{
		{name: "resolves", args: `{"name":"localhost"}`, grants: grants,
			status: wasm.Passing, output: got},
		{name: "expected", args: `{"name":"localhost","expect":["127.0.0.1"]}`, grants: grants,
			status: wasm.Passing, output: got},
		{name: "missing", args: `{"name":"localhost","expect":["127.0.0.1","192.0.2.1"]}`, grants: grants,
			status: wasm.Warning, output: got + "; missing 192.0.2.1"},
		{name: "not granted", args: `{"name":"localhost"}`, grants: []string{"db.internal"},
			status: wasm.Critical,
			output: "localhost: dns_lookup localhost: check: not granted\n" +
				"meridian: dns_lookup localhost refused: not granted (grants: db.internal)",
			refused: []string{"dns_lookup localhost"}},
		{name: "bad address", args: `{"name":"localhost","expect":["not-an-ip"]}`, grants: grants,
			status: wasm.Critical, has: []string{"bad arguments "}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, m) })
	}
}
