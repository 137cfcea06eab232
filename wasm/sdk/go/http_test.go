package check

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestHTTPRequestJSON(t *testing.T) {
	h := &fakeHost{t: t, answer: []byte(`{"status":204,"headers":{},"truncated":false,"body_base64":""}`)}
	c := &Context{h: h}
	_, err := c.HTTP(Request{
		Method:  "POST",
		URL:     "http://127.0.0.1:8080/health",
		Headers: map[string]string{"Authorization": "Bearer x"},
		Body:    []byte{0, 1, 0xff},
		Timeout: 1500 * time.Millisecond,
		MaxBody: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(h.req, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"method":          "POST",
		"url":             "http://127.0.0.1:8080/health",
		"headers":         map[string]any{"Authorization": "Bearer x"},
		"body_base64":     "AAH/",
		"timeout_ms":      1500.0,
		"response_base64": true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("request %s", h.req)
	}
	if h.respCap != base64.StdEncoding.EncodedLen(100)+headerRoom {
		t.Fatalf("response buffer %d", h.respCap)
	}
	// A GET with the defaults leaves the defaults to the host.
	if _, err := c.Get("http://127.0.0.1:8080/health"); err != nil {
		t.Fatal(err)
	}
	if string(h.req) != `{"url":"http://127.0.0.1:8080/health","response_base64":true}` {
		t.Fatalf("GET request %s", h.req)
	}
}

func TestHTTPResponse(t *testing.T) {
	body := base64.StdEncoding.EncodeToString([]byte("{\"status\":\"ok\"}\xff"))
	for _, tc := range []struct {
		name    string
		answer  string
		code    int32
		maxBody int
		want    *Response
		err     error
	}{
		{name: "ok", answer: `{"status":200,"headers":{"Content-Type":"application/json"},"truncated":false,"body_base64":"` + body + `"}`,
			want: &Response{Status: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: []byte("{\"status\":\"ok\"}\xff")}},
		{name: "truncated by the host", answer: `{"status":200,"headers":{},"truncated":true,"body_base64":"b2s="}`,
			want: &Response{Status: 200, Headers: map[string]string{}, Body: []byte("ok"), Truncated: true}},
		{name: "cut to MaxBody", maxBody: 3, answer: `{"status":500,"headers":{},"truncated":false,"body_base64":"` + body + `"}`,
			want: &Response{Status: 500, Headers: map[string]string{}, Body: []byte(`{"s`), Truncated: true}},
		{name: "denied", code: -1, err: ErrDenied},
		{name: "timeout", code: -2, err: ErrTimeout},
		{name: "network", code: -3, err: ErrNetwork},
		{name: "invalid", code: -5, err: ErrInvalid},
		{name: "limit", code: -6, err: ErrLimit},
		{name: "bad answer", answer: `{"status":`, err: ErrBadAnswer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Context{h: &fakeHost{t: t, answer: []byte(tc.answer), code: tc.code}}
			got, err := c.HTTP(Request{URL: "http://127.0.0.1/health", MaxBody: tc.maxBody})
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%+v, want %+v", got, tc.want)
			}
		})
	}
}
