package dns

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"meridian/rpc"
)

// serviceInfo is one service name of the catalog with its tags.
type serviceInfo struct {
	name string   // as registered
	tags []string // lower case
}

func (si serviceInfo) hasTag(tag string) bool {
	for _, t := range si.tags {
		if t == tag {
			return true
		}
	}
	return false
}

// nodeRecord is what a node answer needs, built once per fetch.
type nodeRecord struct {
	ip   net.IP   // nil when the address is a host name
	host string   // the address as a name, when it is not an IP
	txt  []string // meta as RFC 1464 key=value strings, sorted by key
}

// healthSet is what a service answer needs, built once per fetch from the
// instances that may be answered (no critical check; no warning either
// with OnlyPassing).
type healthSet struct {
	total  int    // instances registered, whatever their health
	ttl    uint32 // seconds
	a4, a6 []net.IP
	hosts  []string // names (FQDN) of instances whose address is not an IP
	srv    []srvTarget
}

// srvTarget is one SRV record's target and port, with the address for
// the additional section (nil for a host name target).
type srvTarget struct {
	target string
	port   uint16
	ip     net.IP
	// extra: this record carries the target's address to the additional
	// section (the first with its target; host names have none).
	extra bool
}

// fetch reads k from the servers (fetchFunc). It reads the servers'
// local replicas (consistency stale), as Consul's DNS does by default.
func (s *Server) fetch(ctx context.Context, k key, index uint64, wait time.Duration) (*data, error) {
	ctx, cancel := context.WithTimeout(ctx, wait+wait/16+s.cfg.FetchTimeout)
	defer cancel()
	opts := rpc.ReadOptions{DC: k.dc, Consistency: rpc.ConsistencyStale, Index: index, Wait: rpc.Duration(wait)}
	var d *data
	var err error
	switch k.kind {
	case kindServices:
		var r rpc.CatalogServicesResult
		if err = rpc.Invoke(ctx, s.cfg.Servers, rpc.MethodCatalogServices, rpc.CatalogServicesParams{ReadOptions: opts}, &r); err == nil {
			d = &data{index: r.Index, services: buildServices(r.Services)}
		}
	case kindNodes:
		var r rpc.CatalogNodesResult
		if err = rpc.Invoke(ctx, s.cfg.Servers, rpc.MethodCatalogNodes, rpc.CatalogNodesParams{ReadOptions: opts}, &r); err == nil {
			d = &data{index: r.Index, nodes: buildNodes(r.Nodes)}
		}
	case kindHealth:
		all := false
		var r rpc.HealthServiceResult
		p := rpc.HealthServiceParams{Name: k.name, Tag: k.tag, PassingOnly: &all, ReadOptions: opts}
		if err = rpc.Invoke(ctx, s.cfg.Servers, rpc.MethodHealthService, p, &r); err == nil {
			d = &data{index: r.Index, health: s.buildHealth(k, r.Instances)}
		}
	}
	// A datacenter the servers know but cannot reach is a fetch error
	// (the cache keeps what it had); only an unknown one is NXDOMAIN.
	if errors.Is(err, rpc.ErrUnknownDC) && !errors.Is(err, rpc.ErrDCUnreachable) {
		return &data{unknownDC: true}, nil
	}
	return d, err
}

func buildServices(in map[string][]string) map[string][]serviceInfo {
	out := make(map[string][]serviceInfo, len(in))
	for name, tags := range in {
		lower := make([]string, len(tags))
		for i, t := range tags {
			lower[i] = strings.ToLower(t)
		}
		k := strings.ToLower(name)
		out[k] = append(out[k], serviceInfo{name: name, tags: lower})
	}
	return out
}

func buildNodes(in []rpc.Node) map[string]*nodeRecord {
	out := make(map[string]*nodeRecord, len(in))
	for _, n := range in {
		r := &nodeRecord{txt: metaTXT(n.Meta)}
		r.ip, r.host = parseAddress(n.Address)
		out[strings.ToLower(n.Node)] = r
	}
	return out
}

