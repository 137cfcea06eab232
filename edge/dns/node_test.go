package dns

import (
	"testing"

	mdns "github.com/miekg/dns"

	"meridian/rpc"
)

func TestNodeLookups(t *testing.T) {
	e := newEnv(t, nil)
	meta := map[string]string{"rack": "r1", "a=b": "c", "rfc1035-raw": "as is", "path": `C:\x`}
	e.register(t, "db-1", "10.1.0.1", meta, nil, check("serfHealth", "", rpc.HealthPassing))
	e.register(t, "Db-Six", "fd00::1", nil, nil, check("serfHealth", "", rpc.HealthPassing))
	e.register(t, "dead", "10.1.0.3", nil, nil, check("serfHealth", "", rpc.HealthCritical))
	e.register(t, "ext", "db.example.com", nil, nil)
	txt := []string{"TXT a`=b=c", "TXT as is", `TXT path=C:\\x`, "TXT rack=r1"}
	soa := []string{"SOA meridian."}
	tests := []struct {
		name                string
		qname               string
		qtype               uint16
		rcode               int
		answer, extra, auth []string
	}{
		{"A with meta TXT additional", "db-1.node.meridian.", mdns.TypeA, mdns.RcodeSuccess, []string{"A 10.1.0.1"}, txt, nil},
		{"with dc, case-insensitive", "DB-1.Node.DC1.meridian.", mdns.TypeA, mdns.RcodeSuccess, []string{"A 10.1.0.1"}, txt, nil},
		{"TXT", "db-1.node.meridian.", mdns.TypeTXT, mdns.RcodeSuccess, txt, nil, nil},
		{"ANY", "db-1.node.meridian.", mdns.TypeANY, mdns.RcodeSuccess, append([]string{"A 10.1.0.1"}, txt...), nil, nil},
		{"AAAA of an IPv4 node: no answer", "db-1.node.meridian.", mdns.TypeAAAA, mdns.RcodeSuccess, nil, nil, soa},
		{"AAAA, registered in mixed case", "db-six.node.meridian.", mdns.TypeAAAA, mdns.RcodeSuccess, []string{"AAAA fd00::1"}, nil, nil},
		{"critical node still answers (as Consul)", "dead.node.meridian.", mdns.TypeA, mdns.RcodeSuccess, []string{"A 10.1.0.3"}, nil, nil},
		{"host name address: CNAME", "ext.node.meridian.", mdns.TypeA, mdns.RcodeSuccess, []string{"CNAME db.example.com."}, nil, nil},
		{"unknown node: NXDOMAIN", "nope.node.meridian.", mdns.TypeA, mdns.RcodeNameError, nil, nil, soa},
		{"unknown datacenter: NXDOMAIN", "db-1.node.dc2.meridian.", mdns.TypeA, mdns.RcodeNameError, nil, nil, soa},
		{"addr IPv4", "0a010001.addr.meridian.", mdns.TypeA, mdns.RcodeSuccess, []string{"A 10.1.0.1"}, nil, nil},
		{"addr IPv6", "fd000000000000000000000000000001.addr.dc1.meridian.", mdns.TypeAAAA, mdns.RcodeSuccess, []string{"AAAA fd00::1"}, nil, nil},
		{"addr, wrong type: no answer", "0a010001.addr.meridian.", mdns.TypeAAAA, mdns.RcodeSuccess, nil, nil, soa},
		{"addr, not hex: NXDOMAIN", "zz010001.addr.meridian.", mdns.TypeA, mdns.RcodeNameError, nil, nil, soa},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				r := query(t, network, e.addr, tc.qname, tc.qtype, 0)
				if r.Rcode != tc.rcode {
					t.Fatalf("rcode %s, want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tc.rcode])
				}
				checkSections(t, r, tc.answer, tc.extra, tc.auth)
			})
		}
	}
}

func TestNodeMetaTXTDisabled(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DisableNodeMetaTXT = true })
	e.register(t, "db-1", "10.1.0.1", map[string]string{"rack": "r1"}, nil)
	r := query(t, "udp", e.addr, "db-1.node.meridian.", mdns.TypeA, 0)
	if len(r.Answer) != 1 || len(r.Extra) != 0 {
		t.Fatalf("answer %v extra %v, want one A and no TXT", r.Answer, r.Extra)
	}
	if r := query(t, "udp", e.addr, "db-1.node.meridian.", mdns.TypeTXT, 0); len(r.Answer) != 1 {
		t.Fatalf("TXT question: %v, want the meta anyway", r.Answer)
	}
}
