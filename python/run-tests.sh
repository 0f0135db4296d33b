#!/usr/bin/env bash
# Builds the emulator and the aep_edge wheel, installs the wheel into .venv at
# the repository root, and runs the Python test suite against the INSTALLED
# package. Works from a fresh clone; exits non-zero on any failure.
#
#   python/run-tests.sh [pytest args...]
#
# Environment: PYTHON (default python3) creates the venv; CARGO_TARGET_DIR is
# respected (default <repo>/target).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" pytest mypy

target="${CARGO_TARGET_DIR:-$root/target}"
# An absolute path: maturin and the tests run from other directories.
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export CARGO_TARGET_DIR="$target"

echo "==> building the emulator"
cargo build --release -p aep-edge-emulator
emulator="$target/release/aep-edge-emulator"

echo "==> building the wheel"
# Stale extensions from `maturin develop` would shadow nothing installed, but
# keep the source tree clean (practices.md 12).
rm -f "$here"/aep_edge/_native*.so "$here"/aep_edge/_native*.pyd
wheels="$target/python-wheels"
rm -rf "$wheels"
"$venv/bin/maturin" build --release --manifest-path "$here/Cargo.toml" \
    --interpreter "$py" --out "$wheels"
wheel="$(ls "$wheels"/aep_edge-*.whl | head -n 1)"

echo "==> installing $wheel"
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"

echo "==> running the tests"
export AEP_EDGE_EMULATOR="$emulator"
# From the repository root with the pytest script (not `python -m pytest`, which
# would put the current directory on sys.path): aep_edge comes from the wheel.
exec "$venv/bin/pytest" -p no:cacheprovider "$here/tests" "$@"
