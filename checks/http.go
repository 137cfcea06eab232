package checks

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"meridian/rpc"
)

// The http kind, as Consul's: the check sends def.Method (GET) to def.HTTP
// with def.Header and def.Body and is passing on any 2xx answer, warning on
// 429 Too Many Requests, critical on anything else or when the request
// fails or times out. Redirects are followed (Go's default, at most 10),
// and the final answer counts. The output reads
//
//	HTTP GET http://127.0.0.1:8080/health: 200 OK Output: <body>
//
// with at most Config.MaxOutput bytes of the body read; the URL's password,
// if any, is redacted. Each probe opens its own connection (keep-alives
// are off, as in Consul): a check should see a service that stopped
// accepting connections, not a connection kept from when it did.

const acceptHeader = "text/plain, text/*, */*"

type httpProber struct {
	client    *http.Client
	method    string
	url       string // as given: what is requested
	shownURL  string // password redacted: what the output shows
	header    http.Header
	host      string // a Host header, which Go takes from Request.Host
	body      string
	timeout   time.Duration
	maxOutput int
}

func newHTTPProber(r *Runner, def rpc.CheckDefinition) (prober, error) {
	u, err := url.Parse(def.HTTP)
	if err != nil { // Validate parsed it already
		return nil, fmt.Errorf("%w: %v", ErrInvalidDefinition, err)
	}
	h := http.Header(def.Header).Clone() // canonical keys (Normalize)
	if h == nil {
		h = http.Header{}
	}
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", r.cfg.UserAgent)
	}
	if h.Get("Accept") == "" {
		h.Set("Accept", acceptHeader)
	}
	host := h.Get("Host")
	h.Del("Host")
	client := r.httpClient
	if def.TLSSkipVerify {
		client = r.httpInsecure
	}
	return &httpProber{
		client:    client,
		method:    def.Method,
		url:       def.HTTP,
		shownURL:  u.Redacted(),
		header:    h,
		host:      host,
		body:      def.Body,
		timeout:   def.Timeout.Std(),
		maxOutput: r.cfg.MaxOutput,
	}, nil
}

func (p *httpProber) probe(ctx context.Context) result {
	var body io.Reader
	if p.body != "" {
		body = strings.NewReader(p.body)
	}
	req, err := http.NewRequestWithContext(ctx, p.method, p.url, body)
	if err != nil {
		return result{rpc.HealthCritical, p.prefix() + err.Error()}
	}
	req.Header = p.header.Clone() // a client with a cookie jar writes to it
	if p.host != "" {
		req.Host = p.host
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return result{rpc.HealthCritical, p.prefix() + describeErr(ctx, err, p.timeout)}
	}
	// Read what the output can hold, then close: with keep-alives off there
	// is no connection to save by draining the rest.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, int64(p.maxOutput)))
	resp.Body.Close()

	status := rpc.HealthCritical
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		status = rpc.HealthPassing
	case resp.StatusCode == http.StatusTooManyRequests:
		status = rpc.HealthWarning
	}
	return result{status, p.prefix() + resp.Status + " Output: " + string(b)}
}

func (p *httpProber) prefix() string {
	return "HTTP " + p.method + " " + p.shownURL + ": "
}

// describeErr words a failed probe's error: "timed out after 10s" when the
// probe's deadline passed, else the error without Go's URL wrapping.
func describeErr(ctx context.Context, err error, timeout time.Duration) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timed out after " + timeout.String()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// newHTTPClients makes the runner's two HTTP clients, one verifying TLS
// certificates and one not, from base (nil: Go's defaults). A base whose
// transport is an *http.Transport (or nil) has it cloned, keeping its
// proxy, dialer and TLS settings, with keep-alives turned off; any other
// RoundTripper is used as is by both clients and is then responsible for
// TLS, tls_skip_verify included. The clients keep base's redirect policy
// and cookie jar; their timeout is each check's, through the context.
func newHTTPClients(base *http.Client) (verify, skipVerify *http.Client, transports []*http.Transport) {
	var rt http.RoundTripper = http.DefaultTransport
	if base != nil && base.Transport != nil {
		rt = base.Transport
	}
	rtVerify, rtSkip := rt, rt
	if t, ok := rt.(*http.Transport); ok {
		tv := t.Clone()
		tv.DisableKeepAlives = true
		ts := t.Clone()
		ts.DisableKeepAlives = true
		if ts.TLSClientConfig == nil {
			ts.TLSClientConfig = &tls.Config{}
		}
		ts.TLSClientConfig.InsecureSkipVerify = true // the check asked for it
		rtVerify, rtSkip = tv, ts
		transports = []*http.Transport{tv, ts}
	}
	mk := func(rt http.RoundTripper) *http.Client {
		c := &http.Client{Transport: rt}
		if base != nil {
			c.CheckRedirect = base.CheckRedirect
			c.Jar = base.Jar
		}
		return c
	}
	return mk(rtVerify), mk(rtSkip), transports
}
