#!/usr/bin/env bash
# The benchmark suite, in one command from a clean clone:
#
#   bash bench/run.sh            # the full run (about 5 minutes on 2 cores)
#   BENCH_QUICK=1 bash bench/run.sh   # fewer calls, to try it out
#
# Builds the release library, the emulator and the bench programs; installs
# what it needs (libcurl's headers from Debian, urllib3/httpx/requests and the
# aep_edge wheel into target/bench-venv); starts one emulator; runs the C
# clients (raw socket, libcurl, aep_edge_interact), the Python clients (1 and
# 8 threads, and interact_async gathered), the Rust measurements (allocations,
# statePath, RSS) and the emulator's capacity; stops the emulator; prints the
# table (bench/report.py) and keeps it in target/bench/report.md.
#
# Not a test (speed is measured here, never asserted in tests): the table's
# last section says which of issue 8's targets were met on this machine.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export CARGO_TARGET_DIR="$target"
out="$target/bench"
mkdir -p "$out"

say() { if [ -t 2 ]; then printf '\033[1m==> %s\033[0m\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi; }

if [ -n "${BENCH_QUICK:-}" ]; then
    c_calls=1000 c_rounds=3 py_calls=600 py_rounds=1 mem_calls=20000 cap_calls=5000
else
    c_calls=5000 c_rounds=5 py_calls=3000 py_rounds=3 mem_calls=100000 cap_calls=20000
fi

# --- what a fresh machine lacks ---------------------------------------------
apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    say "installing $*"
    $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null 2>&1 || {
        $sudo apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null
    }
}
command -v cargo >/dev/null || { echo "cargo is missing: install Rust (https://rustup.rs)" >&2; exit 1; }
command -v cc >/dev/null || apt_install gcc libc6-dev
echo '#include <curl/curl.h>' | cc -E - >/dev/null 2>&1 || apt_install libcurl4-openssl-dev
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

# --- builds -------------------------------------------------------------------
say "building the release library, the emulator and the Rust bench"
cargo build --quiet --release -p aep-edge --lib
cargo build --quiet --release -p aep-edge-emulator
cargo build --quiet --release -p aep-edge --example bench
ln -sf libaep_edge.so "$target/release/libaep_edge.so.1"

say "building the C bench"
cc -O2 -Wall -I include bench/c_bench.c -o "$out/c_bench" \
    -L "$target/release" -Wl,-rpath,"$target/release" -laep_edge -lcurl -lpthread

venv="$target/bench-venv"
py="$venv/bin/python"
if [ ! -x "$py" ]; then
    say "creating $venv"
    python3 -m venv "$venv"
fi
"$py" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" urllib3 httpx requests
say "building and installing the aep_edge wheel"
wheels="$target/bench-wheels"
rm -rf "$wheels"
"$venv/bin/maturin" build --quiet --release --manifest-path python/Cargo.toml \
    --interpreter "$py" --out "$wheels" >/dev/null 2>&1 ||
    "$venv/bin/maturin" build --release --manifest-path python/Cargo.toml --interpreter "$py" --out "$wheels"
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/aep_edge-*.whl

# --- the emulator ---------------------------------------------------------------
emulator_pid=""
stop_emulator() {
    if [ -n "$emulator_pid" ]; then
        kill "$emulator_pid" 2>/dev/null || true
        wait "$emulator_pid" 2>/dev/null || true
        emulator_pid=""
    fi
}
trap stop_emulator EXIT
url_file="$out/emulator-url"
: >"$url_file"
"$target/release/aep-edge-emulator" --port 0 --max-recorded 0 >"$url_file" 2>/dev/null &
emulator_pid=$!
base_url=""
for _ in $(seq 1 200); do
    base_url="$(head -n 1 "$url_file")"
    case "$base_url" in http*) break ;; esac
    sleep 0.05
done
case "$base_url" in http*) ;; *) echo "the emulator did not start" >&2; exit 1 ;; esac
say "emulator at $base_url"

results="$out/results.jsonl"
: >"$results"
say "C: raw socket, libcurl, aep_edge_interact ($c_rounds rounds of $c_calls calls)"
"$out/c_bench" "$base_url" "$c_calls" "$c_rounds" | tee -a "$results"
say "Python: aep_edge, urllib3, httpx, requests; interact_async gathered"
"$py" bench/py_bench.py "$base_url" "$py_calls" "$py_rounds" | tee -a "$results"
say "Rust: allocations per call, statePath on/off, RSS over $mem_calls calls"
"$target/release/examples/bench" "$base_url" "$mem_calls" | tee -a "$results"
say "the emulator's capacity"
"$out/c_bench" "$base_url" "$cap_calls" --capacity 4 | tee -a "$results"
stop_emulator

machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), \
$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
python3 bench/report.py "$results" "$machine" | tee "$out/report.md"

# The durable queue (send latency, delivery rate) and gathered asyncio calls,
# each with an emulator of its own, after the table above.
say "the durable queue: send_event and send latency, delivery rate"
BENCH_PYTHON="$py" bash bench/queue.sh | tee "$out/queue.txt"
say "asyncio: gathered interact_async on 64 core workers"
AEP_EDGE_EMULATOR="$target/release/aep-edge-emulator" "$py" bench/asyncio_bench.py | tee "$out/asyncio.txt"
