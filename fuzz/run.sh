#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each (default 30) with
# libFuzzer and AddressSanitizer, starting from the committed seeds:
#
#   bash fuzz/run.sh                 # 30 s per target (what scripts/test-all.sh runs)
#   bash fuzz/run.sh 3600 response   # one target for an hour
#
# Needs the nightly toolchain (these machines have it beside stable) and
# cargo-fuzz, which this script installs from crates.io when missing. The
# growing corpus lives in fuzz/corpus/<target>/ (not committed). A finding
# stops the run with the input's path: fix the bug, then keep the input in
# fuzz/regressions/<target>/, where `cargo test --manifest-path
# fuzz/Cargo.toml` replays it on every test run.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(config request response token state_file text_paths_request text_paths_response)

rustup toolchain list | grep -q '^nightly' || {
    echo "fuzz/run.sh: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
    exit 1
}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet

cargo +nightly fuzz build --features fuzzing
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "fuzz: $target for ${seconds}s"
    log=$(mktemp)
    if ! cargo +nightly fuzz run --features fuzzing "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz: $target found a failure; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^Done [0-9]+ runs' "$log" || true
    rm -f "$log"
done
echo "fuzz: ${#targets[@]} target(s), no findings"
