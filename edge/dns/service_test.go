package dns

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"meridian/rpc"
)

// summary writes records as sorted "TYPE data" strings.
func summary(rrs []mdns.RR) []string {
	var out []string
	for _, rr := range rrs {
		switch r := rr.(type) {
		case *mdns.A:
			out = append(out, "A "+r.A.String())
		case *mdns.AAAA:
			out = append(out, "AAAA "+r.AAAA.String())
		case *mdns.SRV:
			out = append(out, fmt.Sprintf("SRV %d %s", r.Port, r.Target))
		case *mdns.CNAME:
			out = append(out, "CNAME "+r.Target)
		case *mdns.TXT:
			out = append(out, "TXT "+strings.Join(r.Txt, ""))
		case *mdns.SOA:
			out = append(out, "SOA "+r.Hdr.Name)
		case *mdns.OPT:
			continue
		default:
			out = append(out, rr.String())
		}
	}
	slices.Sort(out)
	return out
}

// registerWeb lays out the catalog the lookup tests read.
func registerWeb(t *testing.T, e *testEnv) {
	node := func(name string) rpc.Check { return check("serfHealth", "", rpc.HealthPassing) }
	svc := func(id, name string, port int, addr string, tags ...string) []rpc.Service {
		return []rpc.Service{{ID: id, Name: name, Port: port, Address: addr, Tags: tags}}
	}
	ok := func(id string) rpc.Check { return check("c-"+id, id, rpc.HealthPassing) }
	e.register(t, "n1", "10.0.0.1", map[string]string{"rack": "r1"}, append(svc("web-a", "web", 8080, "", "v1", "Primary"),
		rpc.Service{ID: "billing", Name: "Billing", Port: 9000}), node("n1"), ok("web-a"), ok("billing"))
	e.register(t, "n2", "10.0.0.2", nil, svc("web-b", "web", 8081, "", "v2"), node("n2"), ok("web-b"))
	e.register(t, "n3", "10.0.0.3", nil, svc("web-c", "web", 8082, "", "v1"), node("n3"), check("c-web-c", "web-c", rpc.HealthWarning))
	e.register(t, "n4", "10.0.0.4", nil, svc("web-d", "web", 8083, ""), node("n4"), check("c-web-d", "web-d", rpc.HealthCritical))
	e.register(t, "n5", "10.0.0.5", nil, svc("web-e", "web", 8084, ""), check("serfHealth", "", rpc.HealthCritical), ok("web-e"))
	e.register(t, "n6", "fd00::6", nil, svc("web-f", "web", 8085, "", "v6"), node("n6"), ok("web-f"))
	e.register(t, "n7", "10.0.0.7", nil, svc("web-g", "web", 8086, "192.168.7.7", "own"), node("n7"), ok("web-g"))
	e.register(t, "n8", "10.0.0.8", nil, svc("ext", "ext", 5432, "db.example.com"), node("n8"), ok("ext"))
	e.register(t, "n9", "10.0.0.9", nil, svc("down", "down", 80, ""), node("n9"), check("c-down", "down", rpc.HealthCritical))
}

