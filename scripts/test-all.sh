#!/usr/bin/env bash
# Every test of the project, from a fresh clone on a fresh machine: lint, the
# Rust unit and integration tests (core and emulator, the header check), the C
# and C++ programs against the C ABI (shared and static, under ASan/UBSan, TSan
# and valgrind too), the runtime bindings (LuaJIT, Go, Node.js, Java, C#), the
# installed C/C++ package with its CMake and pkg-config consumers and the kiosk
# example, the fuzz targets (seed replay and a short run of each), and the
# Python package built as a wheel and tested with pytest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_rust
ensure_tools cc:gcc c++:g++ valgrind:valgrind python3:python3

# A full run builds about 5 GB (debug, release, sanitizer, fuzz and wheel
# builds); a full disk shows up later as a linker crash, so say it first.
free_kb=$(df -Pk "$ROOT" | awk 'NR == 2 {print $4}')
say "disk: $((free_kb / 1048576)) GB free under $ROOT"
if [ "$free_kb" -lt 6291456 ]; then
    echo "warning: less than 6 GB free; the builds below may run out of disk" >&2
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (core and emulator)"
cargo clippy --quiet --all-targets -- -D warnings

say "Rust tests: core, C ABI header, emulator"
log="$TARGET_DIR/rust-tests.log"
mkdir -p "$TARGET_DIR"
cargo test --quiet >"$log" 2>&1 || { cat "$log"; exit 1; }
grep -E "^test result:" "$log"
rust_passed=$(grep -oE "^test result: ok\. [0-9]+ passed" "$log" | awk '{s+=$4} END {print s+0}')

say "Emulator live view in headless chromium"
bash emulator/tests/live-view/run.sh

say "C and C++ programs against the C ABI"
bash tests/c/run.sh

say "Runtime bindings over the C ABI: LuaJIT, Go, Node.js, Java (FFM), C# on Mono"
bash bindings/test-all.sh

say "C/C++ package: scripts/install.sh, CMake and pkg-config consumers (shared and static)"
bash tests/consumers/run.sh

say "fuzz targets: replay the seeds and regression inputs, then fuzz each for 30 s"
(cd fuzz && cargo fmt --all -- --check && cargo clippy --quiet --all-targets -- -D warnings)
cargo test --quiet --manifest-path fuzz/Cargo.toml
bash fuzz/run.sh "${AEP_EDGE_FUZZ_SECONDS:-30}"

say "Python package"
bash python/run-tests.sh

say "cargo clippy (python crate, with the test environment's Python)"
PYO3_PYTHON="$ROOT/.venv/bin/python" cargo clippy --quiet -p aep-edge-python --all-targets -- -D warnings

say "every test passed"
echo "Rust: $rust_passed passed, 0 failed"
