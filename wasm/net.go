package wasm

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
)

var (
	errDenied   = errors.New("not granted")
	errNetLimit = errors.New("network byte limit reached")
)

// newHTTPClient returns the client of http_request: no proxy, no
// keep-alive (a connection belongs to one run and counts against its
// budget), no HTTP/2, no transparent decompression, redirects followed
// only to granted URLs, and a dialer that refuses any address no URL
// grant of the run names.
func (r *Runtime) newHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            r.dialHTTP,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		ForceAttemptHTTP2:      false,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
		TLSHandshakeTimeout:    10 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			rs := stateFrom(req.Context())
			if rs == nil {
				return errDenied
			}
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			if ok, why := rs.grants.allowURL(req.URL); !ok {
				rs.refuse("http_request redirect to", displayURL(req.URL), why)
				return errDenied
			}
			return nil
		},
	}
}

func (r *Runtime) dialHTTP(ctx context.Context, network, addr string) (net.Conn, error) {
	rs := stateFrom(ctx)
	if rs == nil || !rs.grants.allowHTTPDial(addr) {
		if rs != nil {
			rs.refuse("http_request dial", addr, "not granted")
		}
		return nil, errDenied
	}
	// The transport detaches the dial from the request's cancellation;
	// keep it within the run's deadline.
	if dl, ok := rs.ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	c, err := r.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, rs: rs}, nil
}

// countingConn counts the bytes read against the run's network budget and
// fails reads once it is spent.
type countingConn struct {
	net.Conn
	rs *runState
}

func (c *countingConn) Read(p []byte) (int, error) {
	rem := c.rs.netRemaining()
	if rem <= 0 {
		return 0, errNetLimit
	}
	if int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := c.Conn.Read(p)
	c.rs.netBytes.Add(int64(n))
	return n, err
}

// code maps a network error to an ABI result.
func (rs *runState) code(ctx context.Context, err error) int32 {
	var ne net.Error
	switch {
	case errors.Is(err, errDenied):
		return codeDenied
	case errors.Is(err, errNetLimit) || rs.netRemaining() <= 0:
		return codeLimit
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return codeTimeout
	default:
		return codeNetwork
	}
}

// failed notes a failed network call and returns its code.
func (rs *runState) failed(ctx context.Context, call, target string, err error) int32 {
	c := rs.code(ctx, err)
	switch c {
	case codeDenied: // noted by refuse
	case codeLimit:
		rs.note("%s %s: network byte limit of %d bytes reached", call, target, rs.lim.MaxNetworkBytes)
	case codeTimeout:
		rs.note("%s %s: timed out", call, target)
	default:
		rs.note("%s %s failed: %v", call, target, err)
	}
	return c
}

// displayURL is a URL without its query, user info or fragment, for notes.
func displayURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// httpRequest is the JSON request of http_request.
type httpRequest struct {
	Method         string            `json:"method"`
	URL            string            `json:"url"`
	Headers        map[string]string `json:"headers"`
	Body           string            `json:"body"`
	BodyBase64     string            `json:"body_base64"`
	TimeoutMS      int64             `json:"timeout_ms"`
	ResponseBase64 bool              `json:"response_base64"`
}