func TestServiceLookups(t *testing.T) {
	e := newEnv(t, nil)
	registerWeb(t, e)
	webA := []string{"A 10.0.0.1", "A 10.0.0.2", "A 10.0.0.3", "A 192.168.7.7"}
	webSRV := []string{"SRV 8080 n1.node.dc1.meridian.", "SRV 8081 n2.node.dc1.meridian.", "SRV 8082 n3.node.dc1.meridian.",
		"SRV 8085 n6.node.dc1.meridian.", "SRV 8086 c0a80707.addr.dc1.meridian."}
	webSRVExtra := []string{"A 10.0.0.1", "A 10.0.0.2", "A 10.0.0.3", "A 192.168.7.7", "AAAA fd00::6"}
	soa := []string{"SOA meridian."}
	tests := []struct {
		name          string
		qname         string
		qtype         uint16
		rcode         int
		answer, extra []string
		ns            []string
	}{
		{"A: passing and warning, not critical", "web.service.meridian.", mdns.TypeA, mdns.RcodeSuccess, webA, nil, nil},
		{"AAAA", "web.service.meridian.", mdns.TypeAAAA, mdns.RcodeSuccess, []string{"AAAA fd00::6"}, nil, nil},
		{"ANY: A and AAAA", "web.service.meridian.", mdns.TypeANY, mdns.RcodeSuccess, append(slices.Clone(webA), "AAAA fd00::6"), nil, nil},
		{"SRV with addresses in additional", "web.service.meridian.", mdns.TypeSRV, mdns.RcodeSuccess, webSRV, webSRVExtra, nil},
		{"with the local dc", "web.service.dc1.meridian.", mdns.TypeA, mdns.RcodeSuccess, webA, nil, nil},
		{"case-insensitive", "WeB.SeRvIcE.Dc1.MERIDIAN.", mdns.TypeA, mdns.RcodeSuccess, webA, nil, nil},
		{"registered in upper case", "billing.service.meridian.", mdns.TypeA, mdns.RcodeSuccess, []string{"A 10.0.0.1"}, nil, nil},
		{"tag", "v1.web.service.meridian.", mdns.TypeA, mdns.RcodeSuccess, []string{"A 10.0.0.1", "A 10.0.0.3"}, nil, nil},
		{"tag, case-insensitive", "primary.web.service.meridian.", mdns.TypeA, mdns.RcodeSuccess, []string{"A 10.0.0.1"}, nil, nil},
		{"tag SRV", "v2.web.service.dc1.meridian.", mdns.TypeSRV, mdns.RcodeSuccess, []string{"SRV 8081 n2.node.dc1.meridian."}, []string{"A 10.0.0.2"}, nil},
		{"RFC 2782 _tcp: any tag", "_web._tcp.service.meridian.", mdns.TypeSRV, mdns.RcodeSuccess, webSRV, webSRVExtra, nil},
		{"RFC 2782 tag", "_web._v2.service.meridian.", mdns.TypeSRV, mdns.RcodeSuccess, []string{"SRV 8081 n2.node.dc1.meridian."}, []string{"A 10.0.0.2"}, nil},
		{"own address: addr target", "_web._own.service.meridian.", mdns.TypeSRV, mdns.RcodeSuccess,
			[]string{"SRV 8086 c0a80707.addr.dc1.meridian."}, []string{"A 192.168.7.7"}, nil},
		{"IPv6 node: AAAA additional", "v6.web.service.meridian.", mdns.TypeSRV, mdns.RcodeSuccess,
			[]string{"SRV 8085 n6.node.dc1.meridian."}, []string{"AAAA fd00::6"}, nil},
		{"host name address: CNAME", "ext.service.meridian.", mdns.TypeA, mdns.RcodeSuccess, []string{"CNAME db.example.com."}, nil, nil},
		{"host name address: SRV target", "ext.service.meridian.", mdns.TypeSRV, mdns.RcodeSuccess, []string{"SRV 5432 db.example.com."}, nil, nil},
		{"unknown service: NXDOMAIN", "nope.service.meridian.", mdns.TypeA, mdns.RcodeNameError, nil, nil, soa},
		{"unknown tag: NXDOMAIN", "v9.web.service.meridian.", mdns.TypeA, mdns.RcodeNameError, nil, nil, soa},
		{"no healthy instance: NOERROR, no answer", "down.service.meridian.", mdns.TypeA, mdns.RcodeSuccess, nil, nil, soa},
		{"no record of the type: NOERROR, no answer", "web.service.meridian.", mdns.TypeTXT, mdns.RcodeSuccess, nil, nil, soa},
		{"unknown type: NOERROR, no answer", "web.service.meridian.", 65280, mdns.RcodeSuccess, nil, nil, soa},
		{"A of an IPv6-only tag: no answer", "v6.web.service.meridian.", mdns.TypeA, mdns.RcodeSuccess, nil, nil, soa},
		{"unknown datacenter: NXDOMAIN", "web.service.dc9.meridian.", mdns.TypeA, mdns.RcodeNameError, nil, nil, soa},
		{"no name form: NXDOMAIN", "web.meridian.", mdns.TypeA, mdns.RcodeNameError, nil, nil, soa},
		{"three labels before service: NXDOMAIN", "a.b.web.service.meridian.", mdns.TypeA, mdns.RcodeNameError, nil, nil, soa},
		{"apex SOA", "meridian.", mdns.TypeSOA, mdns.RcodeSuccess, soa, nil, nil},
		{"apex A: no answer", "MERIDIAN.", mdns.TypeA, mdns.RcodeSuccess, nil, nil, soa},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				r := query(t, network, e.addr, tc.qname, tc.qtype, 0)
				if r.Rcode != tc.rcode {
					t.Fatalf("rcode %s, want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tc.rcode])
				}
				if !r.Authoritative || r.Truncated {
					t.Errorf("aa=%v tc=%v, want aa and not tc", r.Authoritative, r.Truncated)
				}
				checkSections(t, r, tc.answer, tc.extra, tc.ns)
				for _, rr := range r.Answer {
					if rr.Header().Name != tc.qname {
						t.Errorf("owner %q, want the question's %q", rr.Header().Name, tc.qname)
					}
					if rr.Header().Rrtype != mdns.TypeSOA && rr.Header().Ttl != 0 {
						t.Errorf("TTL %d, want the default 0", rr.Header().Ttl)
					}
				}
			})
		}
	}
}

