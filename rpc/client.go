package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// Addrs are the servers, "host:port" (path /rpc) or a full URL. A call
	// goes to one of them and moves to the next on a connection error.
	Addrs []string
	// HTTPClient is used as is when set. By default the Client owns a
	// transport tuned for many concurrent calls to few hosts.
	HTTPClient *http.Client
	// Timeout bounds each call, or each attempt of CallRetry; 0 leaves it
	// to the context. A blocking read gets its wait on top (HoldFor).
	Timeout time.Duration
	// RouteToLeaders sends calls on one key (kv.get, kv.put, kv.delete,
	// and kv.list of one folder) to the leader of the key's shard, learnt
	// from status.shards every few seconds, instead of any server: the
	// leader serves them without a hop through a follower. Other calls, and
	// any call while the leader is unknown or unreachable, go to Addrs.
	RouteToLeaders bool
	// Coalesce, when above 0, is the most HTTP requests in flight to one
	// address; calls made while they are all out wait and leave together
	// as one JSON-RPC batch when one returns (coalesce.go). Blocking reads
	// (ReadOptions.Index set) always go alone. 0: every call is its own
	// request.
	Coalesce int
	// Header is added to every request (e.g. ForwardedHeader).
	Header http.Header
}

// DefaultClientConfig returns a configuration for the local agent.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{Addrs: []string{"127.0.0.1:7500"}}
}

// Validate reports a configuration NewClient cannot use.
func (c ClientConfig) Validate() error {
	if len(c.Addrs) == 0 {
		return errors.New("rpc: no address given")
	}
	for _, a := range c.Addrs {
		if _, err := endpoint(a); err != nil {
			return err
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("rpc: Timeout %v is negative", c.Timeout)
	}
	if c.Coalesce < 0 {
		return fmt.Errorf("rpc: Coalesce %d is negative", c.Coalesce)
	}
	return nil
}

// endpoint turns "host:port" or a URL into the URL to post to.
func endpoint(addr string) (string, error) {
	raw := addr
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("rpc: address %q: %w", addr, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("rpc: address %q: want host:port or an http(s) URL", addr)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/rpc"
	}
	return u.String(), nil
}

// Client calls a Meridian JSON-RPC server. It is safe for concurrent use.
type Client struct {
	urls      atomic.Pointer[[]string]
	hc        *http.Client
	transport *h1Transport // ours to close; nil with cfg.HTTPClient
	timeout   time.Duration

	ids    atomic.Uint64
	pref   atomic.Uint32 // index of the address to try first
	closed atomic.Bool
	router *router // nil unless RouteToLeaders

	coalesce  int
	header    http.Header // ClientConfig.Header
	rawHeader []byte      // header as request lines, for the lean path
	lanes     sync.Map    // url -> *lane
}

// NewClient returns a Client for cfg.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{timeout: cfg.Timeout, hc: cfg.HTTPClient, coalesce: cfg.Coalesce, header: cfg.Header.Clone(),
		rawHeader: formatHeader(cfg.Header)}
	if err := c.SetAddrs(cfg.Addrs); err != nil {
		return nil, err
	}
	if cfg.RouteToLeaders {
		c.router = &router{c: c}
	}
	if c.hc == nil {
		c.transport = newH1Transport(newTransport())
		c.hc = &http.Client{Transport: c.transport}
	}
	return c, nil
}

// Connection settings shared by the Client's two transports: plenty of
// idle keep-alive connections per host (many concurrent callers, few
// hosts), closed after idleTimeout, under the servers' 2 min idle timeout.
var dialer = net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}

const (
	maxIdlePerHost = 1024
	idleTimeout    = 90 * time.Second
)

// newTransport carries the Client's https calls (plain HTTP goes through
// h1Transport): no proxy (this is cluster traffic), and no response-header
// timeout, since blocking reads may wait minutes.
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0, // no overall cap
		MaxIdleConnsPerHost:   maxIdlePerHost,
		IdleConnTimeout:       idleTimeout,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// SetAddrs replaces the addresses calls go to (an edge learns them from
// gossip). Calls in flight finish on the old list.
func (c *Client) SetAddrs(addrs []string) error {
	if len(addrs) == 0 {
		return errors.New("rpc: no address given")
	}
	urls := make([]string, 0, len(addrs))
	for _, a := range addrs {
		u, err := endpoint(a)
		if err != nil {
			return err
		}
		urls = append(urls, u)
	}
	c.urls.Store(&urls)
	return nil
}

// Addrs returns the URLs calls go to.
func (c *Client) Addrs() []string { return *c.urls.Load() }

