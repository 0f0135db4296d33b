#!/usr/bin/env bash
# The LuaJIT binding's test against an emulator. Installs luajit when missing.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
ensure_tools luajit:luajit
binding_setup
say "LuaJIT $(luajit -v | head -n 1): bindings/lua/test.lua"
luajit bindings/lua/test.lua
