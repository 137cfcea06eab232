package dns

import (
	"net"
	"testing"
)

func TestParseName(t *testing.T) {
	s, err := New(Config{Servers: unreachable{}, Domain: "Consul", DC: "DC1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		qname    string
		inDomain bool
		want     name
	}{
		{"web.service.consul.", true, name{form: formService, service: "web"}},
		{"WEB.Service.CONSUL.", true, name{form: formService, service: "web"}},
		{"web.service.dc1.consul.", true, name{form: formService, service: "web"}},
		{"web.service.dc2.consul.", true, name{form: formService, service: "web", dc: "dc2"}},
		{"v1.web.service.consul.", true, name{form: formService, service: "web", tag: "v1"}},
		{"_web._tcp.service.consul.", true, name{form: formService, service: "web"}},
		{"_web._udp.service.dc2.consul.", true, name{form: formService, service: "web", tag: "udp", dc: "dc2"}},
		{"_web.v1.service.consul.", true, name{form: formService, service: "v1", tag: "_web"}},
		{"a.b.web.service.consul.", true, name{}},
		{"_._.service.consul.", true, name{}},
		{"service.consul.", true, name{}},
		{"node-1.node.consul.", true, name{form: formNode, node: "node-1"}},
		{"a.b.node.dc2.consul.", true, name{form: formNode, node: "a.b", dc: "dc2"}},
		{"7f000001.addr.dc1.consul.", true, name{form: formAddr, ip: net.IPv4(127, 0, 0, 1).To4()}},
		{"7f00000.addr.consul.", true, name{}},
		{"00000000000000000000ffff7f000001.addr.consul.", true, name{form: formAddr, ip: net.IPv4(127, 0, 0, 1).To4()}},
		{"web.consul.", true, name{}},
		{"x.y.z.consul.", true, name{}},
		{"consul.", true, name{form: formApex}},
		{"CONSUL.", true, name{form: formApex}},
		{"web.service.meridian.", false, name{}},
		{"xconsul.", false, name{}},
		{`web\.consul.`, false, name{}},
		{`web\\.consul.`, true, name{}},
		{".", false, name{}},
	} {
		got, in := s.parseName(tc.qname)
		if in != tc.inDomain || got.form != tc.want.form || got.dc != tc.want.dc || got.service != tc.want.service ||
			got.tag != tc.want.tag || got.node != tc.want.node || !got.ip.Equal(tc.want.ip) {
			t.Errorf("parseName(%q) = %+v, %v; want %+v, %v", tc.qname, got, in, tc.want, tc.inDomain)
		}
	}
}
