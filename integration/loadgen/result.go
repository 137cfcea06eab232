package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// histogram records latencies in microseconds, from 1 µs to 60 s, with
// three significant digits (an error of at most 0.1%).
type histogram struct{ h *hdrhistogram.Histogram }

const maxLatencyMicros = 60_000_000

func newHistogram() *histogram {
	return &histogram{h: hdrhistogram.New(1, maxLatencyMicros, 3)}
}

func (h *histogram) record(d time.Duration) {
	us := max(d.Microseconds(), 1)
	_ = h.h.RecordValue(min(us, maxLatencyMicros)) // cannot fail within the range
}

// Latency summarises a distribution of latencies, in microseconds.
type Latency struct {
	P50  int64   `json:"p50"`
	P99  int64   `json:"p99"`
	P999 int64   `json:"p999"`
	Max  int64   `json:"max"`
	Mean float64 `json:"mean"`
}

func (h *histogram) summary() Latency {
	return Latency{
		P50:  h.h.ValueAtQuantile(50),
		P99:  h.h.ValueAtQuantile(99),
		P999: h.h.ValueAtQuantile(99.9),
		Max:  h.h.Max(),
		Mean: h.h.Mean(),
	}
}

// OpResult is what one kind of operation (put or get) achieved.
type OpResult struct {
	Ops       int64   `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	// LatencyMicros covers the operations that succeeded.
	LatencyMicros Latency `json:"latency_us"`
}

// Result is what a run measured. Its JSON form is what the -json flag
// prints; integration/bench/compare.sh reads it.
type Result struct {
	// System and Target say what was measured ("meridian", "etcd"; the
	// addresses), as the tool that ran the load sets them.
	System string `json:"system,omitempty"`
	Target string `json:"target,omitempty"`

	Op          string  `json:"op"`
	Clients     int     `json:"clients"`
	ValueSize   int     `json:"value_size"`
	Keys        int     `json:"keys"`
	Folders     int     `json:"folders"`
	ReadRatio   float64 `json:"read_ratio,omitempty"`
	Consistency string  `json:"consistency,omitempty"`
	// Seconds is how long the measured phase took, in-flight operations
	// at its end included.
	Seconds float64 `json:"seconds"`

	// Ops counts the operations that succeeded; OpsPerSec is Ops/Seconds.
	Ops       int64   `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	// LatencyMicros covers every operation that succeeded.
	LatencyMicros Latency `json:"latency_us"`
	// ByOp splits a mixed load into its gets and puts.
	ByOp map[string]OpResult `json:"by_op,omitempty"`

	Errors       int64            `json:"errors"`
	ErrorsByCode map[string]int64 `json:"errors_by_code,omitempty"`
}

func newResult(cfg Config, elapsed time.Duration, rec *recorder) *Result {
	secs := elapsed.Seconds()
	r := &Result{
		Op: cfg.Op, Clients: cfg.Clients, ValueSize: cfg.ValueSize, Keys: cfg.Keys,
		Folders: cfg.Folders, Seconds: secs,
	}
	if cfg.Op != OpPut {
		r.Consistency = cfg.Consistency
	}
	if cfg.Op == OpMixed {
		r.ReadRatio = cfg.ReadRatio
	}
	all := newHistogram()
	for _, name := range slices.Sorted(maps.Keys(rec.hists)) {
		h := rec.hists[name]
		all.h.Merge(h.h)
		if cfg.Op == OpMixed {
			if r.ByOp == nil {
				r.ByOp = map[string]OpResult{}
			}
			n := h.h.TotalCount()
			r.ByOp[name] = OpResult{Ops: n, OpsPerSec: float64(n) / secs, LatencyMicros: h.summary()}
		}
	}
	r.Ops = all.h.TotalCount()
	r.OpsPerSec = float64(r.Ops) / secs
	r.LatencyMicros = all.summary()
	for code, n := range rec.byCode {
		if r.ErrorsByCode == nil {
			r.ErrorsByCode = map[string]int64{}
		}
		r.ErrorsByCode[code] = n
		r.Errors += n
	}
	return r
}

// WriteJSON writes r as one line of JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteText writes r for a person: the load, the throughput, the latency
// percentiles and the errors by code.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	what := r.Op
	switch r.Op {
	case OpGet:
		what += ", " + r.Consistency + " reads"
	case OpMixed:
		what += fmt.Sprintf(", %.0f%% %s reads", r.ReadRatio*100, r.Consistency)
	}
	if r.System != "" {
		fmt.Fprintf(&b, "system:     %s %s\n", r.System, r.Target)
	}
	fmt.Fprintf(&b, "load:       %s; %d clients, %d-byte values, %d keys in %d folder(s)\n",
		what, r.Clients, r.ValueSize, r.Keys, r.Folders)
	fmt.Fprintf(&b, "total ops:  %d in %.2fs\n", r.Ops, r.Seconds)
	fmt.Fprintf(&b, "ops/s:      %.1f\n", r.OpsPerSec)
	fmt.Fprintf(&b, "latency:    %s\n", r.LatencyMicros)
	for _, name := range slices.Sorted(maps.Keys(r.ByOp)) {
		o := r.ByOp[name]
		fmt.Fprintf(&b, "  %-4s      %d ops, %.1f ops/s, %s\n", name+":", o.Ops, o.OpsPerSec, o.LatencyMicros)
	}
	fmt.Fprintf(&b, "errors:     %d\n", r.Errors)
	for _, code := range slices.Sorted(maps.Keys(r.ErrorsByCode)) {
		fmt.Fprintf(&b, "  %-9s %d\n", code+":", r.ErrorsByCode[code])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String formats the percentiles in milliseconds.
func (l Latency) String() string {
	ms := func(us int64) string { return fmt.Sprintf("%.2fms", float64(us)/1000) }
	return fmt.Sprintf("p50 %s  p99 %s  p99.9 %s  max %s  (mean %.2fms)",
		ms(l.P50), ms(l.P99), ms(l.P999), ms(l.Max), l.Mean/1000)
}

// Report runs the load (see Run) and writes the result to w, as JSON when
// cfg.JSON is set, else as text; system and target label it.
func Report(ctx context.Context, cfg Config, kv KV, system, target string, w io.Writer) error {
	res, err := Run(ctx, cfg, kv)
	if err != nil {
		return err
	}
	res.System, res.Target = system, target
	if cfg.JSON {
		return res.WriteJSON(w)
	}
	return res.WriteText(w)
}
