package wasm

import (
	"context"
	"crypto/rand"
	"log/slog"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// HostModule is the name of the module guests import the Meridian ABI
// from; ABIVersion is the version of that ABI this package implements.
// docs/wasm-abi.md is the reference.
const (
	HostModule = "meridian"
	ABIVersion = 1
)

// Negative results of the host functions (docs/wasm-abi.md).
const (
	codeDenied   int32 = -1 // the target is not granted
	codeTimeout  int32 = -2 // the call's timeout or the check's deadline
	codeNetwork  int32 = -3 // connection, I/O, DNS or HTTP protocol failure
	codeTooSmall int32 = -4 // the guest's buffer cannot hold the answer
	codeInvalid  int32 = -5 // bad pointer/length, malformed request, bad level
	codeLimit    int32 = -6 // a per-run limit is spent (network bytes, log records)
)

// minHTTPResponse is the smallest response buffer http_request accepts: it
// always holds {"status":NNN,"headers":{},"truncated":true,"body":""}.
const minHTTPResponse = 64

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostFunc is one function of the Meridian ABI: its signature (the one a
// guest's import must have) and its implementation.
type hostFunc struct {
	name    string
	params  []string // names; every parameter is an i32
	results []api.ValueType
	fn      func(r *Runtime, ctx context.Context, mod api.Module, stack []uint64)
}

// abiV1 is the Meridian ABI v1. Validation checks imports against it.
var abiV1 = []hostFunc{
	{"set_output", []string{"ptr", "len"}, []api.ValueType{i32}, (*Runtime).hostSetOutput},
	{"log", []string{"level", "ptr", "len"}, []api.ValueType{i32}, (*Runtime).hostLog},
	{"args_len", nil, []api.ValueType{i32}, (*Runtime).hostArgsLen},
	{"args_read", []string{"ptr", "len"}, []api.ValueType{i32}, (*Runtime).hostArgsRead},
	{"now_ms", nil, []api.ValueType{i64}, (*Runtime).hostNowMS},
	{"http_request", []string{"req_ptr", "req_len", "resp_ptr", "resp_cap"}, []api.ValueType{i32}, (*Runtime).hostHTTPRequest},
	{"tcp_connect", []string{"addr_ptr", "addr_len", "send_ptr", "send_len", "recv_ptr", "recv_cap", "timeout_ms"}, []api.ValueType{i32}, (*Runtime).hostTCPConnect},
	{"dns_lookup", []string{"name_ptr", "name_len", "out_ptr", "out_cap"}, []api.ValueType{i32}, (*Runtime).hostDNSLookup},
}

func (h hostFunc) paramTypes() []api.ValueType {
	t := make([]api.ValueType, len(h.params))
	for i := range t {
		t[i] = i32
	}
	return t
}

// allowedWASI are the wasi_snapshot_preview1 functions a module may import:
// what the Go, Rust and C (wasi-libc) runtimes need at start-up and for
// stdout/stderr, the clocks and randomness. There is no filesystem (no
// preopened directory: path_* are not offered, fd_prestat_get reports
// none), no environment and no arguments (both empty), no sockets.
var allowedWASI = map[string]bool{
	"args_get": true, "args_sizes_get": true,
	"environ_get": true, "environ_sizes_get": true,
	"clock_res_get": true, "clock_time_get": true,
	"fd_close": true, "fd_fdstat_get": true, "fd_fdstat_set_flags": true,
	"fd_prestat_get": true, "fd_prestat_dir_name": true,
	"fd_read": true, "fd_seek": true, "fd_write": true,
	"poll_oneoff": true, "proc_exit": true, "random_get": true, "sched_yield": true,
}

// instantiateHost defines the "meridian" host module in r.
func (r *Runtime) instantiateHost(ctx context.Context) error {
	b := r.wr.NewHostModuleBuilder(HostModule)
	for _, h := range abiV1 {
		b = b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
				h.fn(r, ctx, mod, stack)
			}), h.paramTypes(), h.results).
			WithParameterNames(h.params...).
			Export(h.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

func signature(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return name(params) + " -> " + name(results)
}

// read returns a view of guest memory, or false when out of bounds.
func read(mod api.Module, ptr, n uint32) ([]byte, bool) {
	if n == 0 {
		return nil, true
	}
	mem := mod.Memory()
	if mem == nil {
		return nil, false
	}
	return mem.Read(ptr, n)
}

func write(mod api.Module, ptr uint32, p []byte) bool {
	if len(p) == 0 {
		return true
	}
	mem := mod.Memory()
	if mem == nil {
		return false
	}
	return mem.Write(ptr, p)
}

// checkRange reports whether [ptr, ptr+n) is inside guest memory.
func checkRange(mod api.Module, ptr, n uint32) bool {
	_, ok := read(mod, ptr, n)
	return ok
}

func ret(stack []uint64, v int32) { stack[0] = api.EncodeI32(v) }

// hostSetOutput: set_output(ptr, len) -> kept bytes | -5.
func (r *Runtime) hostSetOutput(ctx context.Context, mod api.Module, stack []uint64) {
	rs := stateFrom(ctx)
	p, ok := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if rs == nil || !ok {
		ret(stack, codeInvalid)
		return
	}
	ret(stack, int32(rs.setOutput(p)))
}

var guestLevels = [...]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}

// hostLog: log(level, ptr, len) -> 0 | -5 | -6.
func (r *Runtime) hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	rs := stateFrom(ctx)
	level := api.DecodeI32(stack[0])
	p, ok := read(mod, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]))
	if rs == nil || !ok || level < 0 || int(level) >= len(guestLevels) {
		ret(stack, codeInvalid)
		return
	}
	if rs.logs >= maxLogRecords {
		rs.logsDropped++
		ret(stack, codeLimit)
		return
	}
	rs.logs++
	msg := string(p[:utf8Prefix(p, maxLogBytes)])
	r.log.Log(ctx, guestLevels[level], msg, "module", rs.m.short, "check", rs.name, "source", "guest")
	ret(stack, 0)
}

