#!/usr/bin/env bash
# Builds libaep_edge and the emulator, starts two emulators, then compiles and runs
# the C ABI tests: C (shared library), the C robustness tests (robust_test.c),
# C (static library), C++ (two translation units), C under ASan + UBSan and
# under TSan, the async-call tests (async_test.c), and the C programs (shared)
# under valgrind memcheck. Exits non-zero on any failure.
#
#   bash tests/c/run.sh
#
# Respects CARGO_TARGET_DIR (default: target/). Build output goes to
# $CARGO_TARGET_DIR/ctest/. Environment knobs:
#   AEP_EDGE_SKIP_VALGRIND=1       skip the valgrind step
#   AEP_EDGE_VALGRIND_TIME_SCALE=N stretch delays/timeouts under valgrind (default 10)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
OUT=$TARGET/ctest
LIB=$OUT/lib

say() { printf '\n=== %s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
need_pkgs=()
command -v gcc >/dev/null || need_pkgs+=(gcc)
command -v g++ >/dev/null || need_pkgs+=(g++)
if [ "${AEP_EDGE_SKIP_VALGRIND:-0}" != 1 ]; then
  command -v valgrind >/dev/null || need_pkgs+=(valgrind)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing ${need_pkgs[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y "${need_pkgs[@]}" || {
    $SUDO apt-get update && $SUDO apt-get install -y "${need_pkgs[@]}"
  } || die "could not install ${need_pkgs[*]}"
fi

# ---------------------------------------------------------------- build
say "cargo build -p aep-edge -p aep-edge-emulator (CARGO_TARGET_DIR=$TARGET)"
CARGO_TARGET_DIR=$TARGET cargo build -p aep-edge -p aep-edge-emulator || die "cargo build failed"

# Private copies, so a concurrent cargo build cannot swap the library mid-run. The
# shared library's SONAME is libaep_edge.so.1: that is the name the loader looks for.
rm -rf "$OUT" && mkdir -p "$LIB" || die "cannot create $OUT"
cp "$TARGET/debug/libaep_edge.so" "$LIB/libaep_edge.so.1"
ln -s libaep_edge.so.1 "$LIB/libaep_edge.so"
cp "$TARGET/debug/libaep_edge.a" "$LIB/libaep_edge.a"
cp "$TARGET/debug/aep-edge-emulator" "$OUT/aep-edge-emulator"

# ---------------------------------------------------------------- emulators
# Each reads a FIFO this script holds open (--exit-on-stdin-eof): they exit when the
# script does, however it ends; the trap also kills them by pid.
PIDS=()
cleanup() {
  exec 3>&- 2>/dev/null
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkfifo "$OUT/emulators.stdin"
start_emulator() { # name, flags...
  local name=$1; shift
  "$OUT/aep-edge-emulator" --port 0 --exit-on-stdin-eof "$@" \
    <"$OUT/emulators.stdin" >"$OUT/$name.out" 2>"$OUT/$name.err" &
  PIDS+=($!)
}
# --lenient-identity: these tests send events without identity on session "none" (the
# robustness tests' event has none, so device sessions go through the identity gate);
# the emulator's identity rule (EXEG-0306-400) has its own tests.
start_emulator main --datastream known-ds --lenient-identity
start_emulator auth --require-auth --lenient-identity
exec 3>"$OUT/emulators.stdin"

first_line() { # file -> the base URL once printed
  local i
  for i in $(seq 1 100); do
    if [ -s "$1" ]; then head -n 1 "$1"; return 0; fi
    sleep 0.1
  done
  return 1
}
BASE_URL=$(first_line "$OUT/main.out") || die "emulator (main) did not start: $(cat "$OUT/main.err")"
AUTH_BASE_URL=$(first_line "$OUT/auth.out") || die "emulator (auth) did not start: $(cat "$OUT/auth.err")"
case "$BASE_URL$AUTH_BASE_URL" in http://127.0.0.1:*http://127.0.0.1:*) ;; *) die "unexpected emulator URLs: $BASE_URL $AUTH_BASE_URL" ;; esac
echo "emulator: $BASE_URL (--datastream known-ds), $AUTH_BASE_URL (--require-auth)"
export AEP_EDGE_BASE_URL=$BASE_URL AEP_EDGE_AUTH_BASE_URL=$AUTH_BASE_URL
# The panic tests make the library print its panic message; keep it to one line.
export RUST_BACKTRACE=0
unset AEP_EDGE_TEST_PANIC AEP_EDGE_TEST_TIME_SCALE

# ---------------------------------------------------------------- steps
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -g -Iinclude)
CXXFLAGS=(-std=c++17 -Wall -Wextra -Werror -pedantic -g -Iinclude)
RESULTS=()
FAILED=0

# step NAME LOGFILE COMMAND...: runs it, shows its output, records the outcome and
# the program's final "N passed, M failed" line.
step() {
  local name=$1 log=$2; shift 2
  say "$name"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local tally
  tally=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  if [ $rc -eq 0 ]; then
    RESULTS+=("PASS  $name${tally:+  ($tally)}")
  else
    RESULTS+=("FAIL  $name (exit $rc)${tally:+  ($tally)}")
    FAILED=1
  fi
  return $rc
}

compile_shared() {
  gcc "${CFLAGS[@]}" tests/c/abi_test.c -o "$OUT/abi_test_shared" \
    -L"$LIB" -laep_edge -Wl,-rpath,"$LIB" -lpthread || return 1
  # Linked by SONAME: the executable needs libaep_edge.so.1.
  readelf -d "$OUT/abi_test_shared" | grep -q 'NEEDED.*\[libaep_edge\.so\.1\]' \
    || { echo "abi_test_shared does not need libaep_edge.so.1"; return 1; }
}
compile_queue() {
  gcc "${CFLAGS[@]}" tests/c/queue_test.c -o "$OUT/queue_test" \
    -L"$LIB" -laep_edge -Wl,-rpath,"$LIB" -lpthread
}
compile_robust() {
  gcc "${CFLAGS[@]}" tests/c/robust_test.c -o "$OUT/robust_test" \
    -L"$LIB" -laep_edge -Wl,-rpath,"$LIB" -lpthread
}
compile_static() {
  gcc "${CFLAGS[@]}" tests/c/abi_test.c -o "$OUT/abi_test_static" \
    "$LIB/libaep_edge.a" -lpthread -ldl -lm -lrt -lutil || return 1
  if readelf -d "$OUT/abi_test_static" | grep -q 'libaep_edge'; then
    echo "abi_test_static depends on the shared library"; return 1
  fi
}
compile_server() {
  gcc "${CFLAGS[@]}" tests/c/server_test.c -o "$OUT/server_test" \
    -L"$LIB" -laep_edge -Wl,-rpath,"$LIB"
}
# The C example of README.md's "Server-side use" section, as written there.
compile_readme_server() {
  awk '/^## Server-side use/{f=1} f&&/^```c$/{c=1;next} c&&/^```$/{exit} c' README.md >"$OUT/readme_server.c" &&
    [ -s "$OUT/readme_server.c" ] &&
    gcc "${CFLAGS[@]}" "$OUT/readme_server.c" -o "$OUT/readme_server" -L"$LIB" -laep_edge -Wl,-rpath,"$LIB"
}
run_readme_server() {
  local out
  out=$("$OUT/readme_server" "{\"datastreamId\":\"known-ds\",\"session\":\"none\",\"baseUrl\":\"$BASE_URL\"}") || return 1
  echo "$out"
  [ "$(grep -c '^impression reported$' <<<"$out")" = 3 ] || { echo "expected 3 impressions"; return 1; }
  grep -q '^next state: .*_identity' <<<"$out" || { echo "the identity entry was not kept"; return 1; }
}
compile_cpp() {
  g++ "${CXXFLAGS[@]}" -c tests/cpp/abi_test.cpp -o "$OUT/abi_test_cpp.o" &&
    g++ "${CXXFLAGS[@]}" -c tests/cpp/second_tu.cpp -o "$OUT/second_tu.o" &&
    g++ "$OUT/abi_test_cpp.o" "$OUT/second_tu.o" -o "$OUT/abi_test_cpp" \
      -L"$LIB" -laep_edge -Wl,-rpath,"$LIB" -lpthread
}
compile_wrapper() {
  g++ "${CXXFLAGS[@]}" -Ibindings/cpp -c tests/cpp/wrapper_test.cpp -o "$OUT/wrapper_test.o" &&
    g++ "${CXXFLAGS[@]}" -Ibindings/cpp -c tests/cpp/wrapper_second_tu.cpp -o "$OUT/wrapper_second_tu.o" &&
    g++ "$OUT/wrapper_test.o" "$OUT/wrapper_second_tu.o" -o "$OUT/wrapper_test" \
      -L"$LIB" -laep_edge -Wl,-rpath,"$LIB" -lpthread
}
NOEXCEPT_FLAGS=(-fno-exceptions -DAEP_EDGE_NO_EXCEPTIONS)
compile_wrapper_noexcept() {
  g++ "${CXXFLAGS[@]}" "${NOEXCEPT_FLAGS[@]}" -Ibindings/cpp -c tests/cpp/wrapper_noexcept_test.cpp -o "$OUT/wrapper_noexcept_test.o" &&
    g++ "${CXXFLAGS[@]}" "${NOEXCEPT_FLAGS[@]}" -Ibindings/cpp -c tests/cpp/wrapper_noexcept_second_tu.cpp -o "$OUT/wrapper_noexcept_second_tu.o" &&
    g++ -fno-exceptions "$OUT/wrapper_noexcept_test.o" "$OUT/wrapper_noexcept_second_tu.o" -o "$OUT/wrapper_noexcept_test" \
      -L"$LIB" -laep_edge -Wl,-rpath,"$LIB" -lpthread
}
# Sanitizer builds of the C test program. ASan + UBSan instrument the C side and
# intercept every malloc/free, the library's included: they catch a host-side
# overflow, a use after free, a string freed with the wrong allocator, and leaks
# of strings the library returned. The library itself is not instrumented (Rust
# std is prebuilt), so TSan sees only the C side: races between the host's
# threads and in its callbacks. tests/c/tsan.supp tells it not to track the
# uninstrumented library's own allocations and locks, which it cannot see
# synchronise and would report as races.
SANITIZE_ASAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
compile_sanitized() { # kind (asan|tsan) [program, default abi_test]
  local flags program=${2:-abi_test}
  if [ "$1" = asan ]; then flags=("${SANITIZE_ASAN[@]}"); else flags=(-fsanitize=thread); fi
  gcc "${CFLAGS[@]}" "${flags[@]}" "tests/c/$program.c" -o "$OUT/${program}_$1" \
    -L"$LIB" -laep_edge -Wl,-rpath,"$LIB" -lpthread
}
run_asan() { # [program, default abi_test]
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$OUT/${1:-abi_test}_asan"
}
run_tsan() {
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$ROOT/tests/c/tsan.supp" \
    "$OUT/abi_test_tsan"
}
compile_async() {
  gcc "${CFLAGS[@]}" tests/c/async_test.c -o "$OUT/async_test" \
    -L"$LIB" -laep_edge -Wl,-rpath,"$LIB" -lpthread
}
run_valgrind_async() {
  AEP_EDGE_TEST_TIME_SCALE=${AEP_EDGE_VALGRIND_TIME_SCALE:-10} \
    valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite "$OUT/async_test"
}
run_valgrind() {
  AEP_EDGE_TEST_TIME_SCALE=${AEP_EDGE_VALGRIND_TIME_SCALE:-10} \
    valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite "$OUT/abi_test_shared"
}
run_valgrind_queue() {
  valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite "$OUT/queue_test" "$BASE_URL"
}

step "compile C (shared)" "$OUT/compile_shared.log" compile_shared &&
  step "run C (shared libaep_edge.so.1)" "$OUT/c_shared.log" "$OUT/abi_test_shared"
step "compile C queue test (shared)" "$OUT/compile_queue.log" compile_queue &&
  step "run C queue test (send_event, flush, stats, outcomes, close)" "$OUT/c_queue.log" "$OUT/queue_test" "$BASE_URL"
# Lifecycle and robustness (design.md §3.10): every wait ends at close, callbacks
# re-enter, a poisoned client closes, absurd numbers from the emulator, the proxy rule.
step "compile C robustness tests" "$OUT/compile_robust.log" compile_robust &&
  step "run C robustness tests (lifecycle, re-entrant callbacks, absurd values)" "$OUT/robust.log" "$OUT/robust_test"
step "compile C (static)" "$OUT/compile_static.log" compile_static &&
  step "run C (static libaep_edge.a)" "$OUT/c_static.log" "$OUT/abi_test_static"
step "compile C server-side test (tests/c/server_test.c)" "$OUT/compile_server.log" compile_server &&
  step "run C server-side test" "$OUT/server.log" "$OUT/server_test" "$BASE_URL"
step "compile README.md's server-side C example" "$OUT/compile_readme_server.log" compile_readme_server &&
  step "run README.md's server-side C example" "$OUT/readme_server.log" run_readme_server
step "compile C++ (two translation units)" "$OUT/compile_cpp.log" compile_cpp &&
  step "run C++" "$OUT/cpp.log" "$OUT/abi_test_cpp"
step "compile C++ wrapper (bindings/cpp/aep_edge.hpp, two translation units)" "$OUT/compile_wrapper.log" compile_wrapper &&
  step "run C++ wrapper" "$OUT/wrapper.log" "$OUT/wrapper_test"
step "compile C++ wrapper with -fno-exceptions (AEP_EDGE_NO_EXCEPTIONS, two translation units)" "$OUT/compile_wrapper_noexcept.log" compile_wrapper_noexcept &&
  step "run C++ wrapper (no exceptions)" "$OUT/wrapper_noexcept.log" "$OUT/wrapper_noexcept_test"
step "compile C (ASan + UBSan)" "$OUT/compile_asan.log" compile_sanitized asan &&
  step "run C under ASan + UBSan" "$OUT/asan.log" run_asan
# The robustness tests modify returned strings before freeing them: ASan checks that.
step "compile C robustness tests (ASan + UBSan)" "$OUT/compile_robust_asan.log" compile_sanitized asan robust_test &&
  step "run C robustness tests under ASan + UBSan" "$OUT/robust_asan.log" run_asan robust_test
step "compile C (TSan)" "$OUT/compile_tsan.log" compile_sanitized tsan &&
  step "run C under TSan" "$OUT/tsan.log" run_tsan
step "compile C async calls (tests/c/async_test.c)" "$OUT/compile_async.log" compile_async &&
  step "run C async calls" "$OUT/async.log" "$OUT/async_test"
if [ "${AEP_EDGE_SKIP_VALGRIND:-0}" = 1 ]; then
  RESULTS+=("SKIP  valgrind (AEP_EDGE_SKIP_VALGRIND=1)")
elif [ -x "$OUT/abi_test_shared" ]; then
  step "valgrind memcheck: C (shared)" "$OUT/valgrind.log" run_valgrind
  [ -x "$OUT/async_test" ] &&
    step "valgrind memcheck: C async calls" "$OUT/valgrind_async.log" run_valgrind_async
fi
if [ "${AEP_EDGE_SKIP_VALGRIND:-0}" != 1 ] && [ -x "$OUT/queue_test" ]; then
  step "valgrind memcheck: C queue test" "$OUT/valgrind_queue.log" run_valgrind_queue
fi
if [ "${AEP_EDGE_SKIP_VALGRIND:-0}" != 1 ] && [ -x "$OUT/server_test" ]; then
  step "valgrind memcheck: C server-side test" "$OUT/valgrind_server.log" \
    valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite "$OUT/server_test" "$BASE_URL"
fi

say "summary"
printf '%s\n' "${RESULTS[@]}"
if [ $FAILED -ne 0 ]; then
  echo "C/C++ ABI tests: FAILED (logs in $OUT)"
  exit 1
fi
echo "C/C++ ABI tests: all passed"
