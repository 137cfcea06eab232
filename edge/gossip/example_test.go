package gossip_test

import (
	"fmt"
	"log"

	"meridian/edge/gossip"
)

func ExampleNew() {
	cfg := gossip.DefaultConfig()
	cfg.Name = "edge-1"
	cfg.BindAddr = "127.0.0.1:0" // a free port; see Pool.Addr
	cfg.Profile = gossip.ProfileLocal
	cfg.Label = "meridian-lan-dc1"
	cfg.Meta = gossip.Meta{Role: gossip.RoleEdge, DC: "dc1", RPCAddr: "127.0.0.1:8500"}
	pool, err := gossip.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	<-pool.Joined() // closed at once: nothing to join
	for _, m := range pool.Members() {
		fmt.Println(m.Name, m.State, m.Meta.Role, m.Meta.DC, m.Meta.RPCAddr)
	}
	// Output:
	// edge-1 alive edge dc1 127.0.0.1:8500
}
