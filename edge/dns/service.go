package dns

import (
	"math/rand/v2"
	"net"

	mdns "github.com/miekg/dns"
)

// answerService answers [tag.]svc.service[.dc] and _svc._tag.service[.dc]:
// A, AAAA (and ANY: both) with the instances' addresses, SRV with their
// ports and targets. NXDOMAIN when no instance is registered under the
// name (and tag), whatever its health; NOERROR without answers when
// instances exist but none may be answered.
func (s *Server) answerService(resp *mdns.Msg, q mdns.Question, n name) int {
	list, err := s.cache.lookup(key{kind: kindServices, dc: n.dc})
	if err != nil {
		return s.lookupFailed(err)
	}
	var one [1]*healthSet
	sets := one[:0]
	total := 0
	// Usually one name; more when names differ only in case.
	for _, si := range list.services[n.service] {
		if n.tag != "" && !si.hasTag(n.tag) {
			continue
		}
		d, err := s.cache.lookup(key{kind: kindHealth, dc: n.dc, name: si.name, tag: n.tag})
		if err != nil {
			return s.lookupFailed(err)
		}
		total += d.health.total
		sets = append(sets, d.health)
	}
	if total == 0 {
		return mdns.RcodeNameError
	}
	switch q.Qtype {
	case mdns.TypeA, mdns.TypeAAAA, mdns.TypeANY, mdns.TypeCNAME:
		s.addressAnswers(resp, q, sets)
	case mdns.TypeSRV:
		srvAnswers(resp, q, sets)
	}
	return mdns.RcodeSuccess
}

// addressAnswers adds the A and AAAA records the question asks for, in a
// random order, at most ARecordLimit. Without any, a host name instance
// answers as a CNAME (one: a name has one CNAME at most), as Consul.
func (s *Server) addressAnswers(resp *mdns.Msg, q mdns.Question, sets []*healthSet) {
	want4 := q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeANY
	want6 := q.Qtype == mdns.TypeAAAA || q.Qtype == mdns.TypeANY
	n4, n6, nh := 0, 0, 0
	for _, h := range sets {
		n4, n6, nh = n4+len(h.a4), n6+len(h.a6), nh+len(h.hosts)
	}
	if !want4 {
		n4 = 0
	}
	if !want6 {
		n6 = 0
	}
	if n4+n6 > 0 {
		ans := make([]mdns.RR, 0, n4+n6)
		a := make([]mdns.A, 0, n4) // one allocation for every record
		aaaa := make([]mdns.AAAA, 0, n6)
		for _, h := range sets {
			if want4 {
				for _, ip := range h.a4 {
					a = append(a, mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: h.ttl}, A: ip})
					ans = append(ans, &a[len(a)-1])
				}
			}
			if want6 {
				for _, ip := range h.a6 {
					aaaa = append(aaaa, mdns.AAAA{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeAAAA, Class: mdns.ClassINET, Ttl: h.ttl}, AAAA: ip})
					ans = append(ans, &aaaa[len(aaaa)-1])
				}
			}
		}
		rand.Shuffle(len(ans), func(i, j int) { ans[i], ans[j] = ans[j], ans[i] })
		if s.cfg.ARecordLimit > 0 && len(ans) > s.cfg.ARecordLimit {
			ans = ans[:s.cfg.ARecordLimit]
		}
		resp.Answer = ans
		return
	}
	if nh == 0 {
		return
	}
	pick := rand.IntN(nh)
	for _, h := range sets {
		if pick < len(h.hosts) {
			resp.Answer = append(resp.Answer, cnameRR(q.Name, h.hosts[pick], h.ttl))
			return
		}
		pick -= len(h.hosts)
	}
}

// srvAnswers adds an SRV record per instance (port and target), in a
// random order, and the targets' addresses in the additional section.
func srvAnswers(resp *mdns.Msg, q mdns.Question, sets []*healthSet) {
	n, n4, n6 := 0, 0, 0
	for _, h := range sets {
		n += len(h.srv)
		for _, t := range h.srv {
			switch {
			case !t.extra:
			case len(t.ip) == net.IPv4len:
				n4++
			default:
				n6++
			}
		}
	}
	if n == 0 {
		return
	}
	type item struct {
		t   *srvTarget
		ttl uint32
	}
	items := make([]item, 0, n)
	for _, h := range sets {
		for i := range h.srv {
			items = append(items, item{&h.srv[i], h.ttl})
		}
	}
	rand.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	// One allocation per kind of record.
	srv := make([]mdns.SRV, n)
	a := make([]mdns.A, 0, n4)
	aaaa := make([]mdns.AAAA, 0, n6)
	resp.Answer = make([]mdns.RR, 0, n)
	resp.Extra = make([]mdns.RR, 0, n4+n6+1) // and room for the OPT record
	for i, it := range items {
		r := &srv[i]
		r.Hdr = mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeSRV, Class: mdns.ClassINET, Ttl: it.ttl}
		r.Priority, r.Weight, r.Port, r.Target = 1, 1, it.t.port, it.t.target
		resp.Answer = append(resp.Answer, r)
		switch {
		case !it.t.extra:
		case len(it.t.ip) == net.IPv4len:
			a = append(a, mdns.A{Hdr: mdns.RR_Header{Name: it.t.target, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: it.ttl}, A: it.t.ip})
			resp.Extra = append(resp.Extra, &a[len(a)-1])
		default:
			aaaa = append(aaaa, mdns.AAAA{Hdr: mdns.RR_Header{Name: it.t.target, Rrtype: mdns.TypeAAAA, Class: mdns.ClassINET, Ttl: it.ttl}, AAAA: it.t.ip})
			resp.Extra = append(resp.Extra, &aaaa[len(aaaa)-1])
		}
	}
}
