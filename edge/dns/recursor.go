package dns

import (
	"context"

	mdns "github.com/miekg/dns"
)

// forward sends a question outside the domain to the recursors in order,
// over the transport it came on, each for RecursorTimeout, and relays the
// first answer that is not SERVFAIL (as Consul's recursors setting).
// SERVFAIL when none answers.
func (s *Server) forward(req *mdns.Msg, tcp bool) (*mdns.Msg, int) {
	s.stats.forwarded.Add(1)
	network := "udp"
	if tcp {
		network = "tcp"
	}
	client := &mdns.Client{Net: network, Timeout: s.cfg.RecursorTimeout}
	for _, addr := range s.recursors {
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RecursorTimeout)
		r, _, err := client.ExchangeContext(ctx, req, addr)
		cancel()
		if err != nil {
			s.log.Debug("dns: recursor failed", "recursor", addr, "name", req.Question[0].Name, "err", err)
			continue
		}
		if r.Rcode == mdns.RcodeServerFailure {
			continue
		}
		r.Id = req.Id
		r.RecursionAvailable = true
		s.countRcode(r.Rcode)
		// The recursor saw the client's EDNS0 size; pack cuts anyway should
		// it have sent more.
		return r, answerSize(req, tcp)
	}
	s.stats.recursorErrors.Add(1)
	resp := new(mdns.Msg)
	resp.SetRcode(req, mdns.RcodeServerFailure)
	resp.RecursionAvailable = true
	return s.finish(req, resp, tcp)
}
