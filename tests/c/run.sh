#!/usr/bin/env bash
# Builds libaep_edge and the emulator, starts two emulators, then compiles and runs
# the C ABI tests. Every C program (the table C_PROGRAMS below) runs linked to the
# shared library, under ASan + UBSan and under valgrind memcheck; the threaded
# ones also under TSan; abi_test also linked statically. Then the C++ programs
# (two translation units each; the wrapper with and without exceptions) and the
# README's server-side C example. Exits non-zero on any failure.
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
SHARED_LINK=(-L"$LIB" -laep_edge -Wl,-rpath,"$LIB" -lpthread)
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

# The C test programs (tests/c/NAME.c): NAME, what it runs under beside ASan +
# UBSan (tsan, valgrind), and what it covers. Each reads the emulators' URLs from
# AEP_EDGE_BASE_URL / AEP_EDGE_AUTH_BASE_URL. Their checks, clock, emulator control
# and client helpers live in tests/c/test_util.h.
#
# ASan + UBSan instrument the C side and intercept every malloc/free, the
# library's included: they catch a host-side overflow, a use after free, a string
# freed with the wrong allocator (robust_test modifies returned strings before
# freeing them), and leaks of strings the library returned. The library itself is
# not instrumented (Rust std is prebuilt), so TSan sees only the C side: races
# between the host's threads and in its callbacks. tests/c/tsan.supp tells it not
# to track the library's own allocations and locks, which it cannot see
# synchronise. queue_test is left out of TSan: its fork test hangs under TSan, and
# its outcome callbacks run on the dispatcher, whose hand-offs TSan cannot see.
# robust_test is left out of valgrind: its fork and close checks measure wall
# time that valgrind stretches past their bounds; LeakSanitizer (with ASan)
# checks its leaks instead.
C_PROGRAMS=(
  "abi_test     tsan,valgrind  every status, threads, close in flight, logging, sessions"
  "robust_test  tsan           lifecycle (design.md 3.10): waits end at close, re-entrant callbacks, fork, absurd values"
  "async_test   tsan,valgrind  async calls: callbacks exactly once, poll, QUEUE_FULL, close with 1000 pending, free"
  "queue_test   valgrind       the durable queue: send_event, flush, stats, outcomes, close, fork"
  "server_test  tsan,valgrind  server-side visitors over three visits, proposition events"
)
SANITIZE_ASAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

compile_c() { # program variant (shared|static|asan|tsan)
  local program=$1 variant=$2 src="tests/c/$1.c" exe="$OUT/$1_$2"
  case $variant in
    shared)
      gcc "${CFLAGS[@]}" "$src" -o "$exe" "${SHARED_LINK[@]}" || return 1
      # Linked by SONAME: the executable needs libaep_edge.so.1.
      readelf -d "$exe" | grep -q 'NEEDED.*\[libaep_edge\.so\.1\]' \
        || { echo "$exe does not need libaep_edge.so.1"; return 1; } ;;
    static)
      gcc "${CFLAGS[@]}" "$src" -o "$exe" "$LIB/libaep_edge.a" -lpthread -ldl -lm -lrt -lutil || return 1
      if readelf -d "$exe" | grep -q 'libaep_edge'; then
        echo "$exe depends on the shared library"; return 1
      fi ;;
    asan) gcc "${CFLAGS[@]}" "${SANITIZE_ASAN[@]}" "$src" -o "$exe" "${SHARED_LINK[@]}" ;;
    tsan) gcc "${CFLAGS[@]}" -fsanitize=thread "$src" -o "$exe" "${SHARED_LINK[@]}" ;;
  esac
}
run_c() { # program variant
  local exe="$OUT/$1_$2"
  case $2 in
    asan)
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$exe" ;;
    tsan)
      TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$ROOT/tests/c/tsan.supp" "$exe" ;;
    valgrind)
      # A forked child's exit under valgrind reports the parent's memory it
      # inherited; the tests that fork read their child's answer from a pipe.
      AEP_EDGE_TEST_TIME_SCALE=${AEP_EDGE_VALGRIND_TIME_SCALE:-10} \
        valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite --child-silent-after-fork=yes "$OUT/$1_shared" ;;
    *) "$exe" ;;
  esac
}
c_program() { # "name sanitizers description"
  local program sanitizers description
  read -r program sanitizers description <<<"$1"
  step "compile $program.c (shared)" "$OUT/compile_${program}_shared.log" compile_c "$program" shared &&
    step "run $program ($description)" "$OUT/${program}_shared.log" run_c "$program" shared
  [ "$program" = abi_test ] && {
    step "compile $program.c (static libaep_edge.a)" "$OUT/compile_${program}_static.log" compile_c "$program" static &&
      step "run $program (static)" "$OUT/${program}_static.log" run_c "$program" static
  }
  step "compile $program.c (ASan + UBSan)" "$OUT/compile_${program}_asan.log" compile_c "$program" asan &&
    step "run $program under ASan + UBSan" "$OUT/${program}_asan.log" run_c "$program" asan
  [[ ,$sanitizers, == *,tsan,* ]] && {
    step "compile $program.c (TSan)" "$OUT/compile_${program}_tsan.log" compile_c "$program" tsan &&
      step "run $program under TSan" "$OUT/${program}_tsan.log" run_c "$program" tsan
  }
  return 0
}

