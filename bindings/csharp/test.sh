#!/usr/bin/env bash
# The C# binding's test on Mono (mcs, mono) against an emulator. Installs
# mono-devel when missing.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
ensure_tools mono:mono-devel mcs:mono-devel
binding_setup
out="$BINDING_WORK/csharp"
mkdir -p "$out"
say "$(mono --version | head -n 1): mcs, then mono"
mcs -nologo -warnaserror+ -target:library -out:"$out/AepEdge.dll" bindings/csharp/src/*.cs
cp bindings/csharp/src/AepEdge.dll.config "$out/"
mcs -nologo -warnaserror+ -r:"$out/AepEdge.dll" -out:"$out/Tests.exe" bindings/csharp/test/Tests.cs
# libaep_edge.so.1 (the dllmap's target) is found on the loader's path, as it
# would be in a system prefix or beside a Unity player.
LD_LIBRARY_PATH="$(dirname "$AEP_EDGE_LIB")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" mono "$out/Tests.exe"
