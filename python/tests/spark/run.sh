#!/usr/bin/env bash
# The PySpark bulk-delivery test in a venv that has aep_edge installed:
# installs pyspark (PyPI) there and Java 17 (Debian) when missing, then runs
# tests/spark with one local[2] Spark session.
#
#   bash python/tests/spark/run.sh VENV [pytest args...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../../scripts/lib.sh"
venv="$1"
shift

if ! command -v java >/dev/null 2>&1; then
    say "installing Java 17"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq openjdk-17-jre-headless >/dev/null
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pyspark>=4.0,<5"
export PYSPARK_PYTHON="$venv/bin/python" SPARK_LOCAL_IP=127.0.0.1
"$venv/bin/pytest" -p no:cacheprovider "$here" "$@"