# The C example of README.md's "Server-side use" section, as written there.
compile_readme_server() {
  awk '/^## Server-side use/{f=1} f&&/^```c$/{c=1;next} c&&/^```$/{exit} c' README.md >"$OUT/readme_server.c" &&
    [ -s "$OUT/readme_server.c" ] &&
    gcc "${CFLAGS[@]}" "$OUT/readme_server.c" -o "$OUT/readme_server" "${SHARED_LINK[@]}"
}
run_readme_server() {
  local out
  out=$("$OUT/readme_server" "{\"datastreamId\":\"known-ds\",\"session\":\"none\",\"baseUrl\":\"$BASE_URL\"}") || return 1
  echo "$out"
  [ "$(grep -c '^impression reported$' <<<"$out")" = 3 ] || { echo "expected 3 impressions"; return 1; }
  grep -q '^next state: .*_identity' <<<"$out" || { echo "the identity entry was not kept"; return 1; }
}
# C++: each program is two translation units linked together (ODR, inline).
compile_cpp() { # output source1 source2 [extra flags...]
  local exe=$1 a=$2 b=$3; shift 3
  g++ "${CXXFLAGS[@]}" "$@" -Ibindings/cpp -c "$a" -o "$exe.1.o" &&
    g++ "${CXXFLAGS[@]}" "$@" -Ibindings/cpp -c "$b" -o "$exe.2.o" &&
    g++ "$@" "$exe.1.o" "$exe.2.o" -o "$exe" "${SHARED_LINK[@]}"
}

for program in "${C_PROGRAMS[@]}"; do c_program "$program"; done
step "compile README.md's server-side C example" "$OUT/compile_readme_server.log" compile_readme_server &&
  step "run README.md's server-side C example" "$OUT/readme_server.log" run_readme_server
step "compile C++ against the raw header (two translation units)" "$OUT/compile_cpp.log" \
  compile_cpp "$OUT/abi_test_cpp" tests/cpp/abi_test.cpp tests/cpp/second_tu.cpp &&
  step "run C++ against the raw header" "$OUT/cpp.log" "$OUT/abi_test_cpp"
step "compile C++ wrapper (bindings/cpp/aep_edge.hpp, two translation units)" "$OUT/compile_wrapper.log" \
  compile_cpp "$OUT/wrapper_test" tests/cpp/wrapper_test.cpp tests/cpp/wrapper_second_tu.cpp &&
  step "run C++ wrapper" "$OUT/wrapper.log" "$OUT/wrapper_test"
step "compile C++ wrapper with -fno-exceptions (AEP_EDGE_NO_EXCEPTIONS, two translation units)" "$OUT/compile_wrapper_noexcept.log" \
  compile_cpp "$OUT/wrapper_noexcept_test" tests/cpp/wrapper_noexcept_test.cpp tests/cpp/wrapper_noexcept_second_tu.cpp \
  -fno-exceptions -DAEP_EDGE_NO_EXCEPTIONS &&
  step "run C++ wrapper (no exceptions)" "$OUT/wrapper_noexcept.log" "$OUT/wrapper_noexcept_test"
if [ "${AEP_EDGE_SKIP_VALGRIND:-0}" = 1 ]; then
  RESULTS+=("SKIP  valgrind (AEP_EDGE_SKIP_VALGRIND=1)")
else
  for entry in "${C_PROGRAMS[@]}"; do
    read -r program sanitizers _ <<<"$entry"
    [[ ,$sanitizers, == *,valgrind,* && -x "$OUT/${program}_shared" ]] &&
      step "valgrind memcheck: $program" "$OUT/${program}_valgrind.log" run_c "$program" valgrind
  done
fi

say "summary"
printf '%s\n' "${RESULTS[@]}"
if [ $FAILED -ne 0 ]; then
  echo "C/C++ ABI tests: FAILED (logs in $OUT)"
  exit 1
fi
echo "C/C++ ABI tests: all passed"