// buildHealth keeps the instances that may be answered and lays out their
// records: unique addresses, host names and SRV targets.
func (s *Server) buildHealth(k key, instances []rpc.ServiceInstance) *healthSet {
	h := &healthSet{total: len(instances), ttl: s.serviceTTL(k.name)}
	dc := k.dc
	if dc == "" {
		dc = s.dc
	}
	seenIP := map[string]bool{}
	seenHost := map[string]bool{}
	seenSRV := map[string]bool{}
	seenTarget := map[string]bool{}
	for _, inst := range instances {
		if !s.answerable(inst.Checks) {
			continue
		}
		addr := inst.Service.Address
		if addr == "" {
			addr = inst.Node.Address
		}
		ip, host := parseAddress(addr)
		if ip == nil && host == "" {
			continue
		}
		var target string
		switch {
		case ip == nil:
			target = host
		case (inst.Service.Address == "" || inst.Service.Address == inst.Node.Address) && isNodeName(inst.Node.Node):
			// As Consul: the node's name when the instance uses the node's address,
			// else the address itself as <hex>.addr.<dc>.<domain>.
			target = inst.Node.Node + ".node." + dc + "." + s.domain
		default:
			target = encodeAddr(ip) + ".addr." + dc + "." + s.domain
		}
		port := uint16(min(max(inst.Service.Port, 0), 65535))
		if sk := target + ":" + strconv.Itoa(int(port)); !seenSRV[sk] {
			seenSRV[sk] = true
			h.srv = append(h.srv, srvTarget{target: target, port: port, ip: ip, extra: ip != nil && !seenTarget[target]})
			seenTarget[target] = true
		}
		switch {
		case ip == nil:
			if !seenHost[host] {
				seenHost[host] = true
				h.hosts = append(h.hosts, host)
			}
		case !seenIP[string(ip)]:
			seenIP[string(ip)] = true
			if len(ip) == net.IPv4len {
				h.a4 = append(h.a4, ip)
			} else {
				h.a6 = append(h.a6, ip)
			}
		}
	}
	return h
}

// answerable reports whether an instance with these checks (its node's
// included) may be answered: never with a critical check, and not with a
// warning one under OnlyPassing.
func (s *Server) answerable(checks []rpc.Check) bool {
	for _, c := range checks {
		switch c.Status {
		case rpc.HealthPassing:
		case rpc.HealthWarning:
			if s.cfg.OnlyPassing {
				return false
			}
		default: // critical, or a status this version does not know
			return false
		}
	}
	return true
}

// parseAddress returns an address as an IP (4 bytes for IPv4), or as a
// host name (FQDN) when it is a valid domain name; both empty otherwise.
func parseAddress(addr string) (net.IP, string) {
	if addr == "" {
		return nil, ""
	}
	if ip := net.ParseIP(addr); ip != nil {
		if v4 := ip.To4(); v4 != nil {
			return v4, ""
		}
		return ip, ""
	}
	if _, ok := mdns.IsDomainName(addr); ok && isHostName(strings.TrimSuffix(addr, ".")) {
		return nil, mdns.Fqdn(addr)
	}
	return nil, ""
}

// isNodeName reports whether a node's name can be written in a name as
// is: dot-separated labels of letters, digits, '-' and '_'.
func isNodeName(node string) bool { return isHostName(node) && len(node) < 200 }

func isHostName(s string) bool {
	if s == "" {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !isLabel(l) {
			return false
		}
	}
	return true
}

// serviceTTL is the TTL of a service's answers in seconds: ServiceTTL's
// entry for it, or its longest matching "prefix*" entry, or DefaultTTL.
func (s *Server) serviceTTL(service string) uint32 {
	lname := strings.ToLower(service)
	if ttl, ok := s.serviceTTLs[lname]; ok {
		return ttl
	}
	best, ttl := -1, seconds(s.cfg.DefaultTTL)
	for _, p := range s.ttlPrefixes {
		if strings.HasPrefix(lname, p.prefix) && len(p.prefix) > best {
			best, ttl = len(p.prefix), p.ttl
		}
	}
	return ttl
}

func seconds(d time.Duration) uint32 { return uint32(d / time.Second) }
