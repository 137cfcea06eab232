// Command dnsresolve is a Meridian health check: a name resolves, and
// optionally to the addresses expected.
//
// Arguments (JSON):
//
//	{
//	  "name": "db.internal",          // required, and granted ("db.internal")
//	  "expect": ["10.0.0.5"]          // optional: addresses the answer must hold
//	}
//
// Passing when the name resolves and the answer holds every expected
// address; warning when it resolves but misses one; critical when it does
// not resolve.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -trimpath -buildvcs=false -buildmode=c-shared
package main

import (
	"net/netip"
	"slices"
	"strings"

	check "meridian/wasm/sdk/go"
)

type args struct {
	Name   string       `json:"name"`
	Expect []netip.Addr `json:"expect"`
}

func init() { check.Register(run) }

func main() {}

func run(c *check.Context) check.Status {
	var a args
	if err := c.Args(&a); err != nil || a.Name == "" {
		c.Outputf(`bad arguments %s: want {"name": "host.example", "expect": ["192.0.2.1"]}`, c.RawArgs())
		return check.Critical
	}
	addrs, err := c.LookupIP(a.Name)
	if err != nil {
		c.Outputf("%s: %v", a.Name, err)
		return check.Critical
	}
	if len(addrs) == 0 {
		c.Outputf("%s: no addresses", a.Name)
		return check.Critical
	}
	got := make([]string, len(addrs))
	for i, ip := range addrs {
		got[i] = ip.String()
	}
	var missing []string
	for _, want := range a.Expect {
		if !slices.Contains(addrs, want.Unmap()) && !slices.Contains(addrs, want) {
			missing = append(missing, want.String())
		}
	}
	if len(missing) > 0 {
		c.Outputf("%s: %s; missing %s", a.Name, strings.Join(got, ", "), strings.Join(missing, ", "))
		return check.Warning
	}
	c.Outputf("%s: %s", a.Name, strings.Join(got, ", "))
	return check.Passing
}
