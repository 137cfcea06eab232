// Command httpjson is a Meridian health check: it GETs a JSON health
// endpoint and looks at one field of the answer.
//
// Arguments (JSON):
//
//	{
//	  "url": "http://127.0.0.1:8080/health",  // required, and granted
//	  "field": "status",                      // default "status"; "a.b" for nested objects
//	  "want": "ok",                           // default "ok"
//	  "warn": ["degraded", "warn"],           // default; values that make it warning
//	  "timeout_ms": 2000                      // default: the check's deadline
//	}
//
// Passing when the answer is a 2xx whose field equals want; warning when
// it equals one of warn; critical otherwise (no answer, another status,
// not JSON, no such field, another value). A field that is not a string is
// compared as JSON: "want": "true" matches true.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -trimpath -buildvcs=false -buildmode=c-shared
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	check "meridian/wasm/sdk/go"
)

type args struct {
	URL       string   `json:"url"`
	Field     string   `json:"field"`
	Want      string   `json:"want"`
	Warn      []string `json:"warn"`
	TimeoutMS int      `json:"timeout_ms"`
}

func init() { check.Register(run) }

func main() {}

func run(c *check.Context) check.Status {
	a := args{Field: "status", Want: "ok", Warn: []string{"degraded", "warn"}}
	if err := c.Args(&a); err != nil || a.URL == "" {
		c.Outputf(`bad arguments %s: want {"url": "http://...", "field": "status", "want": "ok"}`, c.RawArgs())
		return check.Critical
	}
	resp, err := c.HTTP(check.Request{
		URL:     a.URL,
		Headers: map[string]string{"Accept": "application/json"},
		Timeout: time.Duration(a.TimeoutMS) * time.Millisecond,
	})
	if err != nil {
		// The runtime's own line says why (refused, timed out, ...).
		c.Outputf("GET %s: %s", a.URL, reason(err))
		return check.Critical
	}
	if resp.Status < 200 || resp.Status > 299 {
		c.Outputf("GET %s: HTTP %d: %s", a.URL, resp.Status, snippet(resp.Body))
		return check.Critical
	}
	var doc any
	if err := json.Unmarshal(resp.Body, &doc); err != nil {
		c.Outputf("GET %s: HTTP %d, not JSON: %s", a.URL, resp.Status, snippet(resp.Body))
		return check.Critical
	}
	got, ok := lookup(doc, a.Field)
	switch {
	case !ok:
		c.Outputf("GET %s: HTTP %d, no field %q in %s", a.URL, resp.Status, a.Field, snippet(resp.Body))
		return check.Critical
	case got == a.Want:
		c.Outputf("GET %s: %s = %q", a.URL, a.Field, got)
		return check.Passing
	}
	for _, w := range a.Warn {
		if got == w {
			c.Outputf("GET %s: %s = %q (want %q)", a.URL, a.Field, got, a.Want)
			return check.Warning
		}
	}
	c.Outputf("GET %s: %s = %q, want %q", a.URL, a.Field, got, a.Want)
	return check.Critical
}

// lookup returns the value at a dotted path, a string as it is and
// anything else as JSON.
func lookup(doc any, path string) (string, bool) {
	for _, key := range strings.Split(path, ".") {
		obj, ok := doc.(map[string]any)
		if !ok {
			return "", false
		}
		if doc, ok = obj[key]; !ok {
			return "", false
		}
	}
	if s, ok := doc.(string); ok {
		return s, true
	}
	b, _ := json.Marshal(doc)
	return string(b), true
}

func reason(err error) string {
	switch {
	case errors.Is(err, check.ErrDenied):
		return "not granted"
	case errors.Is(err, check.ErrTimeout):
		return "timed out"
	}
	return err.Error()
}

// snippet is the start of a body, for the output.
func snippet(b []byte) string {
	const max = 200
	if len(b) > max {
		return fmt.Sprintf("%q...", b[:max])
	}
	return fmt.Sprintf("%q", b)
}
