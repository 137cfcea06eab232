package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPutValue: kv put's VALUE is the argument, stdin for "-", a file for
// "@FILE", and base64 to decode with -base64, as Consul's kv put reads it.
func TestPutValue(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "v.txt")
	if err := os.WriteFile(file, []byte("from a file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b64file := filepath.Join(dir, "v.b64")
	if err := os.WriteFile(b64file, []byte("AAEC/w==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		arg, stdin string
		b64        bool
		want       string
		err        string
	}{
		{arg: "plain", want: "plain"},
		{arg: "", want: ""},
		{arg: "-", stdin: "line one\nline two\n", want: "line one\nline two\n"},
		{arg: "@" + file, want: "from a file\n"},
		{arg: "@" + filepath.Join(dir, "missing"), err: "missing: no such file"},
		{arg: "aGVsbG8=", b64: true, want: "hello"},
		{arg: "@" + b64file, b64: true, want: "\x00\x01\x02\xff"},
		{arg: "-", stdin: "aGk=\n", b64: true, want: "hi"},
		{arg: "not base64!", b64: true, err: "-base64: the value is not valid base64"},
	} {
		got, err := putValue(c.arg, strings.NewReader(c.stdin), c.b64)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("putValue(%q, base64 %v): error %v, want one containing %q", c.arg, c.b64, err, c.err)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("putValue(%q, base64 %v) = %q, %v; want %q", c.arg, c.b64, got, err, c.want)
		}
	}
}
