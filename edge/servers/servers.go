// Package servers is an edge's view of the live servers of its
// datacenter, as gossip reports them, and the transport that forwards
// calls to them: a call on one key to its shard's leader when known
// (rpc.ClientConfig.RouteToLeaders), any other call to one server, the
// next on a failed dial, within the call's deadline.
//
//	set := servers.New()
//	set.Update([]string{"10.0.0.1:7500", "10.0.0.2:7500"}) // from gossip
//	answer, err := set.Forward(ctx, body)
package servers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"meridian/rpc"
)

// Set is the live servers and a client to them. Safe for concurrent use.
type Set struct {
	mu     sync.Mutex
	addrs  []string // sorted, as last given
	client *rpc.Client
}

var _ rpc.Transport = (*Set)(nil)

// New returns an empty set: calls fail as unavailable until Update.
func New() *Set { return &Set{} }

// Update replaces the servers. Each edge keeps its own random order, so
// edges spread their calls over the servers while each keeps reusing its
// connections.
func (s *Set) Update(addrs []string) error {
	sorted := slices.Clone(addrs)
	slices.Sort(sorted)
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Equal(sorted, s.addrs) {
		return nil
	}
	s.addrs = sorted
	if len(sorted) == 0 {
		return nil
	}
	order := slices.Clone(sorted)
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	if s.client == nil {
		c, err := rpc.NewClient(rpc.ClientConfig{Addrs: order, RouteToLeaders: true})
		if err != nil {
			return err
		}
		s.client = c
		return nil
	}
	return s.client.SetAddrs(order)
}

// Addrs returns the servers, sorted.
func (s *Set) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.addrs)
}

// Forward sends a JSON-RPC body to a live server and returns its answer.
func (s *Set) Forward(ctx context.Context, body []byte) ([]byte, error) {
	s.mu.Lock()
	c, n := s.client, len(s.addrs)
	s.mu.Unlock()
	if c == nil || n == 0 {
		return nil, fmt.Errorf("edge: %w: no live server known yet (is -join set, and are the servers up?)", rpc.ErrUnavailable)
	}
	return c.Forward(ctx, body)
}

// Close releases the client's idle connections.
func (s *Set) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		s.client.Close()
	}
}
