#!/usr/bin/env bash
# Installs the C/C++ package of aep-edge under a prefix:
#
#   bash scripts/install.sh --prefix DIR [--libdir lib] [--profile release|debug] [--destdir D]
#
#   DIR/include/aep_edge.h, aep_edge.hpp        the C ABI header and the C++17 wrapper
#   DIR/lib/libaep_edge.so.X.Y.Z, .so.1, .so    the shared library (SONAME libaep_edge.so.1)
#   DIR/lib/libaep_edge.a                       the static library
#   DIR/lib/pkgconfig/aep_edge.pc               pkg-config (Libs.private for --static)
#   DIR/lib/cmake/aep_edge/                     find_package(aep_edge): aep_edge::aep_edge,
#                                               aep_edge::aep_edge_static
#
# Builds with cargo (release by default). --destdir stages the files under D (for
# packagers) while the files still name DIR. As root with no --destdir, runs
# ldconfig afterwards, so programs find libaep_edge.so.1 in a system prefix
# without LD_LIBRARY_PATH or an RPATH.
#
# Why templates rather than cargo-c: cargo-c builds the cargo crate itself from
# source (several hundred crates, many minutes on a small CI machine) to do what
# these few lines do; the header is committed (cbindgen, tests/header.rs), and
# the CMake package, which cargo-c does not write, would be templated anyway.
set -euo pipefail
caller_dir=$PWD
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "install.sh: $*" >&2; exit 1; }

prefix="" libdir_rel="lib" profile="release" destdir=""
while (($#)); do
    case "$1" in
        --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) prefix=${1#*=}; shift ;;
        --libdir) libdir_rel=${2:?--libdir needs a directory}; shift 2 ;;
        --libdir=*) libdir_rel=${1#*=}; shift ;;
        --profile) profile=${2:?--profile needs release or debug}; shift 2 ;;
        --profile=*) profile=${1#*=}; shift ;;
        --destdir) destdir=${2:?--destdir needs a directory}; shift 2 ;;
        --destdir=*) destdir=${1#*=}; shift ;;
        -h | --help) usage ;;
        *) echo "install.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ -n $prefix ]] || usage
[[ $profile == release || $profile == debug ]] || die "--profile must be release or debug, not '$profile'"
[[ $libdir_rel != /* && $libdir_rel != *..* ]] || die "--libdir is relative to the prefix (e.g. lib or lib/x86_64-linux-gnu)"
# Relative paths are the caller's; from here on the script works in the repository.
[[ $prefix == /* || -n $destdir ]] || prefix="$caller_dir/$prefix"
[[ -z $destdir || $destdir == /* ]] || destdir="$caller_dir/$destdir"
cd "$ROOT"
if [[ -n $destdir ]]; then
    [[ $prefix == /* ]] || die "with --destdir the prefix must be absolute"
    mkdir -p "$destdir" && destdir=$(cd "$destdir" && pwd)
else
    mkdir -p "$prefix" && prefix=$(cd "$prefix" && pwd)
fi

ensure_rust
header=include/aep_edge.h
define() { awk -v name="$1" '$1 == "#define" && $2 == name { print $3 }' "$header"; }
major=$(define AEP_EDGE_VERSION_MAJOR) minor=$(define AEP_EDGE_VERSION_MINOR)
patch=$(define AEP_EDGE_VERSION_PATCH) abi=$(define AEP_EDGE_ABI_VERSION)
version="$major.$minor.$patch"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ && $abi =~ ^[0-9]+$ ]] || die "cannot read the version from $header"

# One build that also reports the system libraries the static library needs.
say "building libaep_edge $version ($profile)"
cargo_profile=(--release)
[[ $profile == release ]] || cargo_profile=()
build_log=$(mktemp)
trap 'rm -f "$build_log"; stop_emulators' EXIT
cargo rustc --quiet -p aep-edge --lib "${cargo_profile[@]}" -- --print native-static-libs 2>"$build_log" \
    || { cat "$build_log" >&2; die "cargo build failed"; }
native=$(sed -n 's/.*native-static-libs: //p' "$build_log" | tail -n 1)
[[ -n $native ]] || { cat "$build_log" >&2; die "rustc printed no native-static-libs"; }
# -lc comes with every C link; -lgcc_s (unwinding) is kept.
native=$(tr ' ' '\n' <<<"$native" | grep -vx -- '-lc' | awk '!seen[$0]++' | tr '\n' ' ' | sed 's/ $//')
cmake_libs=$(tr ' ' '\n' <<<"$native" | sed 's/^-l//' | paste -sd ';')

built="$TARGET_DIR/$profile"
for f in libaep_edge.so libaep_edge.a; do [[ -f $built/$f ]] || die "missing $built/$f"; done
soname=$(readelf -d "$built/libaep_edge.so" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ -z $soname || $soname == "libaep_edge.so.$abi" ]] || die "SONAME is $soname, expected libaep_edge.so.$abi"

libdir="$prefix/$libdir_rel"
dest_inc="$destdir$prefix/include" dest_lib="$destdir$libdir"
say "installing into ${destdir:+$destdir (staged for) }$prefix"
install -d "$dest_inc" "$dest_lib/pkgconfig" "$dest_lib/cmake/aep_edge"
install -m 644 "$header" bindings/cpp/aep_edge.hpp "$dest_inc/"
install -m 755 "$built/libaep_edge.so" "$dest_lib/libaep_edge.so.$version"
ln -sfn "libaep_edge.so.$version" "$dest_lib/libaep_edge.so.$abi"
ln -sfn "libaep_edge.so.$abi" "$dest_lib/libaep_edge.so"
install -m 644 "$built/libaep_edge.a" "$dest_lib/libaep_edge.a"

# From lib/cmake/aep_edge back to the prefix, so the package can be moved.
depth=$(($(tr -cd '/' <<<"$libdir_rel" | wc -c) + 3))
cmake_to_prefix=$(printf '../%.0s' $(seq 1 $depth)) && cmake_to_prefix=${cmake_to_prefix%/}
fill() { # template output
    sed -e "s|@PREFIX@|$prefix|g" -e "s|@LIBDIR@|$libdir|g" -e "s|@LIBDIR_REL@|$libdir_rel|g" \
        -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" -e "s|@MINOR@|$minor|g" \
        -e "s|@ABI@|$abi|g" -e "s|@NATIVE_STATIC_LIBS@|$native|g" \
        -e "s|@CMAKE_STATIC_LIBS@|$cmake_libs|g" -e "s|@CMAKE_TO_PREFIX@|$cmake_to_prefix|g" "$1" >"$2"
    chmod 644 "$2"
}
fill pkgconfig/aep_edge.pc.in "$dest_lib/pkgconfig/aep_edge.pc"
fill cmake/aep_edgeConfig.cmake.in "$dest_lib/cmake/aep_edge/aep_edgeConfig.cmake"
fill cmake/aep_edgeConfigVersion.cmake.in "$dest_lib/cmake/aep_edge/aep_edgeConfigVersion.cmake"

if [[ -z $destdir && $(id -u) -eq 0 ]] && command -v ldconfig >/dev/null; then
    ldconfig
fi
echo "installed aep-edge $version: $prefix/include/aep_edge.h, $libdir/libaep_edge.so.$version, $libdir/libaep_edge.a"
echo "  pkg-config: PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs aep_edge"
echo "  CMake:      -DCMAKE_PREFIX_PATH=$prefix; find_package(aep_edge); aep_edge::aep_edge or aep_edge::aep_edge_static"
