package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"meridian/rpc"
)

const checksUsage = `meridian checks submit [flags] FILE.wasm     store a WASM check module (prints its digest; -name NAME)
       meridian checks try [flags] MODULE           run a module once on an agent, register nothing
       meridian checks list [flags]                 the stored modules
       meridian checks delete [flags] MODULE        remove a module or, with -name-only, its name
MODULE is a digest (sha256, hex) or a name given at submission.
checks try exits as a check plugin does: 0 passing, 1 warning, 2 critical.`

func runChecks(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "submit":
			return checksSubmit(args[1:], stdout, stderr)
		case "try":
			return checksTry(args[1:], stdout, stderr)
		case "list":
			return checksList(args[1:], stdout, stderr)
		case "delete":
			return checksDelete(args[1:], stdout, stderr)
		case "-h", "-help", "--help", "help":
			fmt.Fprintf(stdout, "Usage: %s\n", checksUsage)
			return 0
		}
	}
	fmt.Fprintf(stderr, "Usage: %s\n", checksUsage)
	return 2
}

// checksSubmit uploads with PUT /v1/modules: any size up to the limit,
// streamed from the file.
func checksSubmit(args []string, stdout, stderr io.Writer) int {
	v := newVerb("checks submit", "meridian checks submit [flags] FILE.wasm", stderr)
	v.dcFlag()
	name := v.fs.String("name", "", "point this name at the module (moved from another module if it named one)")
	if !v.parse(args, 1, 1) {
		return v.exit
	}
	f, err := os.Open(v.fs.Arg(0))
	if err != nil {
		return v.fail(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return v.fail(err)
	}
	addr := strings.Split(v.addr, ",")[0]
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u := addr + rpc.ModulesPath
	q := url.Values{}
	if *name != "" {
		q.Set("name", *name)
	}
	if v.dc != "" {
		q.Set("dc", v.dc)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), v.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, f)
	if err != nil {
		return v.fail(err)
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", "application/wasm")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return v.fail(err)
	}
	defer resp.Body.Close()
	res, err := rpc.DecodeUploadAnswer(resp)
	if err != nil {
		return v.fail(err)
	}
	what := "stored"
	if !res.Created {
		what = "already stored"
	}
	fmt.Fprintf(stdout, "%s\n", res.Digest)
	fmt.Fprintf(stderr, "%s: %d bytes, ABI %d", what, res.Size, res.ABI)
	if res.Name != "" {
		fmt.Fprintf(stderr, ", name %q", res.Name)
	}
	fmt.Fprintln(stderr)
	return 0
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func checksTry(args []string, stdout, stderr io.Writer) int {
	v := newVerb("checks try", "meridian checks try [flags] MODULE", stderr)
	argsJSON := v.fs.String("args", "", "the module's arguments, JSON")
	var grants stringList
	v.fs.Var(&grants, "grant", "a network target the module may reach (URL prefix, host:port, DNS name); repeatable")
	checkTimeout := v.fs.Duration("check-timeout", 0, "the run's deadline (default: the agent's, 10s)")
	node := v.fs.String("node", "", "run on this node's agent (default: the agent called)")
	asJSON := v.fs.Bool("json", false, "print the result as JSON")
	if !v.parse(args, 1, 1) {
		return v.exit
	}
	p := rpc.ChecksTryParams{Module: v.fs.Arg(0), Grants: grants, Timeout: rpc.Duration(*checkTimeout), Node: *node}
	if *argsJSON != "" {
		if !json.Valid([]byte(*argsJSON)) {
			return v.fail(fmt.Errorf("-args: not valid JSON: %s", *argsJSON))
		}
		p.Args = json.RawMessage(*argsJSON)
	}
	var res rpc.ChecksTryResult
	if err := v.call(rpc.MethodChecksTry, p, &res, false); err != nil {
		return v.fail(err)
	}
	if *asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		fmt.Fprintf(stdout, "%s (%.2f ms on %s)\n", res.Status, res.DurationMS, res.Node)
		if res.Output != "" {
			fmt.Fprintln(stdout, strings.TrimRight(res.Output, "\n"))
		}
	}
	switch res.Status {
	case rpc.HealthPassing:
		return 0
	case rpc.HealthWarning:
		return 1
	}
	return 2 // critical, as a Nagios plugin exits
}

func checksList(args []string, stdout, stderr io.Writer) int {
	v := newVerb("checks list", "meridian checks list [flags]", stderr)
	v.dcFlag()
	if !v.parse(args, 0, 0) {
		return v.exit
	}
	var res rpc.ModuleListResult
	p := rpc.ModuleListParams{}
	p.DC = v.dc
	if err := v.call(rpc.MethodModuleList, p, &res, true); err != nil {
		return v.fail(err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DIGEST\tSIZE\tABI\tNAMES")
	for _, m := range res.Modules {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", m.Digest, m.Size, m.ABI, strings.Join(m.Names, ","))
	}
	tw.Flush()
	return 0
}

func checksDelete(args []string, stdout, stderr io.Writer) int {
	v := newVerb("checks delete", "meridian checks delete [flags] MODULE", stderr)
	v.dcFlag()
	force := v.fs.Bool("force", false, "delete even if registered checks use the module")
	nameOnly := v.fs.Bool("name-only", false, "MODULE is a name: remove only the name")
	if !v.parse(args, 1, 1) {
		return v.exit
	}
	var res rpc.ModuleDeleteResult
	p := rpc.ModuleDeleteParams{Module: v.fs.Arg(0), Force: *force, Name: *nameOnly}
	p.DC = v.dc
	if err := v.call(rpc.MethodModuleDelete, p, &res, false); err != nil {
		return v.fail(err)
	}
	fmt.Fprintf(stdout, "deleted %s\n", v.fs.Arg(0))
	return 0
}
