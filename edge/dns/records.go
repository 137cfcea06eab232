package dns

import (
	"net"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"
)

// SOA fields other than the minimum, as Consul's defaults (soa.refresh,
// soa.retry, soa.expire).
const (
	soaRefresh = 3600
	soaRetry   = 600
	soaExpire  = 86400
)

// soa is the zone's SOA record: in the authority section of negative
// answers, with the negative TTL as its TTL and minimum (RFC 2308).
func (s *Server) soa() *mdns.SOA {
	return &mdns.SOA{
		Hdr:     mdns.RR_Header{Name: s.domain, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: s.negTTL},
		Ns:      "ns." + s.domain,
		Mbox:    "hostmaster." + s.domain,
		Serial:  uint32(s.cfg.Clock().Unix()),
		Refresh: soaRefresh, Retry: soaRetry, Expire: soaExpire,
		Minttl: s.negTTL,
	}
}

// addrRR is an A record for an IPv4 address, AAAA for IPv6.
func addrRR(name string, ip net.IP, ttl uint32) mdns.RR {
	if len(ip) == net.IPv4len {
		return &mdns.A{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: ttl}, A: ip}
	}
	return &mdns.AAAA{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeAAAA, Class: mdns.ClassINET, Ttl: ttl}, AAAA: ip}
}

func cnameRR(name, target string, ttl uint32) mdns.RR {
	return &mdns.CNAME{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeCNAME, Class: mdns.ClassINET, Ttl: ttl}, Target: target}
}

// txtRRs makes one TXT record per meta string.
func txtRRs(name string, txt []string, ttl uint32) []mdns.RR {
	out := make([]mdns.RR, 0, len(txt))
	for _, t := range txt {
		out = append(out, &mdns.TXT{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeTXT, Class: mdns.ClassINET, Ttl: ttl}, Txt: txtStrings(t)})
	}
	return out
}

// metaTXT writes node meta as TXT strings, sorted by key: "key=value"
// with the key escaped as RFC 1464 says, or the bare value for keys
// starting with "rfc1035-" (Consul's rules).
func metaTXT(meta map[string]string) []string {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if strings.HasPrefix(strings.ToLower(k), "rfc1035-") {
			out = append(out, meta[k])
			continue
		}
		out = append(out, rfc1464Key(k)+"="+meta[k])
	}
	return out
}

// rfc1464Key escapes '`', '=' and leading and trailing spaces with a
// backquote.
func rfc1464Key(k string) string {
	var b strings.Builder
	lead := len(k) - len(strings.TrimLeft(k, " "))
	trail := len(k) - len(strings.TrimRight(k, " "))
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c == '`' || c == '=' || (c == ' ' && (i < lead || i >= len(k)-trail)) {
			b.WriteByte('`')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// txtStrings cuts s into character-strings of at most 255 bytes, escaped
// for miekg/dns (which reads '\' as an escape when packing).
func txtStrings(s string) []string {
	var out []string
	for {
		n := min(len(s), 255)
		out = append(out, strings.ReplaceAll(s[:n], `\`, `\\`))
		s = s[n:]
		if s == "" {
			return out
		}
	}
}
