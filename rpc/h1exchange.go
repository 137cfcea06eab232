package rpc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
)

// The lean path of a call over plain HTTP/1.1: the Client writes the
// request's bytes itself and reads the answer's status line, the four
// headers it uses and the body, with no http.Request, http.Response,
// header maps or body readers in between. With fastdecode.go this took a
// quarter off a call's cost (BenchmarkClientKVGet: 0.75x the ns/op, 30
// allocations instead of 79; docs/performance.md). Anything the lean path
// does not handle (https, a caller's own HTTPClient, a URL with user info,
// an httptrace in the context) goes through http.Client as before.

// answer is an HTTP answer read to its end.
type answer struct {
	status      int
	statusLine  string // e.g. "413 Request Entity Too Large", for errors
	contentType string
	body        []byte
}

// isJSON reports an application/json answer, parameters allowed.
func (a *answer) isJSON() bool {
	mt, _, _ := strings.Cut(a.contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

// errAnswer is a malformed answer.
type errAnswer string

func (e errAnswer) Error() string { return "rpc: malformed HTTP answer: " + string(e) }

// exchange posts req, a whole HTTP/1.1 request, to host on a pooled
// connection and reads the answer, whose body may hold up to limit bytes.
func (t *h1Transport) exchange(ctx context.Context, host string, req []byte, limit int64) (*answer, error) {
	pc, _, err := t.conn(ctx, host)
	if err != nil {
		return nil, err
	}
	deadline, stop, err := pc.arm(ctx)
	if err != nil {
		return nil, err
	}
	if _, werr := pc.nc.Write(req); werr != nil {
		if ctx.Err() == nil {
			pc.earlyAnswer(deadline)
			if a, _, err := pc.readAnswer(limit); err == nil {
				stop()
				_ = pc.nc.Close()
				return a, nil
			}
		}
		return nil, pc.fail(ctx, deadline, stop, werr)
	}
	a, keep, err := pc.readAnswer(limit)
	if err != nil {
		return nil, pc.fail(ctx, deadline, stop, err)
	}
	if stop() && keep {
		t.put(pc)
	} else {
		_ = pc.nc.Close()
	}
	return a, nil
}

// line reads one line of the answer's head or of its chunk framing,
// without its line end.
func (pc *h1Conn) line() ([]byte, error) {
	b, err := pc.br.ReadSlice('\n')
	if errors.Is(err, io.EOF) && len(b) > 0 {
		err = io.ErrUnexpectedEOF
	}
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, errAnswer(fmt.Sprintf("a line longer than %d bytes", pc.br.Size()))
	case err != nil:
		return nil, err
	}
	b = b[:len(b)-1]
	pc.crlf = false
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
		pc.crlf = true
	}
	return b, nil
}

