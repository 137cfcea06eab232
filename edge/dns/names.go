package dns

import (
	"encoding/hex"
	"net"
	"strings"

	mdns "github.com/miekg/dns"
)

// form is the kind of name a question asks about.
type form uint8

const (
	formNone    form = iota // inside the domain, but no name we serve: NXDOMAIN
	formApex                // the domain itself
	formService             // [tag.]svc.service[.dc], _svc._tag.service[.dc]
	formNode                // node.node[.dc]
	formAddr                // hexip.addr[.dc], the SRV targets of service addresses
)

// name is a parsed question name. Every string is lower case.
type name struct {
	form form
	// dc is the datacenter label, "" for the local one (named or not).
	dc string
	// service and tag (formService), node (formNode).
	service, tag, node string
	ip                 net.IP // formAddr
}

// parseName reads a question name. inDomain is false for names outside
// the configured domain (forwarded to recursors, or refused). Matching
// is case-insensitive: the name is lowered first.
func (s *Server) parseName(qname string) (n name, inDomain bool) {
	lname := strings.ToLower(qname)
	if lname == s.domain {
		return name{form: formApex}, true
	}
	cut := len(lname) - len(s.domain) - 1 // the dot before the domain
	if cut < 1 || !strings.HasSuffix(lname, s.domain) || lname[cut] != '.' || isEscaped(lname, cut) {
		return name{}, false
	}
	labels := mdns.SplitDomainName(lname[:cut+1])
	k := len(labels)
	if k < 2 {
		return name{}, true
	}
	switch {
	case isForm(labels[k-1]):
		labels, n.form = labels[:k-1], formOf(labels[k-1])
	case k >= 3 && isForm(labels[k-2]):
		n.dc, labels, n.form = labels[k-1], labels[:k-2], formOf(labels[k-2])
		if n.dc == s.dc {
			n.dc = ""
		}
	default:
		return name{}, true
	}
	switch n.form {
	case formService:
		switch {
		case len(labels) == 1:
			n.service = labels[0]
		case len(labels) == 2 && strings.HasPrefix(labels[0], "_") && strings.HasPrefix(labels[1], "_"):
			// RFC 2782: _svc._proto; _tcp means any tag, as Consul has it.
			n.service, n.tag = labels[0][1:], labels[1][1:]
			if n.tag == "tcp" {
				n.tag = ""
			}
		case len(labels) == 2:
			n.tag, n.service = labels[0], labels[1]
		default:
			n.form = formNone
		}
		if n.service == "" {
			n.form = formNone
		}
	case formNode:
		n.node = strings.Join(labels, ".")
	case formAddr:
		if len(labels) != 1 {
			n.form = formNone
			break
		}
		n.ip = decodeAddr(labels[0])
		if n.ip == nil {
			n.form = formNone
		}
	}
	return n, true
}

// isEscaped reports whether the byte at i of a presentation-format name
// is escaped by an odd run of backslashes before it.
func isEscaped(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

func isForm(label string) bool { return formOf(label) != formNone }

func formOf(label string) form {
	switch label {
	case "service":
		return formService
	case "node":
		return formNode
	case "addr":
		return formAddr
	}
	return formNone
}

// decodeAddr reads the hex label of an addr name: 8 digits for IPv4, 32
// for IPv6; nil if it is neither.
func decodeAddr(label string) net.IP {
	if len(label) != 8 && len(label) != 32 {
		return nil
	}
	b, err := hex.DecodeString(label)
	if err != nil {
		return nil
	}
	ip := net.IP(b)
	if len(b) == net.IPv6len && ip.To4() != nil {
		// A v4-mapped address written as 32 digits names the IPv4 address.
		return ip.To4()
	}
	return ip
}

// encodeAddr is decodeAddr's inverse.
func encodeAddr(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return hex.EncodeToString(v4)
	}
	return hex.EncodeToString(ip.To16())
}
