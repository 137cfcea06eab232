package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"meridian/rpc"
)

// within returns a context that ends after d or with the test.
func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// outcome is what a write's answer says about whether it was applied.
type outcome int

const (
	// acked: the server answered with a result: the write is applied.
	acked outcome = iota
	// notApplied: an error that says the write did not enter the log (no
	// leader, or the connection was refused): retrying cannot apply it
	// twice.
	notApplied
	// maybe: the outcome is unknown (a timeout, a leader change while in
	// flight, a connection lost after the request went out).
	maybe
	// failed: an error no client could retry: a bug where these tests run.
	failed
)

func (o outcome) String() string {
	return [...]string{"acked", "not-applied", "maybe", "failed"}[o]
}

// classify reads an error of a write sent to one server. down says the
// server did not answer at all, so the next try should go elsewhere.
func classify(err error) (o outcome, down bool) {
	if err == nil {
		return acked, false
	}
	if re, ok := errors.AsType[*rpc.Error](err); ok {
		switch re.Code {
		case rpc.CodeNoLeader:
			return notApplied, false
		case rpc.CodeTimeout, rpc.CodeUnavailable:
			return maybe, false
		}
		return failed, false
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return notApplied, true // the request never left
	case errors.Is(err, context.DeadlineExceeded):
		return maybe, true // our own deadline: the server may be hung
	case errors.Is(err, rpc.ErrUnavailable):
		return maybe, true // reset or EOF after the request went out
	}
	return failed, false
}

// putIdempotent writes key=value through cl, retrying every retryable
// error until ctx ends: putting the same value again is harmless, so an
// outcome-unknown error is simply retried.
func putIdempotent(ctx context.Context, cl *rpc.Client, key, value string) (*rpc.KVPutResult, error) {
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		res, err := cl.KVPut(cctx, &rpc.KVPutParams{Key: key, Value: []byte(value)})
		cancel()
		if err == nil {
			if !res.OK {
				return res, fmt.Errorf("put %q: ok=false without cas", key)
			}
			return res, nil
		}
		if o, _ := classify(err); o == failed {
			return nil, fmt.Errorf("put %q: %w", key, err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("put %q: gave up: %w", key, err)
		}
	}
}

// list reads every key under prefix into a map of key to value.
func list(ctx context.Context, cl *rpc.Client, prefix, consistency string) (map[string]string, rpc.ReadMeta, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := cl.KVList(cctx, &rpc.KVListParams{Prefix: prefix, ReadOptions: rpc.ReadOptions{Consistency: consistency}})
	if err != nil {
		return nil, rpc.ReadMeta{}, err
	}
	out := make(map[string]string, len(res.Entries))
	for _, e := range res.Entries {
		out[e.Key] = string(e.Value)
	}
	return out, res.ReadMeta, nil
}

// diff describes how got differs from want, "" when equal; it names at
// most a few keys of each kind.
func diff(got, want map[string]string) string {
	var missing, extra, wrong []string
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case g != v:
			wrong = append(wrong, fmt.Sprintf("%s=%q want %q", k, g, v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra)+len(wrong) == 0 {
		return ""
	}
	few := func(s []string) string {
		slices.Sort(s)
		if len(s) > 5 {
			return strings.Join(s[:5], ", ") + fmt.Sprintf(" and %d more", len(s)-5)
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%d keys (want %d): missing %d [%s], unexpected %d [%s], wrong value %d [%s]",
		len(got), len(want), len(missing), few(missing), len(extra), few(extra), len(wrong), few(wrong))
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// retryRead runs read until it succeeds, retrying errors a client is told
// to retry (as rpc.Client.CallRetry would) until ctx ends. Each retry is
// logged with how long the failed attempt took: a read that stalls for the
// server's whole timeout is worth seeing even when a retry succeeds.
func retryRead(t *testing.T, ctx context.Context, what string, read func(ctx context.Context) error) error {
	t.Helper()
	for {
		began := time.Now()
		err := read(ctx)
		if err == nil {
			return nil
		}
		re, ok := errors.AsType[*rpc.Error](err)
		if !ok || !re.Retryable() || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		t.Logf("NOTE: %s failed after %v with a retryable error; retrying: %v", what, time.Since(began).Round(time.Millisecond), err)
	}
}