// hostHTTPRequest: http_request(req_ptr, req_len, resp_ptr, resp_cap) ->
// written | -1 | -2 | -3 | -4 | -5 | -6.
func (r *Runtime) hostHTTPRequest(ctx context.Context, mod api.Module, stack []uint64) {
	rs := stateFrom(ctx)
	reqPtr, reqLen := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	respPtr, respCap := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	raw, ok := read(mod, reqPtr, reqLen)
	if rs == nil || !ok || reqLen > maxRequestJSON || !checkRange(mod, respPtr, respCap) {
		ret(stack, codeInvalid)
		return
	}
	if respCap < minHTTPResponse {
		rs.note("http_request: response buffer of %d bytes is too small (at least %d)", respCap, minHTTPResponse)
		ret(stack, codeTooSmall)
		return
	}
	var req httpRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		rs.note("http_request: bad request JSON: %v", err)
		ret(stack, codeInvalid)
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil || !u.IsAbs() {
		rs.note("http_request: bad url %q", req.URL)
		ret(stack, codeInvalid)
		return
	}
	if ok, why := rs.grants.allowURL(u); !ok {
		rs.refuse("http_request", displayURL(u), why)
		ret(stack, codeDenied)
		return
	}
	body := []byte(req.Body)
	if req.BodyBase64 != "" {
		if req.Body != "" {
			rs.note("http_request: both body and body_base64")
			ret(stack, codeInvalid)
			return
		}
		if body, err = base64.StdEncoding.DecodeString(req.BodyBase64); err != nil {
			rs.note("http_request: bad body_base64: %v", err)
			ret(stack, codeInvalid)
			return
		}
	}
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	if req.TimeoutMS < 0 {
		rs.note("http_request: negative timeout_ms")
		ret(stack, codeInvalid)
		return
	}
	cctx, cancel := rs.callContext(req.TimeoutMS)
	defer cancel()
	hreq, err := http.NewRequestWithContext(cctx, req.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		rs.note("http_request: %v", err)
		ret(stack, codeInvalid)
		return
	}
	hreq.Header.Set("User-Agent", "meridian-wasm-check/1")
	for k, v := range req.Headers {
		hreq.Header.Set(k, v)
	}
	target := req.Method + " " + displayURL(u)
	resp, err := r.http.Do(hreq)
	if err != nil {
		ret(stack, rs.failed(cctx, "http_request", target, err))
		return
	}
	defer resp.Body.Close()
	rbody, err := io.ReadAll(io.LimitReader(resp.Body, int64(respCap)+1))
	if err != nil {
		ret(stack, rs.failed(cctx, "http_request", target, err))
		return
	}
	out := encodeHTTPResponse(resp.StatusCode, resp.Header, rbody, req.ResponseBase64, int(respCap))
	if !write(mod, respPtr, out) {
		ret(stack, codeInvalid)
		return
	}
	ret(stack, int32(len(out)))
}

// encodeHTTPResponse writes the response JSON in at most limit bytes
// (limit >= minHTTPResponse): the body is cut to fit, and then the headers
// dropped, with "truncated": true.
func encodeHTTPResponse(status int, h http.Header, body []byte, b64 bool, limit int) []byte {
	hs := make(map[string]string, len(h))
	for k, v := range h {
		hs[k] = strings.Join(v, ", ")
	}
	hj, err := json.Marshal(hs)
	if err != nil {
		hj = []byte("{}")
	}
	key := "body"
	if b64 {
		key = "body_base64"
	}
	bodyLen := base64.StdEncoding.EncodedLen(len(body))
	if !b64 {
		bodyLen = jsonStringLen(body)
	}
	head := func(headers []byte, truncated bool) []byte {
		b := make([]byte, 0, min(limit, len(headers)+bodyLen+80))
		b = append(b, `{"status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, `,"headers":`...)
		b = append(b, headers...)
		b = append(b, `,"truncated":`...)
		b = strconv.AppendBool(b, truncated)
		b = append(b, `,"`...)
		b = append(b, key...)
		return append(b, `":"`...)
	}
	const tail = `"}`
	if b := head(hj, false); len(b)+bodyLen+len(tail) <= limit {
		return append(appendBody(b, body, b64, bodyLen), tail...)
	}
	b := head(hj, true)
	if len(b)+len(tail) > limit {
		b = head([]byte("{}"), true)
	}
	return append(appendBody(b, body, b64, limit-len(b)-len(tail)), tail...)
}

// appendBody appends as much of the body as fits in room bytes of JSON.
func appendBody(dst, body []byte, b64 bool, room int) []byte {
	if b64 {
		n := min(len(body), room/4*3)
		return base64.StdEncoding.AppendEncode(dst, body[:n])
	}
	return appendJSONString(dst, body, room)
}

// jsonStringLen is the length of s escaped as the inside of a JSON string.
func jsonStringLen(s []byte) int {
	n := 0
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		n += escapedLen(r, size)
		s = s[size:]
	}
	return n
}

func escapedLen(r rune, size int) int {
	switch {
	case r == utf8.RuneError && size == 1:
		return 6 // \ufffd
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20:
		return 6
	default:
		return size
	}
}

// appendJSONString appends s escaped as the inside of a JSON string, in
// at most room bytes, stopping before a character that would not fit.
func appendJSONString(dst, s []byte, room int) []byte {
	const hex = "0123456789abcdef"
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		n := escapedLen(r, size)
		if n > room {
			break
		}
		room -= n
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			dst = append(dst, s[:size]...)
		}
		s = s[size:]
	}
	return dst
}

