package dns

import (
	"testing"

	mdns "github.com/miekg/dns"
)

func TestTruncation(t *testing.T) {
	e := newEnv(t, nil)
	const n = 60
	e.registerInstances(t, "big", n)
	for _, tc := range []struct {
		name    string
		network string
		qtype   uint16
		edns    uint16
		all     bool // every record, no TC
		limit   int  // the size the answer must fit
	}{
		{"UDP A: cut to 512 bytes", "udp", mdns.TypeA, 0, false, 512},
		{"UDP SRV: cut to 512 bytes", "udp", mdns.TypeSRV, 0, false, 512},
		{"UDP A, EDNS0 1232", "udp", mdns.TypeA, 1232, true, 1232},
		{"UDP SRV, EDNS0 1232: cut", "udp", mdns.TypeSRV, 1232, false, 1232},
		{"UDP SRV, EDNS0 4096", "udp", mdns.TypeSRV, 4096, true, 4096},
		{"UDP A, EDNS0 below 512 counts as 512", "udp", mdns.TypeA, 100, false, 512},
		{"TCP A: complete", "tcp", mdns.TypeA, 0, true, mdns.MaxMsgSize},
		{"TCP SRV: complete", "tcp", mdns.TypeSRV, 0, true, mdns.MaxMsgSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := query(t, tc.network, e.addr, "big.service.meridian.", tc.qtype, tc.edns)
			r.Compress = true // as sent
			wire, err := r.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if len(wire) > tc.limit {
				t.Fatalf("answer is %d bytes, over %d", len(wire), tc.limit)
			}
			if tc.all {
				if r.Truncated || len(r.Answer) != n {
					t.Fatalf("tc=%v with %d answers, want all %d without TC", r.Truncated, len(r.Answer), n)
				}
				if tc.qtype == mdns.TypeSRV && len(records(r.Extra, mdns.TypeA)) != n {
					t.Fatalf("%d additional A records, want %d", len(records(r.Extra, mdns.TypeA)), n)
				}
				return
			}
			if !r.Truncated || len(r.Answer) == 0 || len(r.Answer) >= n {
				t.Fatalf("tc=%v with %d answers, want TC and some of the %d", r.Truncated, len(r.Answer), n)
			}
			if tc.edns > 0 && r.IsEdns0() == nil {
				t.Fatalf("no OPT record in the answer to an EDNS0 query")
			}
		})
	}
	t.Run("UDP SRV: every answer fits, not every address: no TC", func(t *testing.T) {
		e.registerInstances(t, "ten", 10)
		r := query(t, "udp", e.addr, "ten.service.meridian.", mdns.TypeSRV, 0)
		extra := len(records(r.Extra, mdns.TypeA))
		if r.Truncated || len(r.Answer) != 10 || extra == 0 || extra == 10 {
			t.Fatalf("tc=%v, %d answers, %d addresses; want all 10 SRV records, some addresses, no TC (RFC 2181 section 9)",
				r.Truncated, len(r.Answer), extra)
		}
		for _, rr := range r.Extra {
			found := false
			for _, a := range r.Answer {
				found = found || a.(*mdns.SRV).Target == rr.Header().Name
			}
			if !found {
				t.Fatalf("additional %v names no SRV target", rr)
			}
		}
	})
	if s := e.srv.Stats(); s.Truncated == 0 {
		t.Fatalf("Stats.Truncated = 0")
	}
}
