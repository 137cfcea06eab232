#!/usr/bin/env bash
# Builds the example checks into testdata/, from their sources:
#
#   */main.go   Go, GOOS=wasip1 GOARCH=wasm -buildmode=c-shared (a reactor)
#   */index.ts  AssemblyScript, with the SDK's locked compiler
#               (wasm/sdk/assemblyscript: npm ci, then asc with its asconfig.json)
#   */*.wat     WebAssembly text, with wat2wasm (Debian package wabt)
#
# The built .wasm files are committed; TestReproducible (examples_test.go)
# rebuilds them the same way and compares the bytes. Keep the flags here
# and there the same.
#
# Usage: wasm/examples/build.sh [go] [as] [wat]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")"

GO_FLAGS=(-trimpath -buildvcs=false -buildmode=c-shared)
WAT2WASM_FLAGS=(--debug-names)
SDK_AS=../sdk/assemblyscript

kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(go as wat)
want() { local k; for k in "${kinds[@]}"; do [ "$k" = "$1" ] && return 0; done; return 1; }
mkdir -p testdata

if want go; then
  # One build per example (c-shared takes one main package), one after the
  # other: the first fills the build cache with the SDK and the standard
  # library for wasip1, which parallel builds would each compile again.
  for f in */main.go; do
    name=$(dirname "$f")
    (cd "$name" && GOOS=wasip1 GOARCH=wasm GOFLAGS= CGO_ENABLED=0 \
      go build "${GO_FLAGS[@]}" -o "../testdata/$name.wasm" .)
    echo "built $name"
  done
  go env GOVERSION > testdata/GOVERSION
  echo "built the Go examples with $(cat testdata/GOVERSION)"
fi

if want as; then
  command -v npm >/dev/null 2>&1 || { echo "npm not found: apt-get install nodejs npm" >&2; exit 1; }
  # The compiler exactly as package-lock.json pins it.
  (cd "$SDK_AS" && npm ci --no-audit --no-fund --loglevel=error)
  for f in */index.ts; do
    name=$(dirname "$f")
    (cd "$SDK_AS" && ./node_modules/.bin/asc "../../examples/$f" --config asconfig.json \
      -o "../../examples/testdata/$name.wasm")
    echo "built $name with assemblyscript $(cd "$SDK_AS" && node -p 'require("./node_modules/assemblyscript/package.json").version')"
  done
fi

if want wat; then
  if ! command -v wat2wasm >/dev/null 2>&1; then
    echo "== installing wabt (wat2wasm)"
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get install -y -qq wabt >/dev/null 2>&1 ||
      { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wabt >/dev/null; }
  fi
  for f in */*.wat; do
    name=$(basename "$f" .wat)
    wat2wasm "${WAT2WASM_FLAGS[@]}" -o "testdata/$name.wasm" "$f"
    echo "built $name with wat2wasm $(wat2wasm --version)"
  done
fi
