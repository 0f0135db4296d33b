# Shared by bindings/<runtime>/test.sh: builds the library and the emulator,
# starts an emulator (stopped when the script exits) and exports what every
# binding test reads:
#   AEP_EDGE_LIB       path of the shared library (libaep_edge.so.1)
#   AEP_EDGE_BASE_URL  the emulator, which knows only the datastream "known-ds"
# Source it; do not run it.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

binding_setup() {
    ensure_rust
    say "building libaep_edge and the emulator"
    cargo build --quiet -p aep-edge -p aep-edge-emulator
    # A private copy under its SONAME, so a concurrent cargo build cannot swap it mid-run.
    BINDING_WORK=$(mktemp -d "${TMPDIR:-/tmp}/aep-edge-binding.XXXXXX")
    trap 'stop_emulators; rm -rf "$BINDING_WORK"' EXIT
    cp "$TARGET_DIR/debug/libaep_edge.so" "$BINDING_WORK/libaep_edge.so.1"
    export AEP_EDGE_LIB="$BINDING_WORK/libaep_edge.so.1"
    start_emulator --datastream known-ds
    export AEP_EDGE_BASE_URL="$EMULATOR_URL"
    say "emulator at $AEP_EDGE_BASE_URL, library $AEP_EDGE_LIB"
}
