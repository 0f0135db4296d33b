#!/usr/bin/env bash
# The main job: build the library, start the bundled Edge emulator on a free
# port, send the source document's event through the C ABI, print the
# response, stop the emulator.
#
# With AEP_EDGE_LIVE=1 it talks to the real Edge Network instead, configured
# from AEP_EDGE_DATASTREAM_ID (and AEP_EDGE_ORG_ID, AEP_EDGE_ACCESS_TOKEN,
# AEP_EDGE_API_KEY for the authenticated host).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_rust
ensure_tools cc:gcc
say "building aep-edge and the emulator"
cargo build --quiet -p aep-edge -p aep-edge-emulator
link_soname debug

demo="$TARGET_DIR/demo/interact"
mkdir -p "$(dirname "$demo")"
cc -std=c11 -Wall -Wextra -Werror -O2 -I include examples/interact.c \
    -L "$TARGET_DIR/debug" -laep_edge -Wl,-rpath,"$TARGET_DIR/debug" -o "$demo"

if [[ ${AEP_EDGE_LIVE:-} == 1 ]]; then
    say "sending the source document's event to the real Edge Network"
    "$demo"
else
    start_emulator
    say "emulator at $EMULATOR_URL; sending the source document's event"
    status=0
    response=$("$demo" "$EMULATOR_URL") || status=$?
    # Pretty-printed when Python is at hand; the raw JSON otherwise.
    python3 -m json.tool <<<"$response" 2>/dev/null || printf '%s\n' "$response"
    exit "$status"
fi
