// Package gossip is Meridian's gossip pool, on hashicorp/memberlist: the
// LAN pool of a datacenter, where servers and edge agents gossip, and the
// WAN pool of the servers of all datacenters. Each member gossips a small
// Meta (role, datacenter, RPC, DNS and Raft addresses, version) and learns
// of the others' joins, updates, graceful leaves and failures.
//
// Usage:
//
//	cfg := gossip.DefaultConfig()
//	cfg.Name = "edge-7"
//	cfg.BindAddr = "10.0.0.7:7301"
//	cfg.Label = "meridian-lan-dc1"
//	cfg.Meta = gossip.Meta{Role: gossip.RoleEdge, DC: "dc1", RPCAddr: "10.0.0.7:8500"}
//	cfg.Join = []string{"10.0.0.1:7301", "10.0.0.2:7301"} // retried in the background
//	cfg.Events = func(e gossip.Event) {
//		if e.Kind == gossip.EventFailed {
//			// mark e.Member.Name's node check critical
//		}
//	}
//	cfg.Logger = logger.With("component", "gossip-lan")
//	pool, err := gossip.New(cfg)
//	if err != nil {
//		return err
//	}
//	defer pool.Close()
//	select {
//	case <-pool.Joined():
//	case <-ctx.Done():
//		return ctx.Err()
//	}
//	for _, m := range pool.Members() {
//		fmt.Println(m.Name, m.Meta.Role, m.Meta.RPCAddr)
//	}
//	// ... on a graceful stop:
//	pool.Leave(5 * time.Second)
//
// Goroutines owned by a Pool, all waited for by Close:
//   - the event dispatcher (only with Config.Events): calls Config.Events in
//     order; memberlist's callbacks only append to its queue;
//   - the join loop (only with Config.Join): retries with backoff until a
//     join succeeds or the pool closes;
//   - one per Join or UpdateMeta call under way: runs memberlist's blocking
//     call, so that the caller can give up when its context is done;
//   - during Leave, push/pull exchanges that tell members directly: the
//     servers (up to 7), and others up to 3 exchanges in all.
//
// memberlist runs its own goroutines (listeners, probes, gossip); Close
// stops them, and they end shortly after it returns.
package gossip
