package dns

import (
	"errors"
	"net"
	"sync"

	mdns "github.com/miekg/dns"
)

const (
	// advertisedUDPSize is the UDP payload size our OPT record offers.
	advertisedUDPSize = 4096
	// maxUDPSize caps a client's EDNS0 size to what one UDP datagram holds
	// under any IP header.
	maxUDPSize = mdns.MaxMsgSize - 68
)

var _ mdns.Handler = (*Server)(nil)

// packBuffers hold answers being packed: most fit 4 KiB.
var packBuffers = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// ServeDNS answers one query. It implements miekg/dns's Handler, so the
// Server can also be mounted on another miekg/dns server.
func (s *Server) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	buf := packBuffers.Get().(*[]byte)
	if wire := s.respond(req, tcp, *buf); wire != nil {
		_, _ = w.Write(wire)
	}
	packBuffers.Put(buf)
}

// respond answers req, received over TCP or UDP, in wire form (packed in
// buf when it fits); nil means no answer is sent (req is itself a
// response).
func (s *Server) respond(req *mdns.Msg, tcp bool, buf []byte) []byte {
	resp, size := s.handle(req, tcp)
	if resp == nil {
		return nil
	}
	wire, err := s.pack(resp, size, buf)
	if err != nil {
		s.log.Error("dns: cannot pack an answer", "question", req.Question, "err", err)
		resp = new(mdns.Msg)
		resp.SetRcode(req, mdns.RcodeServerFailure)
		wire, _ = resp.Pack()
	}
	return wire
}

// pack writes resp so that it fits size: uncompressed when it fits so
// (the cheapest), else compressed; else without the additional records
// that do not fit when the answer does (no TC bit then: RFC 2181 section
// 9); else cut with the TC bit, which sends the client to TCP.
func (s *Server) pack(resp *mdns.Msg, size int, buf []byte) ([]byte, error) {
	resp.Compress = false
	if resp.Len() <= size {
		return resp.PackBuffer(buf)
	}
	resp.Compress = true
	full := resp.Len()
	if full <= size {
		return resp.PackBuffer(buf)
	}
	all := resp.Extra
	if trimExtra(resp, full, size) {
		if wire, err := resp.PackBuffer(buf); err != nil || len(wire) <= size {
			return wire, err
		}
		resp.Extra = all // the estimate was wrong
	}
	if fitExtra(resp, size) {
		return resp.PackBuffer(buf)
	}
	resp.Truncate(size)
	resp.Compress = true
	s.stats.truncated.Add(1)
	return resp.PackBuffer(buf)
}

// trimExtra drops additional records from the end until resp, full bytes
// long compressed, fits size, counting what each weighs: an SRV target's
// address weighs a name pointer, a header and the address. It reports
// false, leaving resp as is, if it cannot tell (another kind of record) or
// if dropping them all is not enough.
func trimExtra(resp *mdns.Msg, full, size int) bool {
	extra := resp.Extra
	n := len(extra)
	if n > 0 && extra[n-1].Header().Rrtype == mdns.TypeOPT {
		n--
	}
	k := n
	for ; k > 0 && full > size; k-- {
		switch extra[k-1].Header().Rrtype {
		case mdns.TypeA:
			full -= 2 + 10 + 4
		case mdns.TypeAAAA:
			full -= 2 + 10 + 16
		default:
			return false
		}
	}
	if full > size {
		return false
	}
	resp.Extra = append(extra[:k:k], extra[n:]...)
	return true
}

// fitExtra keeps as many additional records as fit in size, if the rest
// of resp fits; it reports whether it did (else resp is unchanged).
func fitExtra(resp *mdns.Msg, size int) bool {
	all := resp.Extra
	extra, opt := all, []mdns.RR(nil)
	if n := len(all); n > 0 && all[n-1].Header().Rrtype == mdns.TypeOPT {
		extra, opt = all[:n-1], all[n-1:]
	}
	fits := func(k int) bool {
		resp.Extra = append(extra[:k:k], opt...)
		return resp.Len() <= size
	}
	if len(extra) == 0 || !fits(0) {
		resp.Extra = all
		return false
	}
	lo, hi := 0, len(extra) // fits(lo), and not fits(hi)
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	fits(lo)
	return true
}

