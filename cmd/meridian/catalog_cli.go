package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	edgeagent "meridian/edge/agent"
	"meridian/rpc"
)

func runMembers(args []string, stdout, stderr io.Writer) int {
	v := newVerb("members", "meridian members [flags]", stderr)
	wan := v.fs.Bool("wan", false, "the WAN pool (every datacenter's servers; ask a server)")
	if !v.parse(args, 0, 0) {
		return v.exit
	}
	var res rpc.AgentMembersResult
	if err := v.call(rpc.MethodAgentMembers, rpc.AgentMembersParams{WAN: *wan}, &res, true); err != nil {
		return v.fail(err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tSTATUS\tROLE\tDC\tRPC")
	for _, m := range res.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Addr, m.Status, m.Role, m.DC, m.RPCAddr)
	}
	tw.Flush()
	if *wan && len(res.Members) == 0 {
		fmt.Fprintf(stderr, "meridian members: the agent at %s knows no WAN members: only servers join the WAN pool (edges and dev do not), once their datacenter has formed\n", v.addr)
	}
	return 0
}

func runServices(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "register":
			return servicesRegister(args[1:], stdout, stderr)
		case "deregister":
			return servicesDeregister(args[1:], stdout, stderr)
		}
	}
	v := newVerb("services", "meridian services [flags] [NAME]   (no NAME: every service; NAME: its healthy instances)\n       meridian services register FILE.json | deregister ID", stderr)
	v.dcFlag()
	all := v.fs.Bool("all", false, "with NAME: every instance, not only passing ones")
	wait := v.fs.Duration("wait", 0, "with NAME: wait up to this long for at least one instance (blocking queries)")
	if !v.parse(args, 0, 1) {
		return v.exit
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	if v.fs.NArg() == 0 {
		var res rpc.CatalogServicesResult
		if err := v.call(rpc.MethodCatalogServices, rpc.CatalogServicesParams{ReadOptions: rpc.ReadOptions{DC: v.dc}}, &res, true); err != nil {
			return v.fail(err)
		}
		names := make([]string, 0, len(res.Services))
		for n := range res.Services {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintln(tw, "SERVICE\tTAGS")
		for _, n := range names {
			fmt.Fprintf(tw, "%s\t%s\n", n, strings.Join(res.Services[n], ","))
		}
		return 0
	}
	passing := !*all
	var res rpc.HealthServiceResult
	deadline := time.Now().Add(*wait)
	for {
		p := rpc.HealthServiceParams{Name: v.fs.Arg(0), PassingOnly: &passing}
		p.DC = v.dc
		if res.Index > 0 {
			// Block until the instances change, or the wait ends.
			p.Index, p.Wait = res.Index, rpc.Duration(time.Until(deadline))
		}
		if err := v.call(rpc.MethodHealthService, p, &res, true); err != nil {
			return v.fail(err)
		}
		if len(res.Instances) > 0 || time.Until(deadline) < 10*time.Millisecond {
			break
		}
	}
	fmt.Fprintln(tw, "NODE\tID\tADDRESS\tPORT\tTAGS\tHEALTH")
	for _, in := range res.Instances {
		addr := in.Service.Address
		if addr == "" {
			addr = in.Node.Address
		}
		health := rpc.HealthPassing
		for _, c := range in.Checks {
			if worse(c.Status, health) {
				health = c.Status
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", in.Node.Node, in.Service.ID, addr, in.Service.Port, strings.Join(in.Service.Tags, ","), health)
	}
	return 0
}

// worse reports whether health state a is worse than b.
func worse(a, b string) bool {
	rank := map[string]int{rpc.HealthPassing: 0, rpc.HealthWarning: 1, rpc.HealthCritical: 2}
	return rank[a] > rank[b]
}

func servicesRegister(args []string, stdout, stderr io.Writer) int {
	v := newVerb("services register", "meridian services register [flags] FILE.json   (a service definition, as in -config-dir)", stderr)
	if !v.parse(args, 1, 1) {
		return v.exit
	}
	b, err := os.ReadFile(v.fs.Arg(0))
	if err != nil {
		return v.fail(err)
	}
	def, err := edgeagent.ParseDefinition(b)
	if err != nil {
		return v.fail(fmt.Errorf("%s: %w", v.fs.Arg(0), err))
	}
	if err := v.call(rpc.MethodAgentServiceRegister, def, nil, false); err != nil {
		return v.fail(err)
	}
	fmt.Fprintln(stdout, "registered")
	return 0
}

func servicesDeregister(args []string, stdout, stderr io.Writer) int {
	v := newVerb("services deregister", "meridian services deregister [flags] ID", stderr)
	if !v.parse(args, 1, 1) {
		return v.exit
	}
	if err := v.call(rpc.MethodAgentServiceDeregister, rpc.AgentIDParams{ID: v.fs.Arg(0)}, nil, false); err != nil {
		return v.fail(err)
	}
	fmt.Fprintln(stdout, "deregistered")
	return 0
}

func runLeave(args []string, stdout, stderr io.Writer) int {
	v := newVerb("leave", "meridian leave [flags]   (the agent at -http-addr leaves the datacenter and stops; a server first leaves every shard)", stderr)
	if !v.parse(args, 0, 0) {
		return v.exit
	}
	if err := v.call("agent.leave", nil, nil, false); err != nil {
		return v.fail(err)
	}
	fmt.Fprintln(stdout, "left")
	return 0
}

// runDC lists the datacenters the WAN pool knows (dc.list).
func runDC(args []string, stdout, stderr io.Writer) int {
	v := newVerb("dc", "meridian dc [flags]   (the datacenters, this one first, then nearest first)", stderr)
	if !v.parse(args, 0, 0) {
		return v.exit
	}
	var res rpc.DCListResult
	if err := v.call(rpc.MethodDCList, rpc.DCListParams{}, &res, true); err != nil {
		return v.fail(err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DC	SERVERS	LIVE	RTT")
	for _, d := range res.DCs {
		rtt := "-"
		if d.RTTMS != nil {
			rtt = fmt.Sprintf("%.2fms", *d.RTTMS)
		}
		name := d.Name
		if d.Local {
			name += " (local)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", name, d.Servers, d.LiveServers, rtt)
	}
	tw.Flush()
	return 0
}
