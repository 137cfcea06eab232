package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ServerConfig configures a Server.
type ServerConfig struct {
	// MaxBodyBytes caps a request body (default 4 MiB).
	MaxBodyBytes int64
	// MaxBatch caps the number of calls in one batch (default 128).
	MaxBatch int
	// Logger receives handler panics (default slog.Default()).
	Logger *slog.Logger
	// Forward, when set, serves every well-formed request whose method is
	// not registered here: it gets the request object as received and
	// returns the answer object as is (nil for a notification). An edge
	// uses it to pass calls through to a server. Its errors are sent as
	// ToError maps them.
	Forward func(ctx context.Context, request []byte) ([]byte, error)
	// ForwardDiscover sends rpc.discover to Forward too: behind an edge
	// the API is the servers'.
	ForwardDiscover bool
	// DC is the datacenter of this server, and RemoteDC, when set, serves
	// every call to a method with a "dc" param naming another datacenter
	// (dc.go): it gets the request object as received and returns the
	// remote answer as is. Unset, such calls run here.
	DC       string
	RemoteDC func(ctx context.Context, dc string, request []byte) ([]byte, error)
}

// DefaultServerConfig returns the default configuration.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{MaxBodyBytes: 4 << 20, MaxBatch: 128}
}

// Validate reports a configuration NewServer cannot use. Zero values are
// valid and mean the defaults.
func (c ServerConfig) Validate() error {
	if c.MaxBodyBytes < 0 {
		return fmt.Errorf("rpc: MaxBodyBytes %d is negative", c.MaxBodyBytes)
	}
	if c.MaxBatch < 0 {
		return fmt.Errorf("rpc: MaxBatch %d is negative", c.MaxBatch)
	}
	return nil
}

// Server dispatches JSON-RPC 2.0 requests to the methods registered with
// Register. It is an http.Handler, and Handle serves a body without HTTP.
// It is safe for concurrent use, Register included.
type Server struct {
	cfg ServerConfig
	log *slog.Logger

	mu  sync.Mutex // serializes Register
	reg atomic.Pointer[registry]
}

// MethodInfo describes a registered method.
type MethodInfo struct {
	Name    string
	Summary string
	Params  reflect.Type // the struct type P of Register
	Result  reflect.Type // the type R of Register
}

// method is a registered method: its description and a call function that
// decodes params into the method's own type, with no reflection of ours.
type method struct {
	info    MethodInfo
	call    func(ctx context.Context, params []byte) (any, error)
	takesDC bool // its params have a "dc" member: ServerConfig.RemoteDC may serve it
}

// registry is an immutable snapshot of the methods. Register replaces it,
// so a call looks a method up without a lock.
type registry struct {
	byName map[string]*method

	docOnce sync.Once
	doc     json.RawMessage
	docErr  error
}

// NewServer returns a Server with rpc.discover registered. Zero fields of
// cfg take their defaults; it panics if cfg.Validate fails.
func NewServer(cfg ServerConfig) *Server {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	def := DefaultServerConfig()
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = def.MaxBodyBytes
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = def.MaxBatch
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.reg.Store(&registry{byName: map[string]*method{}})
	register(s, MethodDiscover, "Returns the OpenRPC document of this server.",
		func(ctx context.Context, _ *struct{}) (*json.RawMessage, error) {
			doc, err := s.reg.Load().document()
			if err != nil {
				return nil, err
			}
			return &doc, nil
		})
	return s
}

// Register adds the method name to s. Params arrive as one JSON object
// (by name), decoded strictly into a P, which must be a struct type; absent
// or null params give the zero P. An error returned by fn is sent as
// ToError maps it; a panic in fn is logged and sent as CodeInternal.
//
// Register panics if name is empty, taken, or starts with "rpc." (a prefix
// the JSON-RPC spec reserves), or if P is not a struct.
func Register[P, R any](s *Server, name, summary string, fn func(ctx context.Context, p *P) (*R, error)) {
	if strings.HasPrefix(name, "rpc.") {
		panic(fmt.Sprintf("rpc: method name %q: the rpc. prefix is reserved", name))
	}
	register(s, name, summary, fn)
}

