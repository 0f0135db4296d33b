#!/usr/bin/env bash
# Regenerates include/aep_edge.h with the cbindgen pinned in Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
AEP_EDGE_BLESS=1 cargo test --quiet --test header committed_header_matches_cbindgen
echo "wrote include/aep_edge.h"
