package check

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

// dnsAnswerCap is the buffer of a dns_lookup answer: room for about 90
// IPv6 addresses.
const dnsAnswerCap = 4 << 10

// LookupIP resolves name's A and AAAA addresses with the agent's resolver.
// The name must be granted (a DNS grant: the name, or "*.suffix"). Errors
// wrap ErrDenied, ErrTimeout, ErrNetwork (no such name, resolver failure),
// ErrInvalid (a bad name) or ErrLimit.
func (c *Context) LookupIP(name string) ([]netip.Addr, error) {
	out := make([]byte, dnsAnswerCap)
	n := c.h.dnsLookup([]byte(name), out)
	if n < 0 {
		return nil, codeError("dns_lookup", name, n)
	}
	var strs []string
	if int(n) > len(out) || json.Unmarshal(out[:n], &strs) != nil {
		return nil, fmt.Errorf("dns_lookup %s: %w", name, ErrBadAnswer)
	}
	addrs := make([]netip.Addr, 0, len(strs))
	for _, s := range strs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("dns_lookup %s: %w: address %q", name, ErrBadAnswer, s)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}
