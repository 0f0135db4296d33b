#!/usr/bin/env bash
# The Go binding's tests (go test, cgo) against an emulator. Installs Go when missing.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
ensure_tools go:golang-go gcc:gcc
binding_setup
lib_dir=$(dirname "$AEP_EDGE_LIB")
ln -s libaep_edge.so.1 "$lib_dir/libaep_edge.so"
say "$(go version): go test ./bindings/go"
cd bindings/go
CGO_ENABLED=1 CGO_LDFLAGS="-L$lib_dir -Wl,-rpath,$lib_dir" go test -count=1 -race -v ./... 2>&1 | grep -v '^=== RUN'
exit "${PIPESTATUS[0]}"