// readAnswer reads an answer: its head within maxHeaderBytes, then its
// body (Content-Length, chunked, or up to the connection's close) of at
// most limit bytes. keep reports whether the connection may carry another
// call.
func (pc *h1Conn) readAnswer(limit int64) (a *answer, keep bool, err error) {
	pc.in.left = maxHeaderBytes // the head's budget; the body has limit
	line, err := pc.line()
	if err != nil {
		return nil, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return nil, false, errAnswer(fmt.Sprintf("status line %.40q", line))
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil || code < 100 {
		return nil, false, errAnswer(fmt.Sprintf("status line %.40q", line))
	}
	a = &answer{status: code, statusLine: string(line[9:])}
	http10 := line[7] == '0'
	keep = !http10 // HTTP/1.0 closes unless it says keep-alive
	length, chunked := int64(-1), false
	for {
		line, err := pc.line()
		if err != nil {
			return nil, false, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := headerLine(line)
		if !ok {
			return nil, false, errAnswer(fmt.Sprintf("header line %.40q", line))
		}
		switch {
		case equalFold(name, "Content-Length"):
			n, ok := fastUint(value) // digits only: no sign, as net/http
			if !ok || n > 1<<62 || (length >= 0 && int64(n) != length) {
				return nil, false, errAnswer(fmt.Sprintf("Content-Length %.40q", value))
			}
			length = int64(n)
		case equalFold(name, "Content-Type"):
			a.contentType = string(value)
		case equalFold(name, "Transfer-Encoding"):
			if !equalFold(value, "chunked") || chunked || http10 {
				return nil, false, errAnswer(fmt.Sprintf("Transfer-Encoding %.40q", value))
			}
			chunked = true
		case equalFold(name, "Connection"):
			for tok := range strings.SplitSeq(string(value), ",") {
				switch tok = strings.TrimSpace(tok); {
				case strings.EqualFold(tok, "close"):
					keep = false
				case strings.EqualFold(tok, "keep-alive") && http10:
					keep = true
				}
			}
		}
	}
	pc.in.left = 1 << 62 // (after an error the connection is closed)
	switch {
	case code < 200:
		// The client sends no Expect, so an informational answer is
		// unexpected; the final one would follow it on this connection.
		return nil, false, errAnswer(fmt.Sprintf("informational status %d", code))
	case code == http.StatusNoContent || code == http.StatusNotModified:
		// No body.
	case chunked:
		a.body, err = pc.readChunked(limit)
	case length > limit: // announced: say how large
		return nil, false, fmt.Errorf("rpc: the answer's %d bytes exceed the client's limit of %d", length, limit)
	case length >= 0:
		a.body, err = readN(pc.br, length)
	default: // the body ends with the connection
		keep = false
		a.body, err = readUpTo(pc.br, limit)
	}
	if err != nil {
		return nil, false, err
	}
	return a, keep, nil
}

// chunkLine is a line of chunk framing, which must end in CRLF (a bare
// LF there is refused, as net/http does since it was used for request
// smuggling).
func (pc *h1Conn) chunkLine() ([]byte, error) {
	b, err := pc.line()
	if err == nil && (!pc.crlf || bytes.IndexByte(b, '\r') >= 0) {
		return nil, errAnswer("chunk framing with a bare line feed or carriage return")
	}
	return b, err
}

// readChunked reads a chunked body and its trailer.
func (pc *h1Conn) readChunked(limit int64) ([]byte, error) {
	var body []byte
	for {
		line, err := pc.chunkLine()
		if err != nil {
			return nil, err
		}
		size, _, _ := bytes.Cut(line, []byte(";")) // chunk extensions are ignored
		n, ok := parseHex(bytes.TrimRight(size, " \t"))
		if !ok {
			return nil, errAnswer(fmt.Sprintf("chunk size %.40q", line))
		}
		if n == 0 {
			for { // the trailer, up to an empty line
				line, err := pc.chunkLine()
				if err != nil {
					return nil, err
				}
				if len(line) == 0 {
					return body, nil
				}
				if _, _, ok := headerLine(line); !ok {
					return nil, errAnswer(fmt.Sprintf("trailer line %.40q", line))
				}
			}
		}
		if n > limit-int64(len(body)) {
			return nil, errTooLarge(limit)
		}
		chunk, err := readN(pc.br, n)
		if err != nil {
			return nil, err
		}
		body = append(body, chunk...)
		if line, err := pc.chunkLine(); err != nil || len(line) != 0 {
			if err == nil {
				err = errAnswer("no line end after a chunk")
			}
			return nil, err
		}
	}
}

// errTooLarge refuses an answer whose body is over limit.
func errTooLarge(limit int64) error {
	return fmt.Errorf("rpc: the answer exceeds the client's limit of %d bytes", limit)
}

// readUpTo reads r to its end, refusing more than limit bytes.
func readUpTo(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = errTooLarge(limit)
	}
	return b, err
}

// readN reads n bytes. The buffer grows as they arrive: a peer that
// announces a large body and sends none costs no memory.
func readN(r io.Reader, n int64) ([]byte, error) {
	var b []byte
	var err error
	if n <= 64<<10 {
		b = make([]byte, n)
		_, err = io.ReadFull(r, b)
	} else {
		b, err = io.ReadAll(io.LimitReader(r, n))
		if err == nil && int64(len(b)) < n {
			err = io.ErrUnexpectedEOF
		}
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

// parseHex is a chunk size: 1 to 15 hex digits.
func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | int64(c)
	}
	return n, true
}

// equalFold is strings.EqualFold of ASCII b and s without a conversion.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// leanTarget splits an http:// URL into the host to dial and the request
// target, when the lean path can post to it.
func leanTarget(url string) (host, target string, ok bool) {
	rest, ok := strings.CutPrefix(url, "http://")
	if !ok {
		return "", "", false
	}
	host, target = rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, target = rest[:i], rest[i:]
	}
	if host == "" || strings.ContainsAny(host, "@?#") || strings.ContainsAny(target, "# \r\n") {
		return "", "", false
	}
	return host, target, true
}

