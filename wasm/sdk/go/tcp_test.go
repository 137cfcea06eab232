package check

import (
	"errors"
	"testing"
	"time"
)

func TestTCP(t *testing.T) {
	h := &fakeHost{t: t, answer: []byte("+PONG\r\n")}
	c := &Context{h: h}
	got, err := c.TCP("127.0.0.1:6379", []byte("PING\r\n"), 64, 2*time.Second)
	if err != nil || string(got) != "+PONG\r\n" {
		t.Fatalf("%q %v", got, err)
	}
	if h.addr != "127.0.0.1:6379" || string(h.send) != "PING\r\n" || h.recvCap != 64 || h.timeout != 2000 {
		t.Fatalf("call: %+v", h)
	}
	// Connect only: no buffer, the rest of the deadline.
	h.answer = nil
	if got, err := c.TCP("127.0.0.1:6379", nil, 0, 0); err != nil || len(got) != 0 || h.recvCap != 0 || h.timeout != 0 {
		t.Fatalf("connect only: %q %v %+v", got, err, h)
	}
	// A timeout past int32 milliseconds is the check's deadline.
	if _, err := c.TCP("127.0.0.1:6379", nil, 0, 1000*time.Hour); err != nil || h.timeout != 0 {
		t.Fatalf("long timeout: %v %d", err, h.timeout)
	}
	h.code = -1
	if _, err := c.TCP("127.0.0.1:6380", nil, 0, 0); !errors.Is(err, ErrDenied) || err.Error() != "tcp_connect 127.0.0.1:6380: check: not granted" {
		t.Fatalf("denied: %v", err)
	}
}
