package integration

import (
	"os"
	"testing"

	"meridian/integration/cluster"
)

// TestMain checks, after the tests, that no server process and no test
// goroutine was left behind.
func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }
