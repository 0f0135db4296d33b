#!/usr/bin/env bash
# The Node.js binding's tests (node --test) against an emulator. Installs
# Node.js and npm when missing and koffi from the lock file (npm ci).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
ensure_tools node:nodejs npm:npm
binding_setup
say "node $(node --version): npm ci, node --test"
(cd bindings/node && npm ci --no-audit --no-fund --loglevel=error && node --test test/)
