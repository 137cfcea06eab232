package integration

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/integration/freeport"
)

// tourScript returns the README's five-minute tour, the first sh block
// after its heading.
func tourScript(t *testing.T) string {
	t.Helper()
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	state := 0 // 0: before the heading, 1: before the block, 2: in it
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		switch {
		case state == 0 && strings.HasPrefix(line, "## A five-minute tour"):
			state = 1
		case state == 1 && line == "```sh":
			state = 2
		case state == 2 && line == "```":
			return b.String()
		case state == 2:
			b.WriteString(line + "\n")
		}
	}
	t.Fatal("README.md has no sh block under \"## A five-minute tour\"")
	return ""
}

// TestReadmeTour runs the README's tour, as written, against a real
// `meridian dev` (on free ports instead of the defaults), and checks that
// every step printed what the README says it does.
func TestReadmeTour(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dev agent")
	}
	bin, err := cluster.Binary()
	if err != nil {
		t.Fatal(err)
	}
	ports, err := freeport.Ports(4)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	dev := exec.Command(bin, "dev", "-node", "tour", "-data-dir", t.TempDir(),
		"-http-addr", addr, "-raft-addr", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"-lan-addr", fmt.Sprintf("127.0.0.1:%d", ports[2]),
		"-dns-addr", fmt.Sprintf("127.0.0.1:%d", ports[3]), "-log-level", "warn")
	dev.Stderr = testLog{t, "dev: "}
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dev.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- dev.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("meridian dev did not stop cleanly on SIGINT: %v", err)
			}
		case <-time.After(10 * time.Second):
			dev.Process.Kill()
			t.Error("meridian dev did not stop within 10 s of SIGINT")
		}
	})
	waitReady(t, addr)

	script := tourScript(t)
	script = strings.ReplaceAll(script, "localhost:7500", addr)
	script = strings.ReplaceAll(script, "-p 7600", fmt.Sprintf("-p %d", ports[3]))
	// The tour builds ./meridian; the test already has the binary.
	script = strings.ReplaceAll(script, "go build -o meridian ./cmd/meridian", "")
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "meridian")); err != nil {
		t.Fatal(err)
	}
	// The tour runs from the repository's root: it submits an example.
	wasmDir, _ := filepath.Abs("../wasm")
	if err := os.Symlink(wasmDir, filepath.Join(dir, "wasm")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MERIDIAN_HTTP_ADDR="+addr)
	out, _ := cmd.CombinedOutput()
	t.Logf("tour output:\n%s", out)
	for _, want := range []string{
		"Success! Data written to: app/web/config",
		`{"replicas": 3}`,
		`"modify_index"`,
		`app/web/config:{"replicas": 3}`,
		"not written: the key exists",
		"Success! Deleted: app/web/config",
		`"result":{"ok":true`,
		`"value":"cG9zdGdyZXM6Ly9kYg=="`,
		`"key": "app/db/url"`, // the blocking kv.list's answer
		`"openrpc": "1.2.6"`,
		"Shards as seen by tour",
		"registered",
		"web      v1", // services
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the tour's output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^127\.0\.0\.1$`).Match(out) {
		t.Error("the tour's output lacks dig's A answer")
	}
	if !regexp.MustCompile(`(?m)^1 1 7500 tour\.node\.dc1\.meridian\.$`).Match(out) {
		t.Error("the tour's output lacks dig's SRV answer")
	}
	if !regexp.MustCompile(`(?m)^passing \([0-9.]+ ms on tour\)\n127\.0\.0\.1:\d+: connected$`).Match(out) {
		t.Error("the tour's output lacks the passing checks try")
	}
	if !regexp.MustCompile(`(?m)^tour\s+api\s+127\.0\.0\.1\s+7500\s+passing$`).Match(out) {
		t.Error("the tour's output lacks the api instance passing by its WASM check")
	}
	if !regexp.MustCompile(`(?m)^[0-9a-f]{64}\s+\d+\s+1\s+tcp-connect$`).Match(out) {
		t.Error("the tour's output lacks the module in checks list")
	}
	if !regexp.MustCompile(`(?m)^tour\s+web\s+127\.0\.0\.1\s+7500\s+v1\s+passing$`).Match(out) {
		t.Error("the tour's output lacks the passing web instance of services -wait")
	}
	for _, bad := range []string{"unknown command", "command not found", "Usage:"} {
		if strings.Contains(string(out), bad) {
			t.Errorf("the tour's output says %q", bad)
		}
	}
}

func waitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/v1/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("meridian dev at %s not ready within 30 s", addr)
}

type testLog struct {
	t      *testing.T
	prefix string
}

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
