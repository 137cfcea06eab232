package dns

import (
	"net"

	mdns "github.com/miekg/dns"
)

// answerNode answers node.node[.dc]: the node's address (A or AAAA, a
// CNAME for a host name), its meta as TXT records (in the additional
// section of address answers unless DisableNodeMetaTXT; in the answer for
// TXT and ANY). As Consul, a node is answered whatever its health.
func (s *Server) answerNode(resp *mdns.Msg, q mdns.Question, n name) int {
	list, err := s.cache.lookup(key{kind: kindNodes, dc: n.dc})
	if err != nil {
		return s.lookupFailed(err)
	}
	rec := list.nodes[n.node]
	if rec == nil {
		return mdns.RcodeNameError
	}
	ttl := s.nodeTTL
	switch q.Qtype {
	case mdns.TypeA, mdns.TypeAAAA, mdns.TypeANY, mdns.TypeCNAME:
		if rr := addressOf(q, rec.ip, rec.host, ttl); rr != nil {
			resp.Answer = append(resp.Answer, rr)
		}
		switch {
		case q.Qtype == mdns.TypeANY:
			resp.Answer = append(resp.Answer, txtRRs(q.Name, rec.txt, ttl)...)
		case len(resp.Answer) > 0 && !s.cfg.DisableNodeMetaTXT:
			resp.Extra = append(resp.Extra, txtRRs(q.Name, rec.txt, ttl)...)
		}
	case mdns.TypeTXT:
		resp.Answer = append(resp.Answer, txtRRs(q.Name, rec.txt, ttl)...)
	}
	return mdns.RcodeSuccess
}

// answerAddr answers hexip.addr[.dc], the SRV targets of instances with
// their own address: the address itself, with the node TTL.
func (s *Server) answerAddr(resp *mdns.Msg, q mdns.Question, n name) int {
	if rr := addressOf(q, n.ip, "", s.nodeTTL); rr != nil && rr.Header().Rrtype != mdns.TypeCNAME {
		resp.Answer = append(resp.Answer, rr)
	}
	return mdns.RcodeSuccess
}

// addressOf is the record for an address (ip, or host when ip is nil)
// that question q asks for, or nil.
func addressOf(q mdns.Question, ip net.IP, host string, ttl uint32) mdns.RR {
	switch {
	case ip == nil && host != "":
		return cnameRR(q.Name, host, ttl)
	case ip == nil || q.Qtype == mdns.TypeCNAME:
		return nil
	case len(ip) == net.IPv4len && (q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeANY),
		len(ip) == net.IPv6len && (q.Qtype == mdns.TypeAAAA || q.Qtype == mdns.TypeANY):
		return addrRR(q.Name, ip, ttl)
	}
	return nil
}
