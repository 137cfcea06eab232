package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"meridian/rpc"
)

// verb is one client command: its flags (the shared -http-addr and
// -timeout plus its own) and a JSON-RPC client of the agent.
type verb struct {
	name    string
	fs      *flag.FlagSet
	addr    string
	timeout time.Duration
	dc      string // -dc, for the verbs that call dcFlag
	stderr  io.Writer
	exit    int // the exit code when parse returns false
}

// dcFlag adds -dc: the datacenter whose data the verb reads or writes.
func (v *verb) dcFlag() {
	v.fs.StringVar(&v.dc, "dc", "", "datacenter (default: the agent's own)")
}

func newVerb(name, usage string, stderr io.Writer) *verb {
	v := &verb{name: name, fs: newFlagSet(name, stderr, usage), stderr: stderr}
	def := os.Getenv("MERIDIAN_HTTP_ADDR")
	if def == "" {
		def = "127.0.0.1:7500"
	}
	v.fs.StringVar(&v.addr, "http-addr", def, "agent address (host:port, comma-separated for several; env MERIDIAN_HTTP_ADDR)")
	v.fs.DurationVar(&v.timeout, "timeout", 30*time.Second, "give up on a call after this long, not counting the wait of a blocking read (retryable errors are retried until then)")
	return v
}

// parse reads the flags and checks that between min and max arguments
// remain; false means it printed the usage, and v.exit is the code to
// exit with: 0 when the usage was asked for (-h), else 2.
func (v *verb) parse(args []string, min, max int) bool {
	if err := v.fs.Parse(args); err != nil {
		v.exit = parseExit(err)
		return false
	}
	if v.fs.NArg() < min || v.fs.NArg() > max {
		v.fs.Usage()
		v.exit = 2
		return false
	}
	return true
}

// parseExit is the exit code after a flag.FlagSet.Parse error: 0 for -h
// or -help, which asked for the usage it printed, 2 for a bad flag.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// call calls method on the agent; with retry, retryable errors are retried
// until -timeout.
func (v *verb) call(method string, params, result any, retry bool) error {
	cl, err := v.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	return v.callOn(cl, method, params, result, retry)
}

// client is a client to -http-addr, for verbs that make many calls
// (callOn); the caller closes it.
func (v *verb) client() (*rpc.Client, error) {
	return rpc.NewClient(rpc.ClientConfig{Addrs: strings.Split(v.addr, ",")})
}

// callOn is call on a client the verb keeps: each call has -timeout, and
// a blocking read the wait it asked for on top (rpc.HoldFor).
func (v *verb) callOn(cl *rpc.Client, method string, params, result any, retry bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), v.timeout+rpc.HoldFor(params))
	defer cancel()
	if retry {
		return cl.CallRetry(ctx, method, params, result)
	}
	return cl.Call(ctx, method, params, result)
}

func (v *verb) fail(err error) int { return fail(v.stderr, v.name, err) }

func newFlagSet(name string, stderr io.Writer, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

func fail(stderr io.Writer, verb string, err error) int {
	fmt.Fprintf(stderr, "meridian %s: %v\n", verb, err)
	return 1
}

const kvUsage = `Usage: meridian kv put [flags] KEY VALUE      write a key (VALUE: - for stdin, @FILE for a file)
       meridian kv get [flags] KEY              read a key (-recurse: every key under a prefix)
       meridian kv list [flags] [PREFIX]        the entries under PREFIX (-separator / for one level)
       meridian kv delete [flags] KEY           delete a key (-recurse: every key under it)
       meridian kv export [flags] [PREFIX]      print keys as JSON, as consul kv export does
       meridian kv import [flags] [DATA]        write keys from that JSON (@FILE, or stdin)
Run 'meridian kv VERB -h' for a verb's flags.
`

func runKV(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, kvUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, kvUsage)
		return 0
	case "put":
		return kvPut(args[1:], stdout, stderr)
	case "get":
		return kvGet(args[1:], stdout, stderr)
	case "list", "ls":
		return kvList(args[1:], stdout, stderr)
	case "delete", "del", "rm":
		return kvDelete(args[1:], stdout, stderr)
	case "export":
		return kvExport(args[1:], stdout, stderr)
	case "import":
		return kvImport(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "meridian kv: unknown verb %q\n\n%s", args[0], kvUsage)
	return 2
}

// optUint is a flag that records whether it was set.
type optUint struct {
	set bool
	v   uint64
}

func (o *optUint) String() string { return fmt.Sprint(o.v) }
func (o *optUint) Set(s string) error {
	_, err := fmt.Sscan(s, &o.v)
	o.set = err == nil
	return err
}

