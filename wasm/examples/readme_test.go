package examples_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const sdkREADME = "../sdk/README.md"

// readmeBlocks returns the README's code blocks in lang.
func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	b, err := os.ReadFile(sdkREADME)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?ms)^```" + lang + "\n(.*?)^```\n")
	var blocks []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		blocks = append(blocks, m[1])
	}
	if len(blocks) == 0 {
		t.Fatalf("%s has no %s block", sdkREADME, lang)
	}
	return blocks
}

// TestREADME builds the SDK README's examples, as it says to, and
// validates the modules.
func TestREADME(t *testing.T) {
	t.Run("go", func(t *testing.T) {
		t.Parallel()
		if testing.Short() {
			t.Skip("-short: not building the README's Go check")
		}
		// The check is a package of this module for the build only: an
		// overlay puts it at a path no file occupies.
		dir := t.TempDir()
		src := filepath.Join(dir, "main.go")
		if err := os.WriteFile(src, []byte(readmeBlocks(t, "go")[0]), 0o644); err != nil {
			t.Fatal(err)
		}
		pkg, err := filepath.Abs("readme_check_overlay")
		if err != nil {
			t.Fatal(err)
		}
		overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(pkg, "main.go"): src}})
		if err := os.WriteFile(filepath.Join(dir, "overlay.json"), overlay, 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "check.wasm")
		cmd := exec.Command("go", "build", "-overlay", filepath.Join(dir, "overlay.json"),
			"-trimpath", "-buildmode=c-shared", "-o", out, "./readme_check_overlay")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		validate(t, out)
	})
	t.Run("assemblyscript", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("node"); err != nil {
			t.Skip("node not found")
		}
		if _, err := os.Stat(filepath.Join(sdkAS, "node_modules", "assemblyscript", "bin", "asc.js")); err != nil {
			t.Skip("the AssemblyScript compiler is not installed: run npm ci in wasm/sdk/assemblyscript")
		}
		// The README's file imports the SDK relative to a file two folders
		// below wasm/: point it at the SDK from the temporary folder.
		dir := t.TempDir()
		sdk, err := filepath.Abs(filepath.Join(sdkAS, "assembly", "index"))
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(dir, sdk)
		if err != nil {
			t.Fatal(err)
		}
		const imp = `"../../sdk/assemblyscript/assembly/index"`
		code := readmeBlocks(t, "ts")[0]
		if !strings.Contains(code, imp) {
			t.Fatalf("the README's AssemblyScript check does not import %s", imp)
		}
		src := filepath.Join(dir, "check.ts")
		if err := os.WriteFile(src, []byte(strings.Replace(code, imp, `"`+filepath.ToSlash(rel)+`"`, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "check.wasm")
		// Without optimizations (a few seconds less): the module is only
		// validated.
		cmd := exec.Command("node", "node_modules/assemblyscript/bin/asc.js", src, "--config", "asconfig.json",
			"--optimizeLevel", "0", "--shrinkLevel", "0", "-o", out)
		cmd.Dir = sdkAS
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("asc: %v\n%s", err, b)
		}
		validate(t, out)
	})
}

func validate(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t)
	if _, err := rt.Validate(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}