func register[P, R any](s *Server, name, summary string, fn func(ctx context.Context, p *P) (*R, error)) {
	pt := reflect.TypeFor[P]()
	switch {
	case name == "":
		panic("rpc: empty method name")
	case fn == nil:
		panic(fmt.Sprintf("rpc: method %q: nil function", name))
	case pt.Kind() != reflect.Struct:
		panic(fmt.Sprintf("rpc: method %q: params type %v is not a struct", name, pt))
	}
	m := &method{
		info:    MethodInfo{Name: name, Summary: summary, Params: pt, Result: reflect.TypeFor[R]()},
		takesDC: takesDC(pt),
		call: func(ctx context.Context, raw []byte) (any, error) {
			p := new(P)
			if err := decodeParams(raw, p, pt); err != nil {
				return nil, err
			}
			r, err := fn(ctx, p)
			if err != nil {
				return nil, err
			}
			return r, nil
		},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.reg.Load().byName
	if _, dup := old[name]; dup {
		panic(fmt.Sprintf("rpc: method %q registered twice", name))
	}
	byName := make(map[string]*method, len(old)+1)
	for k, v := range old {
		byName[k] = v
	}
	byName[name] = m
	s.reg.Store(&registry{byName: byName})
}

// Methods lists the registered methods sorted by name.
func (s *Server) Methods() []MethodInfo {
	return s.reg.Load().methods()
}

func (r *registry) methods() []MethodInfo {
	out := make([]MethodInfo, 0, len(r.byName))
	for _, m := range r.byName {
		out = append(out, m.info)
	}
	slices.SortFunc(out, func(a, b MethodInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ServeHTTP serves JSON-RPC 2.0 over HTTP: POST only, with a JSON body.
// RPC errors travel with status 200; a body of only notifications gets 204.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "JSON-RPC needs POST", http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !acceptedContentType(ct) {
		http.Error(w, "Content-Type must be application/json (got "+ct+")", http.StatusUnsupportedMediaType)
		return
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		s.writeTooLarge(w)
		return
	}
	in := getBuf()
	defer putBuf(in)
	if r.ContentLength > 0 {
		// Sized by the declared length up to a point: a client announcing
		// 4 MiB and sending a byte now and then must not pin 4 MiB of
		// ours per connection; a larger body grows as its bytes arrive.
		in.b.Grow(int(min(r.ContentLength, presizeLimit)))
	}
	if _, err := in.b.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.writeTooLarge(w)
			return
		}
		http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}

	ctx := r.Context()
	if from := r.Header.Get(ForwardedHeader); from != "" {
		ctx = WithForwarded(ctx, from)
	}
	out := getBuf()
	defer putBuf(out)
	s.handle(ctx, in.b.Bytes(), out)
	if out.b.Len() == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, out.b.Bytes())
}

// presizeLimit is the most of a request's declared Content-Length
// ServeHTTP reserves before the bytes arrive.
const presizeLimit = 64 << 10

// writeTooLarge answers 413 with a JSON-RPC error naming the limit.
func (s *Server) writeTooLarge(w http.ResponseWriter) {
	out := getBuf()
	defer putBuf(out)
	writeError(out, nullID, s.tooLarge())
	writeJSON(w, http.StatusRequestEntityTooLarge, out.b.Bytes())
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client is gone: nothing to do
}

func (s *Server) tooLarge() *Error {
	return &Error{Code: CodeTooLarge, Message: fmt.Sprintf("request body exceeds the limit of %d bytes", s.cfg.MaxBodyBytes)}
}

// acceptedContentType accepts application/json with any parameters, and
// the defaults of plain clients (curl -d sends a form type, some send
// text/plain) so that the body decides: it must still be JSON. Other
// declared formats (XML, multipart) are refused.
func acceptedContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case "application/json", "application/x-www-form-urlencoded", "text/plain":
		return true
	}
	return false
}

// Handle serves one JSON-RPC body (a request or a batch) and returns the
// answer, or nil when there is nothing to send (only notifications). Each
// call runs with ctx.
func (s *Server) Handle(ctx context.Context, body []byte) (resp []byte) {
	out := getBuf()
	defer putBuf(out)
	s.handle(ctx, body, out)
	if out.b.Len() == 0 {
		return nil
	}
	return bytes.Clone(out.b.Bytes())
}

func (s *Server) handle(ctx context.Context, body []byte, out *buffer) {
	if int64(len(body)) > s.cfg.MaxBodyBytes {
		writeError(out, nullID, s.tooLarge())
		return
	}
	if !json.Valid(body) {
		writeError(out, nullID, parseError(body))
		return
	}
	b := trimValue(body)
	if b[0] == '[' {
		s.batch(ctx, b, out)
		return
	}
	req := s.parse(b)
	s.serve(ctx, &req, out)
}

func parseError(body []byte) *Error {
	var v json.RawMessage
	err := json.Unmarshal(body, &v)
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return &Error{Code: CodeParseError, Message: fmt.Sprintf("parse error at byte %d: %s", se.Offset, se.Error())}
	}
	return &Error{Code: CodeParseError, Message: "parse error"}
}

// parse reads one request and looks its method up.
func (s *Server) parse(b []byte) request {
	req := parseRequest(b)
	if req.err == nil {
		req.m = s.reg.Load().byName[string(req.method)]
		if s.cfg.Forward != nil && s.cfg.ForwardDiscover && string(req.method) == MethodDiscover {
			// Behind a forwarding front (an edge) the API is the servers':
			// their document lists every method, the agent's included.
			req.m = nil
		}
	}
	return req
}