// Close releases idle connections; calls made after it fail. It is safe
// to call twice.
func (c *Client) Close() {
	c.closed.Store(true)
	if c.transport != nil {
		c.transport.close()
	}
}

// maxResponseBytes caps the answer the client will read.
const maxResponseBytes = 256 << 20

// Call calls method with params (encoded as the JSON object of params;
// nil sends none) and decodes the result into result, a pointer (nil
// discards it). A failed dial moves the call to the next address, within
// ctx (any later connection error is returned: the call may have run); when none answers, the error matches ErrUnavailable. An
// error the server sent back is returned as an *Error, so errors.Is works
// against the sentinels (ErrNoLeader, ...). Call does not retry those: see
// CallRetry.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	if c.closed.Load() {
		return fmt.Errorf("rpc: client closed: %w", net.ErrClosed)
	}
	if result != nil {
		if v := reflect.ValueOf(result); v.Kind() != reflect.Pointer || v.IsNil() {
			return fmt.Errorf("rpc: result must be a non-nil pointer, not %T", result)
		}
	}
	id := c.ids.Add(1)
	body, err := encodeCall(method, params, id)
	if err != nil {
		return err
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout+HoldFor(params))
		defer cancel()
	}
	post := c.post
	if c.coalesce > 0 && !isBlockingRead(params) {
		post = c.postCoalesced
	}
	return c.each(ctx, c.leaderOf(method, params), func(url string) error { return post(ctx, url, body, id, result) })
}

// isBlockingRead reports a read that waits for a change, up to minutes.
// It is never coalesced: it would hold one of its address's request slots,
// and the answer of every call batched with it, that long.
func isBlockingRead(params any) bool {
	b, ok := params.(interface{ blockingRead() bool })
	return ok && b.blockingRead()
}

// leaderOf returns the URL of the leader that should serve a call, "" when
// any server will do or routing is off.
func (c *Client) leaderOf(method string, params any) string {
	if c.router == nil {
		return ""
	}
	var key, dc string
	prefix := false
	switch p := params.(type) {
	case *KVGetParams:
		key, dc = p.Key, p.DC
	case *KVPutParams:
		key, dc = p.Key, p.DC
	case *KVDeleteParams:
		key, prefix, dc = p.Key, p.Recurse, p.DC
	case *KVListParams:
		key, prefix, dc = p.Prefix, true, p.DC
	case KVGetParams:
		key, dc = p.Key, p.DC
	case KVPutParams:
		key, dc = p.Key, p.DC
	case KVDeleteParams:
		key, prefix, dc = p.Key, p.Recurse, p.DC
	case KVListParams:
		key, prefix, dc = p.Prefix, true, p.DC
	default:
		return ""
	}
	// The leader table is of the local datacenter: a call naming one
	// (perhaps another) goes to any server, which forwards it.
	if _, ok := routedMethods[method]; !ok || key == "" || dc != "" {
		return ""
	}
	return c.router.leaderFor(key, prefix)
}

// leaderOfBody is leaderOf for a raw request body (Forward): it reads the
// method and the key from the envelope without decoding the rest.
func (c *Client) leaderOfBody(body []byte) string {
	if c.router == nil {
		return ""
	}
	b := trimValue(body)
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return ""
	}
	req := parseRequest(b)
	field, ok := routedMethods[string(req.method)]
	if req.err != nil || !ok || len(req.params) == 0 || req.params[0] != '{' {
		return ""
	}
	var key string
	recurse := false
	for k, v := range members(req.params) {
		switch string(k) {
		case field:
			if len(v) > 0 && v[0] == '"' {
				key = unquote(v)
			}
		case "recurse":
			recurse = string(v) == "true"
		case "dc":
			if string(v) != `""` && string(v) != "null" {
				return "" // see leaderOf
			}
		}
	}
	if key == "" {
		return ""
	}
	return c.router.leaderFor(key, field == "prefix" || recurse)
}

