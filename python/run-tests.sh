#!/usr/bin/env bash
# The Python test suite, run against INSTALLED distributions, from a fresh clone:
#
#   1. scripts/python-dist.sh builds the manylinux2014 abi3 wheel and the sdist;
#   2. the wheel is installed in fresh venvs on CPython 3.9 and 3.13 (pyenv's)
#      and the whole suite runs in each;
#   3. the sdist is installed with pip from scratch (it compiles the Rust) in a
#      fresh 3.13 venv and the whole suite runs again;
#   4. the PySpark bulk-delivery test (tests/spark/) runs in the 3.13 wheel venv.
#
#   python/run-tests.sh [pytest args...]     (passed to every suite run)
#
# Environment: CARGO_TARGET_DIR is respected (default <repo>/target) and shared
# by the wheel and the sdist builds. Exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
source "$root/scripts/lib.sh"

target="${CARGO_TARGET_DIR:-$root/target}"
# An absolute path: maturin, pip and the tests run from other directories.
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export CARGO_TARGET_DIR="$target"

# The repository's own venv: the python crate's clippy step uses its interpreter.
[ -x "$root/.venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$root/.venv"

# CPython X.Y from pyenv (these machines have 3.9 and 3.13); fail loudly if absent.
pyenv_python() {
    local version="$1" pyenv_root candidate
    pyenv_root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
    for candidate in "$pyenv_root"/versions/"$version".*/bin/python"$version"; do
        [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
    command -v "python$version" >/dev/null 2>&1 && { command -v "python$version"; return 0; }
    echo "CPython $version is not installed (looked in $pyenv_root/versions and PATH)" >&2
    return 1
}
py39="$(pyenv_python 3.9)"
py313="$(pyenv_python 3.13)"

say "building the emulator (for the suite's fixtures)"
cargo build --release -p aep-edge-emulator
export AEP_EDGE_EMULATOR="$target/release/aep-edge-emulator"

dist="$target/python-dist"
bash "$root/scripts/python-dist.sh" "$dist"
wheel="$(ls "$dist"/aep_edge-*-manylinux*.whl)"
sdist="$(ls "$dist"/aep_edge-*.tar.gz)"

venvs="$target/python-venvs"
mkdir -p "$venvs"
test_deps=(pytest mypy "pyright[nodejs]" pydantic)

# fresh_venv NAME PYTHON: a new venv with the test tools, its path on stdout.
fresh_venv() {
    local venv="$venvs/$1"
    rm -rf "$venv"
    "$2" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${test_deps[@]}" >&2
    echo "$venv"
}

# run_suite VENV LABEL [pytest args]: from the repository root with the pytest
# script (not `python -m pytest`, which would put the cwd on sys.path), so
# aep_edge comes from the installation.
run_suite() {
    local venv="$1" label="$2"
    shift 2
    say "the suite on $label"
    "$venv/bin/pytest" -p no:cacheprovider "$here/tests" --ignore="$here/tests/spark" "$@"
}

say "wheel on CPython 3.9"
venv="$(fresh_venv wheel-3.9 "$py39")"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"
run_suite "$venv" "the wheel, $("$venv/bin/python" -V)" "$@"

say "wheel on CPython 3.13"
venv313="$(fresh_venv wheel-3.13 "$py313")"
"$venv313/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"
run_suite "$venv313" "the wheel, $("$venv313/bin/python" -V)" "$@"

say "sdist built by pip from scratch on CPython 3.13"
venv="$(fresh_venv sdist-3.13 "$py313")"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-binary aep-edge "$sdist"
run_suite "$venv" "the sdist install, $("$venv/bin/python" -V)" "$@"

say "PySpark bulk delivery (local[2])"
bash "$here/tests/spark/run.sh" "$venv313"
