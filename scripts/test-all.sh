#!/usr/bin/env bash
# Every test of the project, from a fresh clone on a fresh machine: lint, the
# Rust unit and integration tests (core and emulator, the header check), the C
# and C++ programs against the C ABI (shared and static, under valgrind too),
# and the Python package built as a wheel and tested with pytest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_rust
ensure_tools cc:gcc c++:g++ valgrind:valgrind python3:python3

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (core and emulator)"
cargo clippy --quiet --all-targets -- -D warnings

say "Rust tests: core, C ABI header, emulator"
cargo test --quiet 2>&1 | tee "$TARGET_DIR/rust-tests.log" | grep -E "^(test result|running|error|failures:|---- )" || true
if grep -qE "^test result: FAILED|^error" "$TARGET_DIR/rust-tests.log" || ! grep -q "^test result: ok" "$TARGET_DIR/rust-tests.log"; then
    cat "$TARGET_DIR/rust-tests.log"
    exit 1
fi
passed=$(grep -oE "^test result: ok\. [0-9]+ passed" "$TARGET_DIR/rust-tests.log" | awk '{s+=$4} END {print s}')
say "Rust: $passed tests passed"

say "C and C++ programs against the C ABI"
bash tests/c/run.sh

say "Python package"
bash python/run-tests.sh

say "every test passed"
