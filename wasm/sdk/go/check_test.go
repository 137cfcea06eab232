package check

import (
	"errors"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	defer Register(nil)
	h := &fakeHost{t: t}
	if s := run(h); s != Critical || h.output != "check: no check registered: call check.Register from an init function" {
		t.Fatalf("nothing registered: %v %q", s, h.output)
	}
	Register(func(c *Context) Status {
		c.Outputf("%d %s", 3, "up")
		return Warning
	})
	if s := run(h); s != Warning || h.output != "3 up" {
		t.Fatalf("registered: %v %q", s, h.output)
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{Passing: "passing", Warning: "warning", Critical: "critical", 7: "Status(7)"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", int32(s), s.String(), want)
		}
	}
}

func TestArgs(t *testing.T) {
	type args struct {
		URL  string `json:"url"`
		Want string `json:"want"`
	}
	for _, tc := range []struct {
		name string
		raw  string
		want args
		err  bool
	}{
		{"object", `{"url":"http://x/health"}`, args{URL: "http://x/health", Want: "ok"}, false},
		{"override", `{"want":"up"}`, args{Want: "up"}, false},
		{"none", ``, args{Want: "ok"}, false},
		{"not an object", `["x"]`, args{Want: "ok"}, true},
		{"not json", `{`, args{Want: "ok"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Context{h: &fakeHost{t: t, args: []byte(tc.raw)}}
			a := args{Want: "ok"}
			err := c.Args(&a)
			if (err != nil) != tc.err || a != tc.want {
				t.Fatalf("%+v, %v; want %+v, error %v", a, err, tc.want, tc.err)
			}
			if string(c.RawArgs()) != tc.raw {
				t.Fatalf("raw %q", c.RawArgs())
			}
		})
	}
}

func TestLog(t *testing.T) {
	h := &fakeHost{t: t}
	c := &Context{h: h}
	if err := c.Logf(LevelInfo, "n=%d", 1); err != nil || len(h.logs) != 1 || h.logs[0] != "n=1" {
		t.Fatalf("%v %q", err, h.logs)
	}
	if err := c.Log(9, "x"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("level 9: %v", err)
	}
}

func TestNow(t *testing.T) {
	c := &Context{h: &fakeHost{t: t, now: 1_700_000_000_123}}
	if got := c.Now(); !got.Equal(time.UnixMilli(1_700_000_000_123)) {
		t.Fatal(got)
	}
}

func TestMillis(t *testing.T) {
	for d, want := range map[time.Duration]int64{0: 0, -time.Second: 0, time.Nanosecond: 1, time.Millisecond: 1, 1500 * time.Microsecond: 2, 2 * time.Second: 2000} {
		if got := millis(d); got != want {
			t.Errorf("millis(%v) = %d, want %d", d, got, want)
		}
	}
}
