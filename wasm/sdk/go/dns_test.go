package check

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestLookupIP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer string
		code   int32
		want   []netip.Addr
		err    error
	}{
		{name: "two", answer: `["127.0.0.1","::1"]`, want: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}},
		{name: "none", answer: `[]`, want: []netip.Addr{}},
		{name: "denied", code: -1, err: ErrDenied},
		{name: "no such name", code: -3, err: ErrNetwork},
		{name: "not an address", answer: `["localhost"]`, err: ErrBadAnswer},
		{name: "not json", answer: `[`, err: ErrBadAnswer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHost{t: t, answer: []byte(tc.answer), code: tc.code}
			got, err := (&Context{h: h}).LookupIP("localhost")
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !slices.Equal(got, tc.want) || h.lookedUp != "localhost" {
				t.Fatalf("%v, want %v (looked up %q)", got, tc.want, h.lookedUp)
			}
		})
	}
}
