// Package wasmtest has helpers for the tests of check modules: local
// targets on loopback and the check that a module reproduces from source.
package wasmtest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TCPServer serves TCP connections on 127.0.0.1 with serve (each with a
// 10 s deadline) until the test ends, and returns its address.
func TCPServer(t testing.TB, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// SameBuild fails t unless the module just built equals the committed one;
// script names the build script that refreshes it.
func SameBuild(t testing.TB, built, committed, script string) {
	t.Helper()
	a, err := os.ReadFile(built)
	if err != nil {
		t.Error(err)
		return
	}
	b, err := os.ReadFile(committed)
	if err != nil {
		t.Errorf("%s: %v (run %s)", committed, err, script)
		return
	}
	if !bytes.Equal(a, b) {
		t.Errorf("%s differs from a fresh build of its source (%d vs %d bytes): run %s", committed, len(b), len(a), script)
	}
}

// SameGoToolchain skips t unless the go command's version is the one
// recorded in versionFile, with which the committed modules were built
// (Go's output changes between releases); script rebuilds them.
func SameGoToolchain(t testing.TB, versionFile, script string) {
	t.Helper()
	want, err := os.ReadFile(versionFile)
	if err != nil {
		t.Fatal(err)
	}
	have, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	if w, h := strings.TrimSpace(string(want)), strings.TrimSpace(string(have)); w != h {
		t.Skipf("built with %s, the toolchain is %s: run %s", w, h, script)
	}
}
