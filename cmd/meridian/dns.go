package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"meridian/edge/dns"
	"meridian/rpc"
)

// dnsFlags configure the DNS interface every role serves.
type dnsFlags struct {
	addr, domain string
	recursors    []string
	onlyPassing  bool
	ttl, nodeTTL time.Duration
	aLimit       int
	staleBound   time.Duration
}

func (f *dnsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "dns-addr", dns.DefaultAddr, `DNS listen address, UDP and TCP ("" turns DNS off)`)
	fs.StringVar(&f.domain, "domain", dns.DefaultDomain, "DNS domain answered (e.g. consul. to stand in for Consul)")
	fs.Func("dns-recursor", "DNS server for names outside the domain (repeatable; none: REFUSED)", func(v string) error {
		f.recursors = append(f.recursors, v)
		return nil
	})
	fs.BoolVar(&f.onlyPassing, "dns-only-passing", false, "leave instances with a warning check out of DNS answers")
	fs.DurationVar(&f.ttl, "dns-ttl", 0, "TTL of service answers")
	fs.DurationVar(&f.nodeTTL, "dns-node-ttl", 0, "TTL of node answers")
	fs.IntVar(&f.aLimit, "dns-a-record-limit", 0, "most A/AAAA records in one answer (0: as many as fit)")
	fs.DurationVar(&f.staleBound, "dns-stale-bound", dns.DefaultStaleBound, "refetch a cached answer older than this before answering (servers unreachable: answer from the cache)")
}

// startDNS serves DNS from the health catalog reached over servers; nil
// when -dns-addr is empty.
func startDNS(f dnsFlags, dc string, servers rpc.Transport, log *slog.Logger) (*dns.Server, error) {
	if f.addr == "" {
		return nil, nil
	}
	cfg := dns.DefaultConfig()
	cfg.Addr, cfg.Domain, cfg.DC, cfg.Servers = f.addr, f.domain, dc, servers
	cfg.Recursors, cfg.OnlyPassing = f.recursors, f.onlyPassing
	cfg.DefaultTTL, cfg.NodeTTL, cfg.ARecordLimit, cfg.StaleBound = f.ttl, f.nodeTTL, f.aLimit, f.staleBound
	cfg.Logger = log.With("component", "dns")
	s, err := dns.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, fmt.Errorf("dns: %w (another agent on this port? set -dns-addr, or -dns-addr \"\" to turn DNS off)", err)
	}
	return s, nil
}

// stopDNS shuts s down (nil: nothing to do).
func stopDNS(ctx context.Context, s *dns.Server) {
	if s != nil {
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
	}
}

// registerMetrics adds agent.metrics: this agent's counters (the DNS
// interface's for now), read from the server dns points at once started.
func registerMetrics(api *rpc.Server, srv *atomic.Pointer[dns.Server]) {
	type metrics struct {
		DNS *dns.Stats `json:"dns"` // null when DNS is off
	}
	rpc.Register(api, "agent.metrics", "This agent's counters: the DNS interface's (queries, cache hits and misses, stale answers served while the servers are unreachable, ...).",
		func(context.Context, *struct{}) (*metrics, error) {
			out := &metrics{}
			if s := srv.Load(); s != nil {
				st := s.Stats()
				out.DNS = &st
			}
			return out, nil
		})
}
