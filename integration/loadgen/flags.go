package loadgen

import "flag"

// RegisterFlags adds the load's flags to fs, with c's values as defaults;
// parsing fs writes into c. Both load tools call it, so they take the same
// flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Op, "op", c.Op, "operation: put, get or mixed (get and mixed populate the key space first)")
	fs.IntVar(&c.Clients, "clients", c.Clients, "concurrent closed-loop clients, each with one operation in flight")
	fs.IntVar(&c.ValueSize, "value-size", c.ValueSize, "bytes per value")
	fs.IntVar(&c.Keys, "keys", c.Keys, "size of the key space (keys are picked uniformly at random)")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long to measure, after populating (at most 1h)")
	fs.Int64Var(&c.MaxOps, "max-ops", c.MaxOps, "stop after this many operations even if -duration has not run out (0: no limit)")
	fs.Float64Var(&c.ReadRatio, "read-ratio", c.ReadRatio, "share of gets in a mixed load, 0 to 1")
	fs.StringVar(&c.Consistency, "consistency", c.Consistency, "reads: default (linearizable) or stale (a local replica)")
	fs.StringVar(&c.Prefix, "prefix", c.Prefix, "every key starts with this; with -folders N it names N top-level folders")
	fs.IntVar(&c.Folders, "folders", c.Folders, "spread the keys over this many top-level folders (PREFIX0/, PREFIX1/, ...); in Meridian each top-level folder lives in one KV shard")
	fs.DurationVar(&c.OpTimeout, "op-timeout", c.OpTimeout, "bound on each operation")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print the result as one line of JSON")
}