// appendRequest appends a POST of a JSON body to w: the request line,
// Host, the JSON content headers, Content-Length and the client's own
// header lines (already formatted), then body.
func appendRequest(w []byte, host, target string, header []byte, body []byte) []byte {
	w = append(w, "POST "...)
	w = append(w, target...)
	w = append(w, " HTTP/1.1\r\nHost: "...)
	w = append(w, host...)
	w = append(w, "\r\nUser-Agent: meridian-rpc\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: "...)
	w = strconv.AppendInt(w, int64(len(body)), 10)
	w = append(w, "\r\n"...)
	w = append(w, header...)
	w = append(w, "\r\n"...)
	return append(w, body...)
}

// formatHeader writes h as header lines for appendRequest, dropping what
// net/http would refuse to send (a bad name) and turning line breaks in
// values into spaces, as Header.Write does.
func formatHeader(h http.Header) []byte {
	var w []byte
	for name, values := range h {
		if !validHeaderName(name) {
			continue
		}
		for _, v := range values {
			v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
			w = append(w, name...)
			w = append(w, ": "...)
			w = append(w, strings.TrimSpace(v)...)
			w = append(w, "\r\n"...)
		}
	}
	return w
}

// headerLine splits a header (or trailer) line into its name and its value
// without surrounding space; ok is false for a malformed line.
func headerLine(line []byte) (name, value []byte, ok bool) {
	name, value, ok = bytes.Cut(line, []byte(":"))
	if !ok || !validHeaderName(name) || !validHeaderValue(value) {
		return nil, nil, false
	}
	return name, bytes.TrimSpace(value), true
}

// validHeaderValue reports a field value without control characters
// other than tab (RFC 9110, as net/http checks it).
func validHeaderValue(v []byte) bool {
	for _, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validHeaderName reports an RFC 9110 token.
func validHeaderName[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// reqBufs holds the buffers requests are written into.
var reqBufs = sync.Pool{New: func() any { return new([]byte) }}

// send posts body to url and returns the answer read to its end (at most
// limit bytes of body), on the lean path when it can. Every error is a
// *transportError: the call did not get an answer.
func (c *Client) send(ctx context.Context, url string, body []byte, limit int64) (*answer, error) {
	if c.transport != nil {
		if host, target, ok := leanTarget(url); ok && httptrace.ContextClientTrace(ctx) == nil {
			bp := reqBufs.Get().(*[]byte)
			req := appendRequest((*bp)[:0], host, target, c.rawHeader, body)
			a, err := c.transport.exchange(ctx, host, req, limit)
			if cap(req) <= 64<<10 {
				*bp = req
				reqBufs.Put(bp)
			}
			if err != nil {
				return nil, &transportError{err}
			}
			return a, nil
		}
	}
	req, err := c.newRequest(ctx, url, body)
	if err != nil {
		return nil, &transportError{err}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &transportError{err}
	}
	defer resp.Body.Close()
	b, err := readUpTo(resp.Body, limit)
	if err != nil {
		return nil, &transportError{err}
	}
	return &answer{status: resp.StatusCode, statusLine: resp.Status, contentType: resp.Header.Get("Content-Type"), body: b}, nil
}
