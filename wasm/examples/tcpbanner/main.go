// Command tcpbanner is a Meridian health check: it connects to a TCP
// service, sends a probe and checks the start of the answer. Its defaults
// are a Redis PING.
//
// Arguments (JSON):
//
//	{
//	  "addr": "127.0.0.1:6379",  // required, and granted ("127.0.0.1:6379")
//	  "send": "PING\r\n",        // default; "" sends nothing (wait for a banner)
//	  "expect": "+PONG",         // default: the answer must start with it
//	  "warn": "-",               // default: an answer starting with it is warning (a Redis error such as -LOADING)
//	  "timeout_ms": 2000         // default 2000
//	}
//
// Passing when the answer starts with expect; warning when it starts with
// warn; critical when the connection fails or the answer is anything else.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -trimpath -buildvcs=false -buildmode=c-shared
package main

import (
	"bytes"
	"strings"
	"time"

	check "meridian/wasm/sdk/go"
)

type args struct {
	Addr      string  `json:"addr"`
	Send      *string `json:"send"`
	Expect    string  `json:"expect"`
	Warn      string  `json:"warn"`
	TimeoutMS int     `json:"timeout_ms"`
}

func init() { check.Register(run) }

func main() {}

func run(c *check.Context) check.Status {
	a := args{Expect: "+PONG", Warn: "-", TimeoutMS: 2000}
	if err := c.Args(&a); err != nil || a.Addr == "" {
		c.Outputf(`bad arguments %s: want {"addr": "host:port", "send": "PING\r\n", "expect": "+PONG"}`, c.RawArgs())
		return check.Critical
	}
	send := "PING\r\n"
	if a.Send != nil {
		send = *a.Send
	}
	answer, err := c.TCP(a.Addr, []byte(send), 512, time.Duration(a.TimeoutMS)*time.Millisecond)
	if err != nil {
		c.Outputf("%s: %v", a.Addr, err)
		return check.Critical
	}
	line := firstLine(answer)
	switch {
	case bytes.HasPrefix(answer, []byte(a.Expect)):
		c.Outputf("%s: %q", a.Addr, line)
		return check.Passing
	case a.Warn != "" && bytes.HasPrefix(answer, []byte(a.Warn)):
		c.Outputf("%s: %q, want %q", a.Addr, line, a.Expect)
		return check.Warning
	case len(answer) == 0:
		c.Outputf("%s: closed without an answer, want %q", a.Addr, a.Expect)
		return check.Critical
	}
	c.Outputf("%s: %q, want %q", a.Addr, line, a.Expect)
	return check.Critical
}

// firstLine is the answer up to its first line end.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(s, "\r")
}