// hostTCPConnect: tcp_connect(addr_ptr, addr_len, send_ptr, send_len,
// recv_ptr, recv_cap, timeout_ms) -> received | -1 | -2 | -3 | -5 | -6.
func (r *Runtime) hostTCPConnect(ctx context.Context, mod api.Module, stack []uint64) {
	rs := stateFrom(ctx)
	rawAddr, ok1 := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	send, ok2 := read(mod, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	recvPtr, recvCap := api.DecodeU32(stack[4]), api.DecodeU32(stack[5])
	timeoutMS := api.DecodeI32(stack[6])
	if rs == nil || !ok1 || !ok2 || !checkRange(mod, recvPtr, recvCap) || timeoutMS < 0 {
		ret(stack, codeInvalid)
		return
	}
	addr := string(rawAddr)
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		if host, err = hostName(host); err == nil {
			port, err = portPattern(port)
		}
	}
	if err != nil || port == "*" {
		rs.note("tcp_connect: bad address %q", addr)
		ret(stack, codeInvalid)
		return
	}
	addr = net.JoinHostPort(host, port)
	if !rs.grants.allowTCP(host, port) {
		rs.refuse("tcp_connect", addr, "not granted")
		ret(stack, codeDenied)
		return
	}
	if recvCap > 0 && rs.netRemaining() <= 0 {
		ret(stack, rs.failed(ctx, "tcp_connect", addr, errNetLimit))
		return
	}
	send = bytes.Clone(send)
	cctx, cancel := rs.callContext(int64(timeoutMS))
	defer cancel()
	conn, err := r.dialer.DialContext(cctx, "tcp", addr)
	if err != nil {
		ret(stack, rs.failed(cctx, "tcp_connect", addr, err))
		return
	}
	defer conn.Close()
	stop := context.AfterFunc(cctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if len(send) > 0 {
		if _, err := conn.Write(send); err != nil {
			ret(stack, rs.failed(cctx, "tcp_connect", addr, err))
			return
		}
	}
	if recvCap == 0 {
		ret(stack, 0)
		return
	}
	buf := make([]byte, min(int64(recvCap), rs.netRemaining(), 1<<20))
	n, err := conn.Read(buf)
	rs.netBytes.Add(int64(n))
	if n == 0 && err != nil && err != io.EOF {
		ret(stack, rs.failed(cctx, "tcp_connect", addr, err))
		return
	}
	if !write(mod, recvPtr, buf[:n]) {
		ret(stack, codeInvalid)
		return
	}
	ret(stack, int32(n))
}

// hostDNSLookup: dns_lookup(name_ptr, name_len, out_ptr, out_cap) ->
// written | -1 | -2 | -3 | -4 | -5 | -6. The answer is a JSON array of
// the A and AAAA addresses, as many as fit.
func (r *Runtime) hostDNSLookup(ctx context.Context, mod api.Module, stack []uint64) {
	rs := stateFrom(ctx)
	rawName, ok := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	outPtr, outCap := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	if rs == nil || !ok || !checkRange(mod, outPtr, outCap) {
		ret(stack, codeInvalid)
		return
	}
	name, err := hostName(string(rawName))
	if err != nil {
		rs.note("dns_lookup: bad name %q", rawName)
		ret(stack, codeInvalid)
		return
	}
	if outCap < 2 {
		ret(stack, codeTooSmall)
		return
	}
	if !rs.grants.allowDNS(name) {
		rs.refuse("dns_lookup", name, "not granted")
		ret(stack, codeDenied)
		return
	}
	cctx, cancel := rs.callContext(0)
	defer cancel()
	addrs, err := r.resolver.LookupIPAddr(cctx, name)
	if err != nil {
		ret(stack, rs.failed(cctx, "dns_lookup", name, err))
		return
	}
	out := make([]byte, 0, outCap)
	out = append(out, '[')
	for _, a := range addrs {
		s := strconv.Quote(a.String())
		sep := 0
		if len(out) > 1 {
			sep = 1
		}
		if len(out)+sep+len(s)+1 > int(outCap) {
			break
		}
		if sep == 1 {
			out = append(out, ',')
		}
		out = append(out, s...)
	}
	out = append(out, ']')
	if int64(len(out)) > rs.netRemaining() {
		ret(stack, rs.failed(cctx, "dns_lookup", name, errNetLimit))
		return
	}
	rs.netBytes.Add(int64(len(out)))
	if !write(mod, outPtr, out) {
		ret(stack, codeInvalid)
		return
	}
	ret(stack, int32(len(out)))
}
