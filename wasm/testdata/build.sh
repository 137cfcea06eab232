#!/usr/bin/env bash
# Builds the test guests of package wasm: every testdata/*.wat with
# wat2wasm (Debian package wabt, installed here if missing) and the Go
# guest in testdata/goguest. The built .wasm files are committed;
# TestGuestsReproducible checks that this script reproduces them.
#
# Usage: wasm/testdata/build.sh [--no-go]
set -euo pipefail
cd "$(dirname "$0")"

# Keep these flags in sync with guests_test.go.
WAT2WASM_FLAGS=(--debug-names)

if ! command -v wat2wasm >/dev/null 2>&1; then
  echo "== installing wabt (wat2wasm)"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get install -y -qq wabt >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wabt >/dev/null; }
fi

for wat in *.wat; do
  wat2wasm "${WAT2WASM_FLAGS[@]}" -o "${wat%.wat}.wasm" "$wat"
done
echo "built $(ls -1 *.wat | wc -l) WAT guests with $(wat2wasm --version)"

if [ "${1:-}" != "--no-go" ]; then
  # Reproducible: same toolchain, -trimpath, no VCS stamp.
  (cd goguest && GOOS=wasip1 GOARCH=wasm GOFLAGS= go build -trimpath -buildvcs=false \
    -buildmode=c-shared -o ../goguest.wasm .)
  go env GOVERSION > goguest/GOVERSION
  echo "built goguest.wasm with $(cat goguest/GOVERSION)"
fi
