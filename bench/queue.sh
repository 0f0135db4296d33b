#!/usr/bin/env bash
# The durable queue's benchmarks (design.md §3.7; not tests): send_event latency
# from C with a queue file (sync normal and full), send from Python, and events
# per second delivered from a queue file to the emulator. Prints one line each.
#
#   bash bench/queue.sh            # needs the wheel in .venv (or $BENCH_PYTHON) for the Python line
#                                  # (bash python/run-tests.sh installs it); skipped with a note otherwise
#
# Builds the release library and emulator; the emulator runs on a free port and
# stops with this script.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
OUT=$TARGET/bench-queue
command -v gcc >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y gcc

cargo build --quiet --release -p aep-edge -p aep-edge-emulator
rm -rf "$OUT" && mkdir -p "$OUT"
cp "$TARGET/release/libaep_edge.so" "$OUT/libaep_edge.so.1"
ln -s libaep_edge.so.1 "$OUT/libaep_edge.so"
for prog in queue_send queue_delivery; do
  gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude "bench/$prog.c" -o "$OUT/$prog" \
    -L"$OUT" -laep_edge -Wl,-rpath,"$OUT" -lpthread
done

mkfifo "$OUT/emulator.stdin"
"$TARGET/release/aep-edge-emulator" --port 0 --exit-on-stdin-eof --max-recorded 0 \
  <"$OUT/emulator.stdin" >"$OUT/emulator.out" 2>"$OUT/emulator.err" &
EMULATOR=$!
exec 3>"$OUT/emulator.stdin"
trap 'exec 3>&-; kill $EMULATOR 2>/dev/null; wait $EMULATOR 2>/dev/null' EXIT
for _ in $(seq 1 100); do [ -s "$OUT/emulator.out" ] && break; sleep 0.1; done
BASE_URL=$(head -n 1 "$OUT/emulator.out")

"$OUT/queue_send" "$BASE_URL" 20000 normal
"$OUT/queue_send" "$BASE_URL" 2000 full
PY=${BENCH_PYTHON:-$ROOT/.venv/bin/python}
if [ -x "$PY" ] && "$PY" -c "import aep_edge" 2>/dev/null; then
  "$PY" bench/queue_send.py "$BASE_URL" 20000
else
  echo "python send  skipped: no aep_edge wheel in .venv (run bash python/run-tests.sh first)"
fi
"$OUT/queue_delivery" "$BASE_URL" 100000 100