// each runs try on one address after another, starting with first (a
// shard leader, when routing knows it) and then the preferred one, until
// one answers or fails after the request went out.
func (c *Client) each(ctx context.Context, leader string, try func(url string) error) error {
	if leader != "" {
		err := try(leader)
		if err == nil || !failover(ctx, err) {
			if _, ok := errors.AsType[*transportError](err); ok && ctx.Err() == nil {
				c.router.miss()
				return fmt.Errorf("rpc: %w: no answer could be read from %s after the request was sent, so the call may or may not have run: %w", ErrUnavailable, leader, err)
			}
			return err
		}
		c.router.miss() // that leader is gone: look again
	}
	urls := *c.urls.Load()
	n := len(urls)
	start := int(c.pref.Load()) % n
	var last error
	for k := range n {
		i := (start + k) % n
		err := try(urls[i])
		if err == nil {
			return nil
		}
		if !failover(ctx, err) {
			if _, ok := errors.AsType[*transportError](err); ok && ctx.Err() == nil {
				return fmt.Errorf("rpc: %w: no answer could be read from %s after the request was sent, so the call may or may not have run: %w", ErrUnavailable, urls[i], err)
			}
			return err
		}
		last = err
		c.pref.CompareAndSwap(uint32(i), uint32((i+1)%n)) // stop trying a dead one first
	}
	return fmt.Errorf("rpc: %w: no answer from %d address(es); last: %w", ErrUnavailable, n, last)
}

// bodyHold is HoldFor of a JSON-RPC body's params; of a batch, the
// longest of its calls'.
func bodyHold(body []byte) time.Duration {
	type call struct {
		Params json.RawMessage `json:"params"`
	}
	var one call
	if json.Unmarshal(body, &one) == nil {
		return HoldFor(one.Params)
	}
	var batch []call
	_ = json.Unmarshal(body, &batch) // a bad body is the server's to report
	var d time.Duration
	for _, c := range batch {
		d = max(d, HoldFor(c.Params))
	}
	return d
}

// Forward posts a JSON-RPC body (a request or a batch) as is and returns
// the answer as is, nil when there is none (only notifications). It moves
// to the next address on a failed dial, as Call does; JSON-RPC errors are
// in the answer, not returned.
func (c *Client) Forward(ctx context.Context, body []byte) ([]byte, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("rpc: client closed: %w", net.ErrClosed)
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout+bodyHold(body))
		defer cancel()
	}
	var out []byte
	err := c.each(ctx, c.leaderOfBody(body), func(url string) error {
		a, err := c.send(ctx, url, body, maxResponseBytes)
		if err != nil {
			return err
		}
		switch a.status {
		case http.StatusNoContent:
			return nil
		case http.StatusOK, http.StatusRequestEntityTooLarge:
			out = a.body
			return nil
		}
		return fmt.Errorf("rpc: %s: HTTP %s: %s: %w", url, a.statusLine, snippet(a.body), ErrUnavailable)
	})
	return out, err
}

