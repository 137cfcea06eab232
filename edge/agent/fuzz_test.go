package agent_test

import (
	"testing"

	"meridian/edge/agent"
	"meridian/rpc"
)

// FuzzParseDefinition: any bytes either decode into a definition or give
// an error; never a panic. A decoded service normalizes and validates
// without panicking either.
func FuzzParseDefinition(f *testing.F) {
	for _, s := range []string{
		`{"service": {"name": "web", "port": 80}, "checks": [{"kind": "http", "http": "http://x/", "interval": "10s"}]}`,
		`{"checks": [{"name": "disk", "kind": "ttl", "ttl": "1m"}]}`,
		`{"service": {"name": "web", "prot": 80}}`,
		`{"service": null}`,
		`[]`, `{`, ``, `{"service": {"name": "a"}} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		def, err := agent.ParseDefinition(b)
		if err != nil {
			return
		}
		if def.Service != nil {
			s := *def.Service
			s.Normalize()
			_ = s.Validate("service")
		}
		for _, c := range def.Checks {
			_ = rpc.ValidStatus(c.Status)
		}
	})
}