// batch serves a batch: the calls run concurrently, the answers keep the
// order of the requests.
func (s *Server) batch(ctx context.Context, b []byte, out *buffer) {
	var reqs []request
	for e := range elements(b) {
		if len(reqs) == s.cfg.MaxBatch {
			writeError(out, nullID, &Error{Code: CodeTooLarge,
				Message: fmt.Sprintf("batch exceeds the limit of %d calls", s.cfg.MaxBatch)})
			return
		}
		reqs = append(reqs, s.parse(e))
	}
	if len(reqs) == 0 {
		writeError(out, nullID, invalidRequest("empty batch"))
		return
	}
	answers := make([]*buffer, len(reqs))
	inline := -1 // the last call runs here, on a stack already grown
	var wg sync.WaitGroup
	for i := range reqs {
		answers[i] = getBuf()
		if reqs[i].m == nil && (s.cfg.Forward == nil || reqs[i].err != nil) {
			s.serve(ctx, &reqs[i], answers[i]) // an error: nothing to wait for
			continue
		}
		if inline >= 0 {
			j := inline
			wg.Go(func() { s.serve(ctx, &reqs[j], answers[j]) })
		}
		inline = i
	}
	if inline >= 0 {
		s.serve(ctx, &reqs[inline], answers[inline])
	}
	wg.Wait()
	n := 0
	for _, a := range answers {
		if a.b.Len() > 0 {
			if n == 0 {
				out.b.WriteByte('[')
			} else {
				out.b.WriteByte(',')
			}
			out.b.Write(a.b.Bytes())
			n++
		}
		putBuf(a)
	}
	if n > 0 {
		out.b.WriteByte(']')
	}
}

// serve runs one request and writes its answer, if it gets one, to out.
func (s *Server) serve(ctx context.Context, req *request, out *buffer) {
	if req.err != nil {
		writeError(out, req.answerID(), req.err)
		return
	}
	if req.m == nil && s.cfg.Forward != nil {
		s.forward(ctx, req, out)
		return
	}
	if req.m == nil {
		if !req.notification() {
			writeError(out, req.id, ToError(fmt.Errorf("%w: %s", ErrMethodNotFound, quoteName(req.method))))
		}
		return
	}
	if dc := s.remoteDC(req); dc != "" {
		s.forwardDC(ctx, dc, req, out)
		return
	}
	start := out.b.Len()
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("rpc: method panicked", "method", req.m.info.Name, "panic", v, "stack", string(debug.Stack()))
			out.b.Truncate(start)
			if !req.notification() {
				writeError(out, req.id, &Error{Code: CodeInternal, Message: "internal error"})
			}
		}
	}()
	res, err := req.m.call(ctx, req.params)
	if req.notification() {
		return
	}
	if err != nil {
		writeError(out, req.id, ToError(err))
		return
	}
	out.b.WriteString(`{"jsonrpc":"2.0","result":`)
	if err := out.enc.Encode(res); err != nil {
		out.b.Truncate(start)
		writeError(out, req.id, &Error{Code: CodeInternal, Message: "encoding the result: " + err.Error()})
		return
	}
	out.b.Truncate(out.b.Len() - 1) // Encode's newline
	out.b.WriteString(`,"id":`)
	out.b.Write(req.id)
	out.b.WriteByte('}')
}

// forward passes a request this server has no method for to cfg.Forward.
func (s *Server) forward(ctx context.Context, req *request, out *buffer) {
	resp, err := s.cfg.Forward(ctx, req.raw)
	writeForwarded(out, req, resp, err)
}

// writeForwarded writes the answer a forwarded req got, or its error,
// unless req is a notification.
func writeForwarded(out *buffer, req *request, resp []byte, err error) {
	if req.notification() {
		return
	}
	if err != nil {
		writeError(out, req.id, ToError(err))
		return
	}
	out.b.Write(resp)
}

// quoteName quotes a method name for an error message, cut to a sane size.
func quoteName(name []byte) string {
	const max = 128
	if len(name) > max {
		return strconv.Quote(string(name[:max])) + "..."
	}
	return strconv.Quote(string(name))
}

func writeError(out *buffer, id []byte, e *Error) {
	out.b.WriteString(`{"jsonrpc":"2.0","error":`)
	if err := out.enc.Encode(e); err != nil { // cannot happen: *Error is plain data
		out.b.WriteString(`{"code":-32603,"message":"internal error"}` + "\n")
	}
	out.b.Truncate(out.b.Len() - 1)
	out.b.WriteString(`,"id":`)
	out.b.Write(id)
	out.b.WriteByte('}')
}

// buffer is a pooled byte buffer with a JSON encoder that writes into it.
type buffer struct {
	b   bytes.Buffer
	enc *json.Encoder
}

var bufPool = sync.Pool{New: func() any {
	b := new(buffer)
	b.enc = json.NewEncoder(&b.b)
	b.enc.SetEscapeHTML(false)
	return b
}}

func getBuf() *buffer { return bufPool.Get().(*buffer) }

// putBuf recycles b unless it grew large, so one huge body does not pin
// memory in the pool.
func putBuf(b *buffer) {
	if b.b.Cap() > 1<<20 {
		return
	}
	b.b.Reset()
	bufPool.Put(b)
}

var _ http.Handler = (*Server)(nil)
