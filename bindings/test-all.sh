#!/usr/bin/env bash
# Every runtime binding's test against its own emulator: LuaJIT, Go, Node.js,
# Java (FFM), C# on Mono. Each script installs what its runtime needs; a runtime
# that cannot be had is a failure, never a skip. Runs them all, then fails if
# any failed.
#
#   bash bindings/test-all.sh [lua go node java csharp]
set -uo pipefail
cd "$(dirname "$0")/.."
runtimes=("$@")
((${#runtimes[@]})) || runtimes=(lua go node java csharp)
results=() failed=0
for rt in "${runtimes[@]}"; do
    printf '\n\033[1m=== bindings/%s\033[0m\n' "$rt"
    if bash "bindings/$rt/test.sh"; then
        results+=("PASS  bindings/$rt")
    else
        results+=("FAIL  bindings/$rt"); failed=$((failed + 1))
    fi
done
echo; printf '%s\n' "${results[@]}"
echo "bindings: $((${#runtimes[@]} - failed)) passed, $failed failed"
((failed == 0))
