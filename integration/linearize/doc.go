// Package linearize records histories of concurrent KV operations against
// a Meridian cluster and checks them for linearizability with porcupine
// (github.com/anishathalye/porcupine), for the fault tests of package
// integration. It is test machinery: nothing outside tests imports it.
//
// The model (Model) is a map of keys to values, partitioned by key; an
// operation is a list of steps (read, write or delete, compare-and-set on
// the value) applied atomically, so kv.get, kv.put, kv.put with cas,
// kv.delete and a kv.txn on keys of one shard are all one Input.
//
//	r := linearize.NewRecorder()
//	client := r.NewClient()
//	call := r.Begin(client, linearize.Put("app/x", "v1"), "s2")
//	_, err := cl.KVPut(ctx, ...)
//	call.End(outputOf(err))       // Done, NotApplied, or Unknown
//	...
//	res := r.Check(time.Minute)   // res.Verdict: Ok, Illegal, Unknown
//	if res.Verdict == porcupine.Illegal {
//		res.Visualize(linearize.FileName(t.Name(), seed, "html"))
//	}
//
// An Unknown outcome (a timeout, a connection lost after the request went
// out) is recorded as an operation that returns at infinity: the checker
// may place it anywhere after its invocation, or nowhere visible. The
// worker that made it must take a new client id. Every write must write a
// value never written before: CAS in the model compares values, the
// server compares modify indexes, and unique values make the two agree
// (Indexes checks the value-to-index mapping).
package linearize