func kvPut(args []string, stdout, stderr io.Writer) int {
	v := newVerb("kv put", "meridian kv put [flags] KEY VALUE   (VALUE: - reads stdin, @FILE reads FILE)", stderr)
	v.dcFlag()
	flags := v.fs.Uint64("flags", 0, "opaque flags stored with the key")
	var cas optUint
	v.fs.Var(&cas, "cas", "write only if the key's modify index is this (0: only if absent)")
	b64 := v.fs.Bool("base64", false, "the value (however given) is base64; the key gets the decoded bytes")
	if !v.parse(args, 2, 2) {
		return v.exit
	}
	value, err := putValue(v.fs.Arg(1), os.Stdin, *b64)
	if err != nil {
		return v.fail(err)
	}
	p := &rpc.KVPutParams{Key: v.fs.Arg(0), Value: value, Flags: *flags}
	p.DC = v.dc
	if cas.set {
		p.CAS = &cas.v
	}
	var res rpc.KVPutResult
	if err := v.call(rpc.MethodKVPut, p, &res, true); err != nil {
		return v.fail(err)
	}
	if !res.OK {
		if cas.v == 0 {
			return v.fail(fmt.Errorf("%q not written: the key exists (-cas 0 writes only an absent key)", p.Key))
		}
		return v.fail(fmt.Errorf("%q not written: the key is absent or its modify index is not %d", p.Key, cas.v))
	}
	fmt.Fprintf(stdout, "Success! Data written to: %s (index %d)\n", p.Key, res.Index)
	return 0
}

// putValue is kv put's VALUE argument as bytes, as Consul's kv put reads
// it: "-" is standard input, "@FILE" the contents of FILE, anything else
// the argument itself; with b64 the result is base64 to decode.
func putValue(arg string, stdin io.Reader, b64 bool) ([]byte, error) {
	value := []byte(arg)
	switch {
	case arg == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading the value from stdin: %w", err)
		}
		value = b
	case strings.HasPrefix(arg, "@"):
		b, err := os.ReadFile(arg[1:])
		if err != nil {
			return nil, fmt.Errorf("reading the value: %w", err)
		}
		value = b
	}
	if b64 {
		d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(value)))
		if err != nil {
			return nil, fmt.Errorf("-base64: the value is not valid base64: %w", err)
		}
		value = d
	}
	return value, nil
}

func kvGet(args []string, stdout, stderr io.Writer) int {
	v := newVerb("kv get", "meridian kv get [flags] KEY   (with -recurse or -keys: [PREFIX])", stderr)
	v.dcFlag()
	var o getOpts
	v.fs.BoolVar(&o.detailed, "detailed", false, "print the entry with its indexes as JSON")
	v.fs.BoolVar(&o.stale, "stale", false, "read the agent's local replica (may be behind)")
	v.fs.BoolVar(&o.base64, "base64", false, "print values base64-encoded")
	recurse := v.fs.Bool("recurse", false, "every key under the prefix KEY, as KEY:VALUE lines (as kv list prints them)")
	keys := v.fs.Bool("keys", false, "the key names under the prefix KEY, one level deep (up to -separator)")
	sep := v.fs.String("separator", "/", "with -keys: list keys up to this separator; empty lists every key")
	if !v.parse(args, 0, 1) {
		return v.exit
	}
	switch {
	case *keys:
		return kvGetKeys(v, stdout, o, *sep)
	case *recurse:
		return kvGetRecurse(v, stdout, stderr, o)
	case v.fs.NArg() == 0:
		v.fs.Usage()
		return 2
	}
	p := &rpc.KVGetParams{Key: v.fs.Arg(0)}
	p.DC = v.dc
	if o.stale {
		p.Consistency = rpc.ConsistencyStale
	}
	var res rpc.KVGetResult
	if err := v.call(rpc.MethodKVGet, p, &res, true); err != nil {
		return v.fail(err)
	}
	if res.Entry == nil {
		return v.fail(fmt.Errorf("no key %q", p.Key))
	}
	if o.detailed {
		return printJSON(stdout, stderr, res.Entry)
	}
	value := o.value(res.Entry)
	stdout.Write(value)
	if !bytes.HasSuffix(value, []byte("\n")) {
		fmt.Fprintln(stdout)
	}
	return 0
}

// getOpts are kv get's flags that shape every form of its answer.
type getOpts struct {
	detailed, stale, base64 bool
}

// value is e's value as kv get prints it.
func (o getOpts) value(e *rpc.KVEntry) []byte {
	if o.base64 {
		return []byte(base64.StdEncoding.EncodeToString(e.Value))
	}
	return e.Value
}

func (o getOpts) listParams(v *verb) *rpc.KVListParams {
	p := &rpc.KVListParams{Prefix: v.fs.Arg(0)}
	p.DC = v.dc
	if o.stale {
		p.Consistency = rpc.ConsistencyStale
	}
	return p
}

// kvGetRecurse is kv get -recurse, as Consul's: kv list's lines, or with
// -detailed every entry with its indexes as a JSON array.
func kvGetRecurse(v *verb, stdout, stderr io.Writer, o getOpts) int {
	var res rpc.KVListResult
	if err := v.call(rpc.MethodKVList, o.listParams(v), &res, true); err != nil {
		return v.fail(err)
	}
	if o.detailed {
		return printJSON(stdout, stderr, res.Entries)
	}
	printEntries(stdout, res.Entries, o.value)
	return 0
}

