package checks

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"meridian/rpc"
)

func ttlCheck(id, initial string) rpc.CheckDefinition {
	return rpc.CheckDefinition{ID: id, Name: id, Kind: rpc.CheckTTL, TTL: dur(10 * time.Second), Status: initial}
}

func TestTTLExpiryAndUpdate(t *testing.T) {
	clk := newFakeClock()
	rec := &recorder{}
	r := newRunner(t, Config{Clock: clk, Notify: rec.notify})
	mustAdd(t, r, ttlCheck("api", rpc.HealthPassing))
	clk.waitArmed(t, 1)

	clk.step(t, 9*time.Second, 1)
	if st := mustGet(t, r, "api"); st.Status != rpc.HealthPassing {
		t.Fatalf("at 9s: %s, want passing (the initial status)", st.Status)
	}
	if err := r.UpdateTTL("api", rpc.HealthPassing, "alive"); err != nil { // TTL now ends at 19s
		t.Fatal(err)
	}
	clk.step(t, 9*time.Second, 1) // 18s: past the first deadline, not the new one
	if st := mustGet(t, r, "api"); st.Status != rpc.HealthPassing || st.Output != "alive" {
		t.Fatalf("at 18s: %s %q, want passing (UpdateTTL reset the TTL)", st.Status, st.Output)
	}

	clk.Advance(time.Second) // 19s: expired
	waitFor(t, "TTL expiry", func() bool { return mustGet(t, r, "api").Status == rpc.HealthCritical })
	st := mustGet(t, r, "api")
	if want := "TTL expired (last output before timeout follows): alive"; st.Output != want {
		t.Fatalf("output %q, want %q", st.Output, want)
	}
	if !st.Since.Equal(clk.Now()) {
		t.Fatalf("since %v, want %v", st.Since, clk.Now())
	}
	flushNotify(t, r) // else the next change would replace it in the queue

	// Stays critical without re-expiring; an update brings it back at once.
	clk.Advance(time.Hour)
	if err := r.UpdateTTL("api", rpc.HealthWarning, "slow"); err != nil {
		t.Fatal(err)
	}
	if st := mustGet(t, r, "api"); st.Status != rpc.HealthWarning || st.Output != "slow" {
		t.Fatalf("after update: %s %q", st.Status, st.Output)
	}
	flushNotify(t, r)
	want := []Update{
		{ID: "api", Status: rpc.HealthCritical, Output: "TTL expired (last output before timeout follows): alive"},
		{ID: "api", Status: rpc.HealthWarning, Output: "slow"},
	}
	if got := rec.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("notified %+v, want %+v", got, want)
	}
}

// A check that starts critical and expires changes output only: no
// notification.
func TestTTLExpiryFromCritical(t *testing.T) {
	clk := newFakeClock()
	rec := &recorder{}
	r := newRunner(t, Config{Clock: clk, Notify: rec.notify})
	mustAdd(t, r, ttlCheck("api", ""))
	clk.waitArmed(t, 1)
	clk.Advance(10 * time.Second)
	waitFor(t, "TTL expiry", func() bool { return mustGet(t, r, "api").Output == ttlExpired })
	if st := mustGet(t, r, "api"); st.Status != rpc.HealthCritical {
		t.Fatalf("status %s", st.Status)
	}
	flushNotify(t, r)
	if got := rec.all(); len(got) != 0 {
		t.Fatalf("notified %+v, want nothing", got)
	}
}

func TestUpdateTTLErrors(t *testing.T) {
	clk := newFakeClock()
	r := newRunner(t, Config{Clock: clk, MaxOutput: 128})
	mustAdd(t, r, ttlCheck("api", ""))
	mustAdd(t, r, rpc.CheckDefinition{ID: "web", Name: "web", Kind: rpc.CheckTCP, TCP: "127.0.0.1:1", Interval: dur(time.Minute)})

	cases := []struct {
		name, id, status string
		want             error
	}{
		{"unknown check", "nope", rpc.HealthPassing, ErrUnknownCheck},
		{"not a ttl check", "web", rpc.HealthPassing, ErrNotTTL},
		{"invalid status", "api", "ok", ErrInvalidStatus},
		{"empty status", "api", "", ErrInvalidStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := r.UpdateTTL(tc.id, tc.status, "")
			if !errors.Is(err, tc.want) || !errors.Is(err, rpc.ErrInvalidParams) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	if err := r.UpdateTTL("api", rpc.HealthPassing, strings.Repeat("é", 1000)); err != nil {
		t.Fatal(err)
	}
	if out := mustGet(t, r, "api").Output; len(out) > 128 || !strings.HasSuffix(out, "(output truncated to 128 bytes)") {
		t.Fatalf("output not capped: %d bytes", len(out))
	}
	r.Close()
	if err := r.UpdateTTL("api", rpc.HealthPassing, ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}
