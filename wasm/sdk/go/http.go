package check

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// Request is an HTTP request made by the agent for the check
// (http_request). The URL must be granted: a URL grant covers its path and
// the paths below it.
type Request struct {
	// Method defaults to GET.
	Method string
	// URL is an absolute http:// or https:// URL.
	URL string
	// Headers are sent one value per name; Host cannot be set.
	Headers map[string]string
	// Body is sent as it is.
	Body []byte
	// Timeout is the call's own timeout; 0 is the rest of the check's
	// deadline.
	Timeout time.Duration
	// MaxBody is the most body bytes the check wants back (default
	// DefaultMaxBody); a longer body is cut and Response.Truncated set. It
	// sizes the answer's buffer in the module's memory.
	MaxBody int
}

// DefaultMaxBody is Request.MaxBody's default.
const DefaultMaxBody = 64 << 10

// headerRoom is the part of the answer's buffer kept for the status and
// headers; when they do not fit, the host drops the headers.
const headerRoom = 16 << 10

// Response is the answer to an HTTP request: the status of the final
// response (after redirects), its headers (one string per name, several
// values joined with ", ") and its body.
type Response struct {
	Status  int
	Headers map[string]string
	Body    []byte
	// Truncated is true when the body was cut to MaxBody (or headers
	// dropped to make room).
	Truncated bool
}

// httpRequestJSON is the ABI's request object.
type httpRequestJSON struct {
	Method         string            `json:"method,omitempty"`
	URL            string            `json:"url"`
	Headers        map[string]string `json:"headers,omitempty"`
	BodyBase64     string            `json:"body_base64,omitempty"`
	TimeoutMS      int64             `json:"timeout_ms,omitempty"`
	ResponseBase64 bool              `json:"response_base64"`
}

// httpResponseJSON is the ABI's answer object; the SDK asks for the body
// in base64 so that it gets the bytes as sent.
type httpResponseJSON struct {
	Status     int               `json:"status"`
	Headers    map[string]string `json:"headers"`
	Truncated  bool              `json:"truncated"`
	BodyBase64 []byte            `json:"body_base64"`
}

// HTTP makes an HTTP/1.1 request. It fails with an error wrapping
// ErrDenied when the URL (or a redirect) is not granted, ErrTimeout,
// ErrNetwork (no connection, TLS or protocol error), ErrInvalid (a bad URL
// or method) or ErrLimit (the run's network budget is spent). An HTTP
// error status is not an error: look at Response.Status.
func (c *Context) HTTP(req Request) (*Response, error) {
	method := req.Method
	if method == "" {
		method = "GET"
	}
	target := method + " " + req.URL
	maxBody := req.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	r := httpRequestJSON{
		Method:         req.Method,
		URL:            req.URL,
		Headers:        req.Headers,
		TimeoutMS:      millis(req.Timeout),
		ResponseBase64: true,
	}
	if len(req.Body) > 0 {
		r.BodyBase64 = base64.StdEncoding.EncodeToString(req.Body)
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("http_request %s: %w: %v", target, ErrInvalid, err)
	}
	resp := make([]byte, base64.StdEncoding.EncodedLen(maxBody)+headerRoom)
	n := c.h.httpRequest(body, resp)
	if n < 0 {
		return nil, codeError("http_request", target, n)
	}
	var a httpResponseJSON
	if int(n) > len(resp) || json.Unmarshal(resp[:n], &a) != nil {
		return nil, fmt.Errorf("http_request %s: %w", target, ErrBadAnswer)
	}
	if len(a.BodyBase64) > maxBody {
		a.BodyBase64, a.Truncated = a.BodyBase64[:maxBody], true
	}
	return &Response{Status: a.Status, Headers: a.Headers, Body: a.BodyBase64, Truncated: a.Truncated}, nil
}

// Get is HTTP with a GET of url and the defaults.
func (c *Context) Get(url string) (*Response, error) {
	return c.HTTP(Request{URL: url})
}