// kvGetKeys is kv get -keys, as Consul's: the key names under the prefix,
// one level deep with the default separator "/" (a deeper level shows as
// its folder, "app/web/"), every key with -separator "".
func kvGetKeys(v *verb, stdout io.Writer, o getOpts, sep string) int {
	p := o.listParams(v)
	p.KeysOnly, p.Separator = true, sep
	var res rpc.KVListResult
	if err := v.call(rpc.MethodKVList, p, &res, true); err != nil {
		return v.fail(err)
	}
	for _, k := range res.Keys {
		fmt.Fprintln(stdout, k)
	}
	return 0
}

// printEntries prints KEY:VALUE lines, as Consul's kv get -recurse does,
// each value as value renders it.
func printEntries(stdout io.Writer, entries []*rpc.KVEntry, value func(*rpc.KVEntry) []byte) {
	for _, e := range entries {
		fmt.Fprintf(stdout, "%s:%s\n", e.Key, value(e))
	}
}

func kvList(args []string, stdout, stderr io.Writer) int {
	v := newVerb("kv list", "meridian kv list [flags] [PREFIX]", stderr)
	v.dcFlag()
	keys := v.fs.Bool("keys", false, "list key names only")
	sep := v.fs.String("separator", "", "list one level: keys up to this separator (e.g. /); deeper keys show once, as their folder (app/web/), beside the KEY:VALUE lines")
	if !v.parse(args, 0, 1) {
		return v.exit
	}
	p := &rpc.KVListParams{Prefix: v.fs.Arg(0), KeysOnly: *keys, Separator: *sep}
	p.DC = v.dc
	var res rpc.KVListResult
	if err := v.call(rpc.MethodKVList, p, &res, true); err != nil {
		return v.fail(err)
	}
	for _, k := range res.Keys {
		fmt.Fprintln(stdout, k)
	}
	printEntries(stdout, res.Entries, getOpts{}.value)
	return 0
}

func kvDelete(args []string, stdout, stderr io.Writer) int {
	v := newVerb("kv delete", "meridian kv delete [flags] KEY", stderr)
	v.dcFlag()
	recurse := v.fs.Bool("recurse", false, "delete every key under the prefix KEY")
	var cas optUint
	v.fs.Var(&cas, "cas", "delete only if the key's modify index is this (0: succeed only if the key is absent)")
	if !v.parse(args, 1, 1) {
		return v.exit
	}
	p := &rpc.KVDeleteParams{Key: v.fs.Arg(0), Recurse: *recurse}
	p.DC = v.dc
	if cas.set {
		p.CAS = &cas.v
	}
	var res rpc.KVDeleteResult
	if err := v.call(rpc.MethodKVDelete, p, &res, true); err != nil {
		return v.fail(err)
	}
	if !res.OK {
		if cas.v == 0 {
			return v.fail(fmt.Errorf("%q not deleted: the key exists (-cas 0 succeeds only if it is already absent)", p.Key))
		}
		return v.fail(fmt.Errorf("%q not deleted: its modify index is not %d", p.Key, cas.v))
	}
	fmt.Fprintf(stdout, "Success! Deleted: %s\n", p.Key)
	return 0
}

func runRPC(args []string, stdout, stderr io.Writer) int {
	v := newVerb("rpc", "meridian rpc [flags] METHOD [PARAMS_JSON]", stderr)
	if !v.parse(args, 1, 2) {
		return v.exit
	}
	var params json.RawMessage
	if v.fs.NArg() == 2 {
		params = json.RawMessage(v.fs.Arg(1))
		if !json.Valid(params) {
			fmt.Fprintf(stderr, "meridian rpc: PARAMS_JSON is not valid JSON: %s\n", v.fs.Arg(1))
			return 2
		}
	}
	var res json.RawMessage
	if err := v.call(v.fs.Arg(0), params, &res, false); err != nil {
		return v.fail(err)
	}
	return printJSON(stdout, stderr, res)
}

func printJSON(stdout, stderr io.Writer, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fail(stderr, "output", err)
	}
	fmt.Fprintln(stdout, string(b))
	return 0
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	v := newVerb("status", "meridian status [flags]", stderr)
	if !v.parse(args, 0, 0) {
		return v.exit
	}
	var leader rpc.StatusLeaderResult
	var peers rpc.StatusPeersResult
	var shards rpc.StatusShardsResult
	for _, call := range []struct {
		m   string
		out any
	}{{rpc.MethodStatusLeader, &leader}, {rpc.MethodStatusPeers, &peers}, {rpc.MethodStatusShards, &shards}} {
		if err := v.call(call.m, &rpc.EmptyParams{}, call.out, true); err != nil {
			return v.fail(err)
		}
	}
	fmt.Fprintf(stdout, "Leader (system shard): %s %s\n\n", leader.Node, leader.Leader)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tREPLICA\tRAFT ADDRESS")
	for _, p := range peers.Peers {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", p.Node, p.ReplicaID, p.RaftAddr)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nShards as seen by %s:\n", shards.Node)
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tKIND\tLEADER\tTERM\tAPPLIED\tREPLICAS")
	for _, s := range shards.Shards {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%v\n", s.ID, s.Kind, s.LeaderNode, s.Term, s.AppliedIndex, s.Replicas)
	}
	tw.Flush()
	return 0
}
