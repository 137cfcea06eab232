package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelp: every command and verb answers -h with its usage and exit
// status 0, as flag-based CLIs (consul, etcdctl) do; a bad flag or an
// unknown verb prints the usage too, with status 2 and the offender named,
// as do an agent's flags that cannot start it.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"help"},
		{"dev", "-h"}, {"server", "-h"}, {"edge", "-h"},
		{"kv", "-h"}, {"kv", "help"}, {"kv", "put", "-h"}, {"kv", "get", "-h"}, {"kv", "list", "-h"},
		{"kv", "delete", "-h"}, {"kv", "export", "-h"}, {"kv", "import", "-help"},
		{"rpc", "-h"}, {"status", "-h"}, {"members", "-h"}, {"dc", "-h"}, {"leave", "-h"},
		{"services", "-h"}, {"services", "register", "-h"},
		{"checks", "-h"}, {"checks", "submit", "-h"}, {"checks", "list", "-h"},
		{"bench", "kv", "-h"},
	} {
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		text := out.String() + errOut.String()
		if code != 0 || !strings.Contains(text, "Usage: meridian") {
			t.Errorf("meridian %s: status %d, output %q; want 0 and the usage", strings.Join(args, " "), code, text)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"kv"}, "Usage: meridian kv put"},
		{[]string{"kv", "nope"}, `unknown verb "nope"`},
		{[]string{"kv", "put", "-bogus"}, "-bogus"},
		{[]string{"kv", "put", "only-a-key"}, "Usage: meridian kv put"},
		{[]string{"dev", "-bogus"}, "-bogus"},
		{[]string{"bench", "kv", "-bogus"}, "-bogus"},
		{[]string{"checks", "nope"}, "Usage: meridian checks submit"},
		{[]string{"nope"}, `unknown command "nope"`},
		// A server's flags that cannot start it are usage errors too.
		{[]string{"server", "-node", "s1"}, "-data-dir is required"},
		{[]string{"server", "-data-dir", t.TempDir()}, "a new server needs -peers"},
		{[]string{"server", "-data-dir", t.TempDir(), "-peers", "s1"}, `-peers: "s1" is not NAME=HOST:PORT`},
	} {
		var out, errOut bytes.Buffer
		code := run(tc.args, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("meridian %s: status %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), code, errOut.String(), tc.want)
		}
	}
}
