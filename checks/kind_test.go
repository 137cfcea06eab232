package checks

import (
	"testing"

	"meridian/rpc"
)

// Every kind Validate knows runs, with a prober exactly when it is
// periodic.
func TestKinds(t *testing.T) {
	for _, kind := range []string{rpc.CheckHTTP, rpc.CheckTCP, rpc.CheckTTL, rpc.CheckWASM} {
		spec, ok := kinds[kind]
		if !ok {
			t.Errorf("kind %s: no entry", kind)
			continue
		}
		if (spec.newProber != nil) != periodic(kind) {
			t.Errorf("kind %s: prober %v, periodic %v", kind, spec.newProber != nil, periodic(kind))
		}
	}
	for kind := range kinds {
		if err := Validate(rpc.CheckDefinition{Name: "x", Kind: kind}); err != nil && err.(*FieldError).Field == "kind" {
			t.Errorf("kind %s runs but Validate refuses it", kind)
		}
	}
}
