package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
)

// cli runs the meridian binary as a user would, with MERIDIAN_HTTP_ADDR
// set to env (when not empty) and stdin, and returns its output and exit
// code.
func cli(t *testing.T, env, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin, err := cluster.Binary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = os.Environ()
	if env != "" {
		cmd.Env = append(cmd.Env, "MERIDIAN_HTTP_ADDR="+env)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return out.String(), errOut.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("meridian %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), 0
}

// TestCLIRoundTrip drives `meridian kv put/get/list/delete` against the
// cluster, through different servers, and checks what the user sees.
func TestCLIRoundTrip(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 4})
	a0, a1, a2 := c.HTTPAddr(0), c.HTTPAddr(1), c.HTTPAddr(2)
	all := strings.Join(c.HTTPAddrs(), ",")

	expect := func(what string, gotOut, gotErr string, code int, wantCode int, wantOut string) {
		t.Helper()
		if code != wantCode || gotOut != wantOut {
			t.Errorf("%s: exit %d, stdout %q (stderr %q); want exit %d, stdout %q", what, code, gotOut, gotErr, wantCode, wantOut)
		}
	}

	out, errOut, code := cli(t, "", "", "kv", "put", "-http-addr", a1, "cli/greeting", "hello")
	m := regexp.MustCompile(`^Success! Data written to: cli/greeting \(index (\d+)\)\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("kv put: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	index, _ := strconv.ParseUint(m[1], 10, 64)

	out, errOut, code = cli(t, "", "", "kv", "get", "-http-addr", a2, "cli/greeting")
	expect("kv get through another server", out, errOut, code, 0, "hello\n")

	out, errOut, code = cli(t, "", "", "kv", "get", "-detailed", "-http-addr", a0, "cli/greeting")
	var entry struct {
		Key         string `json:"key"`
		Value       []byte `json:"value"`
		ModifyIndex uint64 `json:"modify_index"`
		CreateIndex uint64 `json:"create_index"`
	}
	if err := json.Unmarshal([]byte(out), &entry); code != 0 || err != nil {
		t.Fatalf("kv get -detailed: exit %d, stdout %q, stderr %q, decoding: %v", code, out, errOut, err)
	}
	if entry.Key != "cli/greeting" || string(entry.Value) != "hello" || entry.ModifyIndex != index || entry.CreateIndex != index {
		t.Errorf("kv get -detailed: %+v, want cli/greeting=hello at index %d", entry, index)
	}

	// Check-and-set, as consul kv put -cas and kv delete -cas: a refusal
	// exits 1 and says why.
	casIndex := strconv.FormatUint(index, 10)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"kv", "put", "-cas", "0", "cli/greeting", "other"}, 1, `"cli/greeting" not written: the key exists`},
		{[]string{"kv", "put", "-cas", casIndex + "1", "cli/greeting", "other"}, 1, "the key is absent or its modify index is not " + casIndex + "1"},
		{[]string{"kv", "delete", "-cas", "0", "cli/greeting"}, 1, `"cli/greeting" not deleted: the key exists`},
		{[]string{"kv", "put", "-cas", casIndex, "cli/greeting", "hello"}, 0, "Success! Data written to: cli/greeting"},
	} {
		out, errOut, code := cli(t, all, "", c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Errorf("meridian %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, out, errOut, c.code, c.want)
		}
	}

	// The value from stdin, the address from the environment (every
	// server, as a user with a list of them would set it).
	out, errOut, code = cli(t, all, "line one\nline two\n", "kv", "put", "clistdin/multi", "-")
	if code != 0 || !strings.HasPrefix(out, "Success! Data written to: clistdin/multi ") {
		t.Errorf("kv put from stdin: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = cli(t, all, "", "kv", "get", "clistdin/multi")
	expect("kv get of a value that ends with a newline", out, errOut, code, 0, "line one\nline two\n")

	// The value from a file (@FILE), as Consul's kv put takes it.
	file := filepath.Join(t.TempDir(), "value.txt")
	if err := os.WriteFile(file, []byte("from a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = cli(t, all, "", "kv", "put", "clistdin/file", "@"+file)
	if code != 0 {
		t.Errorf("kv put @FILE: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = cli(t, all, "", "kv", "get", "clistdin/file")
	expect("kv get of a value put from a file", out, errOut, code, 0, "from a file\n")

	out, errOut, code = cli(t, "", "", "kv", "put", "-http-addr", a2, "cli/other", "x")
	if code != 0 {
		t.Fatalf("kv put cli/other: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = cli(t, "", "", "kv", "list", "-http-addr", a0, "cli/")
	expect("kv list", out, errOut, code, 0, "cli/greeting:hello\ncli/other:x\n")
	out, errOut, code = cli(t, "", "", "kv", "list", "-keys", "-http-addr", a1, "cli/")
	expect("kv list -keys", out, errOut, code, 0, "cli/greeting\ncli/other\n")

	// kv get -keys and -base64, as Consul's kv get takes them: one level
	// under the prefix by default ("/" separates), every key with an empty
	// separator.
	for _, kv := range [][2]string{{"clikeys/a", "hello"}, {"clikeys/b/c", "x"}} {
		if _, errOut, code := cli(t, all, "", "kv", "put", kv[0], kv[1]); code != 0 {
			t.Fatalf("kv put %s: exit %d, stderr %q", kv[0], code, errOut)
		}
	}
	out, errOut, code = cli(t, all, "", "kv", "get", "-keys", "clikeys/")
	expect("kv get -keys", out, errOut, code, 0, "clikeys/a\nclikeys/b/\n")
	out, errOut, code = cli(t, all, "", "kv", "get", "-keys", "-separator", "", "clikeys/")
	expect("kv get -keys -separator ''", out, errOut, code, 0, "clikeys/a\nclikeys/b/c\n")
	out, errOut, code = cli(t, all, "", "kv", "get", "-base64", "clikeys/a")
	expect("kv get -base64", out, errOut, code, 0, "aGVsbG8=\n")
	out, errOut, code = cli(t, all, "", "kv", "get", "-recurse", "-base64", "clikeys/")
	expect("kv get -recurse -base64", out, errOut, code, 0, "clikeys/a:aGVsbG8=\nclikeys/b/c:eA==\n")
	out, errOut, code = cli(t, "", "", "kv", "get", "-recurse", "-http-addr", a1, "cli/")
	expect("kv get -recurse", out, errOut, code, 0, "cli/greeting:hello\ncli/other:x\n")
	out, errOut, code = cli(t, "", "", "kv", "get", "-recurse", "-detailed", "-stale", "-http-addr", a2, "cli/o")
	var entries []rpc.KVEntry
	if err := json.Unmarshal([]byte(out), &entries); code != 0 || err != nil || len(entries) != 1 || entries[0].Key != "cli/other" || entries[0].ModifyIndex == 0 {
		t.Errorf("kv get -recurse -detailed -stale: exit %d, stdout %q, stderr %q, decoding: %v", code, out, errOut, err)
	}
	if _, errOut, code := cli(t, "", "", "kv", "get", "-http-addr", a1); code != 2 || !strings.Contains(errOut, "Usage") {
		t.Errorf("kv get without a key: exit %d, stderr %q; want 2 and the usage", code, errOut)
	}

	// Export, then import under another prefix, from stdin: the same
	// keys, values and flags. Then a bad export is refused whole.
	if _, errOut, code := cli(t, all, "", "kv", "put", "-flags", "42", "cli/flagged", "f"); code != 0 {
		t.Fatalf("kv put -flags: exit %d, stderr %q", code, errOut)
	}
	exp, errOut, code := cli(t, all, "", "kv", "export", "cli/")
	if code != 0 {
		t.Fatalf("kv export: exit %d, stderr %q", code, errOut)
	}
	out, errOut, code = cli(t, all, exp, "kv", "import", "-prefix", "copy/")
	expect("kv import", out, errOut, code, 0, "Imported: copy/cli/flagged\nImported: copy/cli/greeting\nImported: copy/cli/other\n")
	copied, errOut, code := cli(t, all, "", "kv", "export", "copy/")
	if code != 0 || copied != strings.ReplaceAll(exp, `"key": "cli/`, `"key": "copy/cli/`) {
		t.Errorf("kv export of the import: exit %d, stderr %q\n%s\nwant the first export with copy/ before each key:\n%s", code, errOut, copied, exp)
	}
	out, errOut, code = cli(t, all, `[{"key": "bad/one", "value": ""}, {"key": "/bad/two"}]`, "kv", "import")
	if code != 1 || out != "" || !strings.Contains(errOut, "entry 2: kv: invalid key: leading '/'") {
		t.Errorf("kv import of a bad key: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = cli(t, all, "", "kv", "list", "-keys", "bad/")
	expect("kv list after a refused import", out, errOut, code, 0, "")
	if _, errOut, code := cli(t, all, "", "kv", "delete", "-recurse", "copy/"); code != 0 {
		t.Fatalf("kv delete -recurse copy/: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := cli(t, all, "", "kv", "delete", "cli/flagged"); code != 0 {
		t.Fatalf("kv delete cli/flagged: exit %d, stderr %q", code, errOut)
	}

	out, errOut, code = cli(t, "", "", "kv", "put", "-cas", "0", "-http-addr", a0, "cli/greeting", "again")
	if code != 1 || out != "" || !strings.Contains(errOut, "not written") {
		t.Errorf("kv put -cas 0 on an existing key: exit %d, stdout %q, stderr %q; want exit 1 and \"not written\"", code, out, errOut)
	}

	out, errOut, code = cli(t, "", "", "kv", "delete", "-http-addr", a2, "cli/greeting")
	expect("kv delete", out, errOut, code, 0, "Success! Deleted: cli/greeting\n")
	out, errOut, code = cli(t, "", "", "kv", "get", "-http-addr", a1, "cli/greeting")
	if code != 1 || out != "" || !strings.Contains(errOut, `no key "cli/greeting"`) {
		t.Errorf("kv get after delete: exit %d, stdout %q, stderr %q; want exit 1 and `no key \"cli/greeting\"`", code, out, errOut)
	}
	out, errOut, code = cli(t, "", "", "kv", "list", "-keys", "-http-addr", a0, "cli/")
	expect("kv list -keys after delete", out, errOut, code, 0, "cli/other\n")

	// -timeout bounds a call's own work, not the wait a blocking read asks
	// for: a 2s wait under a 1s timeout gets its answer.
	out, errOut, code = cli(t, all, "", "rpc", "-timeout", "1s", "kv.list", `{"prefix": "cli/", "keys_only": true, "index": 999999999, "wait": "2s"}`)
	if code != 0 || !strings.Contains(out, `"cli/other"`) {
		t.Errorf("rpc -timeout 1s of a kv.list waiting 2s: exit %d, stdout %q, stderr %q; want its answer", code, out, errOut)
	}
	out, errOut, code = cli(t, all, "", "services", "-timeout", "1s", "-wait", "2s", "nosuch")
	expect("services -timeout 1s -wait 2s of a missing service", out, errOut, code, 0, "NODE  ID  ADDRESS  PORT  TAGS  HEALTH\n")

	out, errOut, code = cli(t, "", "", "status", "-http-addr", a0)
	if code != 0 {
		t.Fatalf("status: exit %d, stderr %q", code, errOut)
	}
	for i := range c.N() {
		if !strings.Contains(out, c.Node(i)) || !strings.Contains(out, c.RaftAddr(i)) {
			t.Errorf("status does not name %s at %s:\n%s", c.Node(i), c.RaftAddr(i), out)
		}
	}
}