// hostArgsLen: args_len() -> length of the JSON arguments.
func (r *Runtime) hostArgsLen(ctx context.Context, mod api.Module, stack []uint64) {
	rs := stateFrom(ctx)
	if rs == nil {
		ret(stack, codeInvalid)
		return
	}
	ret(stack, int32(len(rs.args)))
}

// hostArgsRead: args_read(ptr, len) -> written | -4 | -5.
func (r *Runtime) hostArgsRead(ctx context.Context, mod api.Module, stack []uint64) {
	rs := stateFrom(ctx)
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	switch {
	case rs == nil || !checkRange(mod, ptr, n):
		ret(stack, codeInvalid)
	case int(n) < len(rs.args):
		ret(stack, codeTooSmall)
	case !write(mod, ptr, rs.args):
		ret(stack, codeInvalid)
	default:
		ret(stack, int32(len(rs.args)))
	}
}

// hostNowMS: now_ms() -> wall clock, milliseconds since the Unix epoch.
func (r *Runtime) hostNowMS(ctx context.Context, mod api.Module, stack []uint64) {
	stack[0] = api.EncodeI64(r.cfg.Clock().UnixMilli())
}

// newModuleConfig is the WASI set-up of one instance: stdout and stderr
// into the run's output, real clocks (the wall clock from Config.Clock), a
// sleep cut short by the run's deadline, crypto randomness; no arguments,
// no environment, no filesystem, empty stdin.
func (r *Runtime) newModuleConfig(in *instance, reactor bool) wazero.ModuleConfig {
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStdout(stdioWriter{in}).
		WithStderr(stdioWriter{in}).
		WithRandSource(rand.Reader).
		WithWalltime(func() (int64, int32) {
			t := r.cfg.Clock()
			return t.Unix(), int32(t.Nanosecond())
		}, 1).
		WithSysNanotime().
		WithNanosleep(in.nanosleep)
	if reactor {
		return mc.WithStartFunctions("_initialize")
	}
	return mc.WithStartFunctions()
}

// stdioWriter sends WASI stdout/stderr to the output of the run in
// progress on its instance.
type stdioWriter struct{ in *instance }

func (w stdioWriter) Write(p []byte) (int, error) {
	if rs := w.in.run; rs != nil {
		rs.writeStdio(p)
	}
	return len(p), nil
}