// CallRetry is Call that also retries errors worth a retry (Error.Retryable,
// no server reachable, an attempt's Timeout) with capped exponential backoff
// (10ms to 500ms, jittered) until ctx is done. A write that timed out may
// have been applied: retry writes only when they are idempotent or guarded
// by an index (cas).
func (c *Client) CallRetry(ctx context.Context, method string, params, result any) error {
	wait := 10 * time.Millisecond
	var last error // the last error worth a retry
	for {
		err := c.Call(ctx, method, params, result)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return giveUp(ctx, last, err)
		case !retryable(err):
			return err
		}
		last = err
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return giveUp(ctx, last, err)
		case <-t.C:
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// giveUp says why CallRetry stopped: the last retryable error, and the end
// of the context; both match with errors.Is.
func giveUp(ctx context.Context, last, err error) error {
	if last == nil {
		return err
	}
	return fmt.Errorf("%w (gave up: %w)", last, context.Cause(ctx))
}

func retryable(err error) bool {
	if re, ok := errors.AsType[*Error](err); ok {
		return re.Retryable()
	}
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// transportError is an error of the HTTP round trip itself: no answer came.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// failover reports whether err means the request never reached that
// server, so the next address may be tried: only a failed dial. A reset or
// EOF after the request went out may hide a call that ran; sending it again
// elsewhere could apply a write twice, so that error is returned instead.
func failover(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if _, ok := errors.AsType[*transportError](err); !ok {
		return false
	}
	op, ok := errors.AsType[*net.OpError](err)
	return ok && op.Op == "dial"
}

// encodeCall writes the request object.
func encodeCall(method string, params any, id uint64) ([]byte, error) {
	buf := getBuf()
	defer putBuf(buf)
	buf.b.WriteString(`{"jsonrpc":"2.0","method":`)
	if err := buf.enc.Encode(method); err != nil {
		return nil, fmt.Errorf("rpc: encoding method name: %w", err)
	}
	buf.b.Truncate(buf.b.Len() - 1)
	if params != nil {
		buf.b.WriteString(`,"params":`)
		if err := buf.enc.Encode(params); err != nil {
			return nil, fmt.Errorf("rpc: encoding params of %s: %w", method, err)
		}
		buf.b.Truncate(buf.b.Len() - 1)
	}
	buf.b.WriteString(`,"id":`)
	buf.b.Write(strconv.AppendUint(nil, id, 10))
	buf.b.WriteByte('}')
	// The transport may read the body after Do returns: it gets its own
	// copy, not the pooled buffer.
	return bytes.Clone(buf.b.Bytes()), nil
}

// newRequest is a POST of a JSON-RPC body to url.
func (c *Client) newRequest(ctx context.Context, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("rpc: %w", err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// response is the answer to one call; Result holds the caller's pointer so
// the result is decoded in place, in one pass.
type response struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  any             `json:"result"`
	Error   *Error          `json:"error"`
	ID      json.RawMessage `json:"id"`
}

func (c *Client) post(ctx context.Context, url string, body []byte, id uint64, result any) error {
	a, err := c.send(ctx, url, body, maxResponseBytes)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK && !(a.status == http.StatusRequestEntityTooLarge && a.isJSON()) {
		return fmt.Errorf("rpc: %s: HTTP %s: %s", url, a.statusLine, snippet(a.body))
	}
	if fr, ok := result.(fastResult); ok && a.status == http.StatusOK && fastAnswer(a.body, id, fr) {
		return nil
	}
	var discard json.RawMessage
	r := response{Result: result}
	if result == nil {
		r.Result = &discard
	}
	if err := json.Unmarshal(a.body, &r); err != nil {
		return fmt.Errorf("rpc: %s: decoding the answer: %w", url, err)
	}
	switch {
	case r.JSONRPC != "2.0":
		return fmt.Errorf("rpc: %s: the answer is not JSON-RPC 2.0", url)
	case r.Error != nil:
		return r.Error
	case string(r.ID) != strconv.FormatUint(id, 10):
		return fmt.Errorf("rpc: %s: answer id %s, want %d", url, r.ID, id)
	}
	return nil
}

// snippet is the start of an unexpected answer's body, for an error.
func snippet(body []byte) []byte {
	return bytes.TrimSpace(body[:min(len(body), 256)])
}

// call is the typed form of Call used by the wrappers below.
func call[R any](ctx context.Context, c *Client, method string, params any) (*R, error) {
	r := new(R)
	if err := c.Call(ctx, method, params, r); err != nil {
		return nil, err
	}
	return r, nil
}

// KVGet reads one key; the answer's Entry is nil when the key is absent.
func (c *Client) KVGet(ctx context.Context, p *KVGetParams) (*KVGetResult, error) {
	return call[KVGetResult](ctx, c, MethodKVGet, p)
}

// KVPut writes one key.
func (c *Client) KVPut(ctx context.Context, p *KVPutParams) (*KVPutResult, error) {
	return call[KVPutResult](ctx, c, MethodKVPut, p)
}

// KVList lists the keys under a prefix.
func (c *Client) KVList(ctx context.Context, p *KVListParams) (*KVListResult, error) {
	return call[KVListResult](ctx, c, MethodKVList, p)
}

// KVDelete deletes a key, or a prefix with Recurse.
func (c *Client) KVDelete(ctx context.Context, p *KVDeleteParams) (*KVDeleteResult, error) {
	return call[KVDeleteResult](ctx, c, MethodKVDelete, p)
}

// KVTxn applies up to MaxTxnOps operations atomically.
func (c *Client) KVTxn(ctx context.Context, p *KVTxnParams) (*KVTxnResult, error) {
	return call[KVTxnResult](ctx, c, MethodKVTxn, p)
}

// StatusLeader names the system shard's leader; p may be nil.
func (c *Client) StatusLeader(ctx context.Context, p *EmptyParams) (*StatusLeaderResult, error) {
	return call[StatusLeaderResult](ctx, c, MethodStatusLeader, p)
}

// StatusPeers lists the Raft peers; p may be nil.
func (c *Client) StatusPeers(ctx context.Context, p *EmptyParams) (*StatusPeersResult, error) {
	return call[StatusPeersResult](ctx, c, MethodStatusPeers, p)
}

// StatusShards describes the shards of the node that answers; p may be nil.
func (c *Client) StatusShards(ctx context.Context, p *EmptyParams) (*StatusShardsResult, error) {
	return call[StatusShardsResult](ctx, c, MethodStatusShards, p)
}

// Discover returns the server's OpenRPC document.
func (c *Client) Discover(ctx context.Context) (json.RawMessage, error) {
	var doc json.RawMessage
	if err := c.Call(ctx, MethodDiscover, nil, &doc); err != nil {
		return nil, err
	}
	return doc, nil
}
