package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// BinaryEnv names an environment variable that, when set, is the path of a
// meridian binary to use instead of building one.
const BinaryEnv = "MERIDIAN_BINARY"

var build struct {
	once sync.Once
	dir  string // our temporary build directory; "" with BinaryEnv
	path string
	took time.Duration
	err  error

	logged atomic.Bool // the build time was logged once
}

// Binary returns the path of the meridian binary, building it on the first
// call of the test process (`go build -o DIR/meridian meridian/cmd/meridian`).
// A failed build is reported by every later call as well.
func Binary() (string, error) {
	build.once.Do(func() {
		if p := os.Getenv(BinaryEnv); p != "" {
			abs, err := filepath.Abs(p)
			if err != nil {
				build.err = fmt.Errorf("cluster: %s=%q: %w", BinaryEnv, p, err)
				return
			}
			build.path = abs
			return
		}
		dir, err := os.MkdirTemp("", "meridian-integration-")
		if err != nil {
			build.err = fmt.Errorf("cluster: %w", err)
			return
		}
		build.dir = dir
		build.path = filepath.Join(dir, "meridian")
		// `go test` puts its own toolchain first on PATH, so "go" is the
		// go of the test run.
		start := time.Now()
		cmd := exec.Command("go", "build", "-buildvcs=false", "-o", build.path, "meridian/cmd/meridian")
		cmd.Env = os.Environ()
		out, err := cmd.CombinedOutput()
		build.took = time.Since(start)
		if err != nil {
			build.err = fmt.Errorf("cluster: go build meridian/cmd/meridian: %v\n%s", err, out)
		}
	})
	return build.path, build.err
}

// removeBinary deletes the build directory, if we made one.
func removeBinary() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}