func TestOnlyPassing(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.OnlyPassing = true })
	registerWeb(t, e)
	r := query(t, "udp", e.addr, "web.service.meridian.", mdns.TypeA, 0)
	if got, want := summary(r.Answer), []string{"A 10.0.0.1", "A 10.0.0.2", "A 192.168.7.7"}; !slices.Equal(got, want) {
		t.Fatalf("OnlyPassing: %q, want %q (no warning instance)", got, want)
	}
}

func TestTTLs(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.DefaultTTL = 5 * time.Second
		c.ServiceTTL = map[string]time.Duration{"Web": 30 * time.Second, "bill*": 7 * time.Second, "b*": time.Second}
		c.NodeTTL = 11 * time.Second
		c.NegativeTTL = 13 * time.Second
	})
	registerWeb(t, e)
	for _, tc := range []struct {
		qname string
		qtype uint16
		ttl   uint32
	}{
		{"web.service.meridian.", mdns.TypeA, 30},
		{"web.service.meridian.", mdns.TypeSRV, 30},
		{"billing.service.meridian.", mdns.TypeA, 7}, // the longest prefix
		{"ext.service.meridian.", mdns.TypeA, 5},
		{"n1.node.meridian.", mdns.TypeA, 11},
		{"c0a80707.addr.dc1.meridian.", mdns.TypeA, 11},
	} {
		r := query(t, "udp", e.addr, tc.qname, tc.qtype, 0)
		if len(r.Answer) == 0 {
			t.Fatalf("%s: no answer", tc.qname)
		}
		for _, rr := range append(r.Answer, r.Extra...) {
			if rr.Header().Ttl != tc.ttl && rr.Header().Rrtype != mdns.TypeOPT {
				t.Errorf("%s: %s has TTL %d, want %d", tc.qname, rr, rr.Header().Ttl, tc.ttl)
			}
		}
	}
	r := query(t, "udp", e.addr, "nope.service.meridian.", mdns.TypeA, 0)
	soa, ok := r.Ns[0].(*mdns.SOA)
	if r.Rcode != mdns.RcodeNameError || !ok || soa.Hdr.Ttl != 13 || soa.Minttl != 13 {
		t.Fatalf("negative answer %v, want NXDOMAIN with an SOA of TTL and minimum 13", r)
	}
}

func TestARecordLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ARecordLimit = 3 })
	e.registerInstances(t, "api", 10)
	seen := map[string]bool{}
	for range 40 {
		r := query(t, "udp", e.addr, "api.service.meridian.", mdns.TypeA, 0)
		if len(r.Answer) != 3 || r.Truncated {
			t.Fatalf("%d answers (tc=%v), want the limit 3 without TC", len(r.Answer), r.Truncated)
		}
		for _, a := range addrs(r.Answer) {
			seen[a] = true
		}
	}
	// 40 random draws of 3 of 10 leave one address out with probability
	// 10*(0.7^40), about 6e-6.
	if len(seen) != 10 {
		t.Fatalf("%d addresses seen over 40 queries, want all 10 (answers are shuffled)", len(seen))
	}
	if r := query(t, "udp", e.addr, "api.service.meridian.", mdns.TypeSRV, 0); len(r.Answer) != 10 {
		t.Fatalf("SRV: %d answers, want 10: the limit is on A and AAAA", len(r.Answer))
	}
}

func TestShuffled(t *testing.T) {
	e := newEnv(t, nil)
	e.registerInstances(t, "api", 10)
	for _, qtype := range []uint16{mdns.TypeA, mdns.TypeSRV} {
		first := map[string]bool{}
		for range 30 {
			r := query(t, "udp", e.addr, "api.service.meridian.", qtype, 0)
			if len(r.Answer) != 10 {
				t.Fatalf("%d answers, want 10", len(r.Answer))
			}
			first[summary(r.Answer[:1])[0]] = true
		}
		// The chance that 30 shuffles of 10 records all start the same is 1e-29.
		if len(first) < 2 {
			t.Fatalf("%s: the first record was always %v", mdns.TypeToString[qtype], first)
		}
	}
}
