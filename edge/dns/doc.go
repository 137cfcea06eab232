// Package dns is an agent's DNS interface: any program, dig and the
// system resolver included, finds healthy service instances by name,
// without knowing Meridian exists.
//
//	cfg := dns.DefaultConfig()
//	cfg.Servers = transport // the edge's forwarding transport, or a server's *rpc.Server
//	cfg.DC = "dc1"
//	srv, err := dns.New(cfg)
//	...
//	err = srv.Start() // UDP and TCP on 127.0.0.1:7600
//	defer srv.Shutdown(ctx)
//
// Names (the domain is "meridian." unless Config.Domain says otherwise;
// matching is case-insensitive; the datacenter label is optional):
//
//	web.service.meridian.            A/AAAA of web's instances; SRV: port and target
//	v1.web.service.dc1.meridian.     only instances tagged v1
//	_web._v1.service.meridian.       RFC 2782 form; _tcp means any tag
//	node-1.node.meridian.            a node's address; its meta as TXT
//	7f000001.addr.dc1.meridian.      an address, as SRV targets name them
//
// Instances with a critical check (their node's included) are never
// answered; warning ones are unless Config.OnlyPassing. Answers are
// shuffled per query. An unknown name is NXDOMAIN, a service with no
// answerable instance NOERROR without answers, both with the zone's SOA
// in the authority section. UDP answers that do not fit the client's size
// (512 bytes, or its EDNS0 size) are cut and carry the TC bit; TCP
// answers carry up to 64 KiB. Names outside the domain go to
// Config.Recursors, or are REFUSED.
//
// Answers come from a cache of the catalog (cache.go): the first query
// of a name fetches it, then a blocking query per entry keeps it fresh,
// so a warm query costs no round trip to a server. When the servers
// cannot be reached, queries are answered from the cache and Stats says
// so (StaleAnswers, StaleEntries).
package dns
