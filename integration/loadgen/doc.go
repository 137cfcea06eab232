// Package loadgen drives a closed-loop key/value load against a store and
// reports throughput, latency percentiles and errors by code. It knows
// nothing of the store: `meridian bench kv` plugs in Meridian's JSON-RPC
// client and integration/etcdbench plugs in etcd's, so both tools share
// their flags, their measurement and their output format, and their
// figures can be compared line by line.
//
//	cfg := loadgen.DefaultConfig()
//	cfg.RegisterFlags(fs)          // -op, -clients, -value-size, ...
//	fs.Parse(args)
//	res, err := loadgen.Run(ctx, cfg, store) // store implements loadgen.KV
//	res.WriteText(os.Stdout)       // or res.WriteJSON
//
// Each of the Clients workers issues one operation at a time and the next
// as soon as the answer arrives (a closed loop), so the offered load adapts
// to the store: ops/s is what the store sustains at that concurrency, and
// latency is measured per operation from send to answer.
package loadgen
