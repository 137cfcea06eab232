package cluster

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Main runs the tests of a package that uses clusters, then checks that
// nothing outlived them: no server process (by this package's bookkeeping,
// and by scanning /proc for the binary), no goroutine of this package and
// no goroutine running the package's tests. A leak fails the run. It
// removes the built binary last.
//
//	func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if err := CheckLeaks(10 * time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: leak check: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	removeBinary()
	return code
}

// CheckLeaks waits up to d for every server process and every goroutine of
// this package to be gone, and for no goroutine to be left running code of
// the test package (a writer the test forgot to stop). It kills any
// server process it finds and reports what it found.
func CheckLeaks(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var problems []string
	err := Eventually(ctx, "no server process left", func(context.Context) error {
		live.mu.Lock()
		defer live.mu.Unlock()
		if len(live.pids) > 0 {
			return fmt.Errorf("still running: %v", live.pids)
		}
		return nil
	})
	if err != nil {
		problems = append(problems, err.Error())
		live.mu.Lock()
		for pid := range live.pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		live.mu.Unlock()
	}
	if build.path != "" && build.err == nil {
		if pids, ok := processesRunning(build.path); ok && len(pids) > 0 {
			problems = append(problems, fmt.Sprintf("processes of %s still running (killed now): %v", build.path, pids))
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	err = Eventually(ctx, "no goroutine of the cluster package or of the tests left", func(context.Context) error {
		if n := live.goroutines.Load(); n > 0 {
			return fmt.Errorf("%d reaper goroutines still running", n)
		}
		if g := testGoroutines(); len(g) > 0 {
			return fmt.Errorf("%d goroutines still run test code:\n\n%s", len(g), strings.Join(g, "\n\n"))
		}
		return nil
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

// testGoroutines returns the stacks of goroutines, other than the caller's,
// that run code of a meridian/integration package.
func testGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // ours
		}
		if strings.Contains(g, "meridian/integration") {
			out = append(out, g)
		}
	}
	return out
}