// handle answers req, received over TCP or UDP, and says how large the
// answer may be: 512 bytes over UDP, or the EDNS0 size the client
// advertised; 64 KiB over TCP. A nil answer means none is sent (req is
// itself a response).
func (s *Server) handle(req *mdns.Msg, tcp bool) (*mdns.Msg, int) {
	s.stats.queries.Add(1)
	if req.Response {
		return nil, 0
	}
	resp := new(mdns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = len(s.recursors) > 0
	opt := req.IsEdns0()
	switch {
	case req.Opcode != mdns.OpcodeQuery:
		resp.Rcode = mdns.RcodeNotImplemented
	case len(req.Question) != 1:
		resp.Rcode = mdns.RcodeFormatError
	case opt != nil && opt.Version() != 0:
		resp.Rcode = mdns.RcodeBadVers // RFC 6891 section 6.1.3
	case req.Question[0].Qclass != mdns.ClassINET && req.Question[0].Qclass != mdns.ClassANY:
		// No data lives in other classes (CHAOS, HESIOD, ...).
		resp.Rcode = mdns.RcodeNotImplemented
	default:
		q := req.Question[0]
		n, inDomain := s.parseName(q.Name)
		if !inDomain {
			if len(s.recursors) > 0 {
				return s.forward(req, tcp)
			}
			// As Consul (and miekg/dns's ServeMux) for a zone not served.
			resp.Rcode = mdns.RcodeRefused
			break
		}
		resp.Authoritative = true
		resp.Rcode = s.answer(resp, q, n)
		if resp.Rcode == mdns.RcodeNameError || (resp.Rcode == mdns.RcodeSuccess && len(resp.Answer) == 0) {
			resp.Ns = append(resp.Ns, s.soa())
		}
	}
	return s.finish(req, resp, tcp)
}

// finish adds the OPT record the query calls for, counts the rcode and
// returns the size the answer may take.
func (s *Server) finish(req, resp *mdns.Msg, tcp bool) (*mdns.Msg, int) {
	if req.IsEdns0() != nil {
		resp.SetEdns0(advertisedUDPSize, false)
	}
	s.countRcode(resp.Rcode)
	return resp, answerSize(req, tcp)
}

// answerSize is how large an answer to req may be.
func answerSize(req *mdns.Msg, tcp bool) int {
	switch opt := req.IsEdns0(); {
	case tcp:
		return mdns.MaxMsgSize
	case opt != nil:
		return min(max(int(opt.UDPSize()), mdns.MinMsgSize), maxUDPSize)
	}
	return mdns.MinMsgSize
}

func (s *Server) countRcode(rcode int) {
	switch rcode {
	case mdns.RcodeNameError:
		s.stats.nxdomain.Add(1)
	case mdns.RcodeServerFailure:
		s.stats.servfail.Add(1)
	case mdns.RcodeRefused:
		s.stats.refused.Add(1)
	case mdns.RcodeFormatError:
		s.stats.formerr.Add(1)
	case mdns.RcodeNotImplemented:
		s.stats.notimp.Add(1)
	}
}

// answer fills resp for a name inside the domain and returns the rcode.
func (s *Server) answer(resp *mdns.Msg, q mdns.Question, n name) int {
	switch q.Qtype {
	case mdns.TypeAXFR, mdns.TypeIXFR:
		return mdns.RcodeNotImplemented // no zone transfers
	}
	switch n.form {
	case formApex:
		if q.Qtype == mdns.TypeSOA || q.Qtype == mdns.TypeANY {
			resp.Answer = append(resp.Answer, s.soa())
		}
		return mdns.RcodeSuccess
	case formService:
		return s.answerService(resp, q, n)
	case formNode:
		return s.answerNode(resp, q, n)
	case formAddr:
		return s.answerAddr(resp, q, n)
	}
	return mdns.RcodeNameError
}

// lookupFailed turns a cache error into an rcode: NXDOMAIN for a
// datacenter the servers do not know (as Consul: "no path to
// datacenter"), SERVFAIL when the servers cannot be reached and nothing
// is cached.
func (s *Server) lookupFailed(err error) int {
	if errors.Is(err, errUnknownDC) {
		return mdns.RcodeNameError
	}
	s.log.Debug("dns: lookup failed", "err", err)
	return mdns.RcodeServerFailure
}
