package main

import (
	"strings"
	"testing"
)

// FuzzParsePeers: -peers is the one configuration format cmd/meridian
// parses by hand (service definition files of -config-dir are
// edge/agent's FuzzParseDefinition; there is no other config file).
// Invariants: no panic; an accepted list is non-empty, each peer has a
// name and an address, and writing the list back out parses to the same
// peers.
func FuzzParsePeers(f *testing.F) {
	for _, s := range []string{
		"s1=127.0.0.1:7300",
		"s1=127.0.0.1:7300,s2=127.0.0.1:7310, s3=[::1]:7320",
		"s1=a=b", "=x", "s1=", "s1", ",,,", "", " s1 = h:1 ,", "s1=h:1,,s2=h:2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		peers, err := parsePeers(s)
		if err != nil {
			if peers != nil {
				t.Fatalf("%q: peers %v with error %v", s, peers, err)
			}
			return
		}
		if len(peers) == 0 {
			t.Fatalf("%q: accepted with no peer", s)
		}
		var parts []string
		for _, p := range peers {
			if p.Node == "" || p.RaftAddr == "" || strings.Contains(p.Node, ",") || strings.Contains(p.RaftAddr, ",") {
				t.Fatalf("%q: peer %+v", s, p)
			}
			parts = append(parts, p.Node+"="+p.RaftAddr)
		}
		again, err := parsePeers(strings.Join(parts, ","))
		if err != nil {
			t.Fatalf("%q: written back as %q: %v", s, strings.Join(parts, ","), err)
		}
		if len(again) != len(peers) {
			t.Fatalf("%q: %v, then %v", s, peers, again)
		}
		for i := range peers {
			if again[i] != peers[i] {
				t.Fatalf("%q: %v, then %v", s, peers, again)
			}
		}
	})
}
