#!/usr/bin/env bash
# The emulator's live view (GET /__emulator/) in a real headless browser: installs
# Debian's chromium when it is missing, builds the emulator, and runs
# check_live_view.py, which opens the page, sends an event and sees it appear.
#
#   bash emulator/tests/live-view/run.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

install_debian() {
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    # Others may hold the dpkg lock: wait for it rather than fail.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" ||
        { $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq &&
            DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@"; }
}
command -v chromium >/dev/null 2>&1 || install_debian chromium
command -v python3 >/dev/null 2>&1 || install_debian python3

target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
cargo build --quiet -p aep-edge-emulator
python3 "$here/check_live_view.py" "$target/debug/aep-edge-emulator" "$(command -v chromium)"
