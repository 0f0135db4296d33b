#!/usr/bin/env bash
# The C/C++ package as a user gets it: scripts/install.sh into a fresh temporary
# prefix, then two projects outside the tree built against it, shared and static:
# tests/consumers/cmake (find_package) and tests/consumers/pkgconfig (a Makefile),
# and examples/kiosk (CMake).
# Every program sends the source document's event to an emulator and checks the
# answer. Installs cmake, make and pkg-config when missing.
#
#   bash tests/consumers/run.sh [--profile release|debug]   (default debug: reuses the test build)
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"
profile=${2:-debug}
[[ ${1:-} == --profile || -z ${1:-} ]] || { echo "usage: run.sh [--profile release|debug]" >&2; exit 2; }

ensure_rust
ensure_tools cc:gcc c++:g++ cmake:cmake make:make pkg-config:pkg-config curl:curl

work=$(mktemp -d "${TMPDIR:-/tmp}/aep-edge-consumers.XXXXXX")
trap 'stop_emulators; rm -rf "$work"' EXIT
prefix="$work/prefix"

bash scripts/install.sh --prefix "$prefix" --profile "$profile"
# Nothing may be missing from the install.
for f in include/aep_edge.h include/aep_edge.hpp lib/libaep_edge.a lib/pkgconfig/aep_edge.pc \
    lib/cmake/aep_edge/aep_edgeConfig.cmake lib/cmake/aep_edge/aep_edgeConfigVersion.cmake; do
    [[ -f $prefix/$f ]] || { echo "missing $prefix/$f" >&2; exit 1; }
done
[[ $(readlink "$prefix/lib/libaep_edge.so") == libaep_edge.so.1 ]] || { echo "libaep_edge.so is not a link to .so.1" >&2; exit 1; }
[[ $(readlink "$prefix/lib/libaep_edge.so.1") =~ ^libaep_edge\.so\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "libaep_edge.so.1 is not a link to .so.X.Y.Z" >&2; exit 1; }

cargo build --quiet -p aep-edge-emulator
start_emulator --datastream consumer-ds

failed=0 passed=0
# run NAME PROGRAM: runs it against the emulator; for shared programs, checks
# the loader needs libaep_edge.so.1 and finds it in the prefix, for static ones
# that they need no libaep_edge at all.
run() {
    local name=$1 program=$2 kind=$3
    say "$name"
    local needed
    needed=$(readelf -d "$program" | grep NEEDED || true)
    if [[ $kind == shared ]]; then
        [[ $needed == *"[libaep_edge.so.1]"* ]] || { echo "FAIL $name: does not need libaep_edge.so.1"; failed=$((failed + 1)); return; }
        # Read whole, not piped into grep -q: under pipefail an early grep exit fails ldd.
        local loaded
        loaded=$(ldd "$program")
        [[ $loaded == *"libaep_edge.so.1 => $prefix/lib/"* ]] || { echo "FAIL $name: does not load the installed library"; echo "$loaded"; failed=$((failed + 1)); return; }
    elif grep -q libaep_edge <<<"$needed"; then
        echo "FAIL $name: the static program needs the shared library"; failed=$((failed + 1)); return
    fi
    if "$program" "$EMULATOR_URL"; then passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}

say "CMake consumer (find_package(aep_edge))"
cmake -S tests/consumers/cmake -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 \
    || { cat "$work/cmake.log"; exit 1; }
cmake --build "$work/cmake-build" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
run "CMake, C, aep_edge::aep_edge" "$work/cmake-build/consumer_shared" shared
run "CMake, C, aep_edge::aep_edge_static" "$work/cmake-build/consumer_static" static
run "CMake, C++ wrapper, aep_edge::aep_edge" "$work/cmake-build/consumer_cpp" shared
run "CMake, C++ wrapper, aep_edge::aep_edge_static" "$work/cmake-build/consumer_cpp_static" static

say "pkg-config consumer (Makefile)"
mkdir -p "$work/make-build"
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" make -s -C tests/consumers/pkgconfig OUT="$work/make-build" \
    >"$work/make.log" 2>&1 || { cat "$work/make.log"; exit 1; }
run "pkg-config, C, shared" "$work/make-build/consumer_shared" shared
run "pkg-config, C, static (--static)" "$work/make-build/consumer_static" static
run "pkg-config, C++ wrapper, shared" "$work/make-build/consumer_cpp" shared

say "examples/kiosk (CMake against the install; async + poll against the emulator)"
cmake -S examples/kiosk -B "$work/kiosk-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$work/kiosk-cmake.log" 2>&1 &&
    cmake --build "$work/kiosk-build" >>"$work/kiosk-cmake.log" 2>&1 || { cat "$work/kiosk-cmake.log"; exit 1; }
curl -fsS -X POST "$EMULATOR_URL/__emulator/reset" >/dev/null
if "$work/kiosk-build/kiosk" "$EMULATOR_URL" consumer-ds 3 | tee "$work/kiosk.log"; then
    recorded=$(curl -fsS "$EMULATOR_URL/__emulator/requests")
    displays=$(grep -o '"eventType":"decisioning.propositionDisplay"' <<<"$recorded" | wc -l)
    # A reset session asks for the next visitor's identity again.
    fetches=$(grep -o '"fetch":\["ECID"\]' <<<"$recorded" | wc -l)
    if [[ $displays -eq 3 && $fetches -eq 3 ]] && grep -q '^served 3 of 3 visitors' "$work/kiosk.log"; then
        passed=$((passed + 1))
    else
        echo "FAIL kiosk: $displays display notifications and $fetches identity fetches recorded (want 3 and 3)"
        failed=$((failed + 1))
    fi
else
    echo "FAIL kiosk: exit status"; failed=$((failed + 1))
fi

# A requested version the package cannot satisfy is refused.
say "CMake version check"
mkdir -p "$work/too-new"
printf 'cmake_minimum_required(VERSION 3.16)\nproject(t C)\nfind_package(aep_edge 99 REQUIRED)\n' >"$work/too-new/CMakeLists.txt"
if cmake -S "$work/too-new" -B "$work/too-new/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
    echo "FAIL: find_package(aep_edge 99) succeeded"; failed=$((failed + 1))
else
    passed=$((passed + 1))
fi

echo "consumers: $passed passed, $failed failed"
((failed == 0))
