// Package cluster runs a Meridian datacenter of real `meridian server`
// processes on loopback, for the multi-process tests of package integration
// (STYLE rule 12: the test cluster is a package).
//
// The binary is built once per test process. Start picks free ports, starts
// every server with its own data directory under t.TempDir(), routes each
// process's stderr to t.Log (prefixed with the node name) and waits until
// every shard has a leader. The helpers kill, stop, pause, resume and
// restart members; t.Cleanup kills whatever is left, and Main checks that
// no process or goroutine outlived the tests.
//
//	func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 4})
//		ctx := t.Context()
//		leader, err := c.Leader(ctx, shard.ForKey("app/x", c.KVShards()))
//		...
//		c.Kill(leader)                    // SIGKILL
//		_, err = c.Client((leader+1)%3).KVPut(ctx, &rpc.KVPutParams{Key: "app/x", Value: v})
//		c.Restart(leader)                 // same flags, ports and data directory
//		if err := c.WaitReady(ctx); err != nil { t.Fatal(err) }
//	}
//
// Servers are numbered from 0: server i is node "s<i+1>". Start and the
// methods that act on a process (Kill, Stop, Pause, Resume, Restart, Dump)
// fail the test with t.Fatal and must be called from the test's goroutine;
// the methods that take a context (WaitReady, Leader, Followers) return
// errors and may be called from any goroutine, as may the clients.
//
// Every wait is a poll with a deadline: nothing here sleeps and hopes.
package cluster
