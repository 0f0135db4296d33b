# Shared by the project's scripts: installing what a fresh machine lacks and
# running an emulator for the length of a script. Source it; do not run it.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# Bold only on a terminal: logs and CI output get plain text.
if [[ -t 2 && -z ${NO_COLOR:-} ]]; then
    say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
else
    say() { printf '==> %s\n' "$*" >&2; }
fi

# Installs Debian packages whose command is missing: ensure_tools cmd:package ...
ensure_tools() {
    local missing=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    ((${#missing[@]})) || return 0
    say "installing ${missing[*]}"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_rust() {
    command -v cargo >/dev/null 2>&1 && return 0
    echo "cargo is missing: install Rust (https://rustup.rs) and run this again" >&2
    exit 1
}

# The library's SONAME is libaep_edge.so.1; cargo writes libaep_edge.so. The
# link lets programs built against it run from the target directory.
link_soname() {
    local dir="$TARGET_DIR/${1:-debug}"
    ln -sf libaep_edge.so "$dir/libaep_edge.so.1"
}

EMULATOR_PIDS=()
stop_emulators() {
    local pid
    for pid in "${EMULATOR_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${EMULATOR_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    EMULATOR_PIDS=()
}
trap stop_emulators EXIT

# Starts the emulator on a free port with the given flags and sets EMULATOR_URL
# to its base URL. Call it plainly (not in $(...)) so the EXIT trap stops it.
start_emulator() {
    local bin="$TARGET_DIR/debug/aep-edge-emulator" out
    out=$(mktemp)
    "$bin" --port 0 "$@" >"$out" 2>&1 &
    EMULATOR_PIDS+=("$!")
    for _ in $(seq 1 100); do
        EMULATOR_URL=$(head -n 1 "$out" 2>/dev/null)
        [[ $EMULATOR_URL == http* ]] && { rm -f "$out"; return 0; }
        sleep 0.05
    done
    echo "the emulator did not start:" >&2
    cat "$out" >&2
    exit 1
}
