#!/usr/bin/env bash
# The Java binding's test (Foreign Function & Memory API, Java 22+) against an
# emulator. Looks for a JDK 22 or newer: $AEP_EDGE_JAVA_HOME, $JAVA_HOME, then
# every JDK under /usr/lib/jvm and /opt (the newest wins); fails loudly when
# there is none (Debian packages only up to Java 21 here).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

# The feature version of a JDK home (25 for "25.0.3"), or nothing.
jdk_feature() {
    [[ -x $1/bin/javac && -x $1/bin/java ]] || return 0
    "$1/bin/java" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p'
}
find_jdk() {
    local candidate best="" best_version=0 v
    for candidate in "${AEP_EDGE_JAVA_HOME:-}" "${JAVA_HOME:-}"; do
        [[ -n $candidate ]] || continue
        v=$(jdk_feature "$candidate")
        if [[ -n $v ]] && ((v >= 22)); then echo "$candidate"; return; fi
    done
    for candidate in /usr/lib/jvm/* /opt/*jdk* /opt/*/jdk* /opt/java/*; do
        [[ -d $candidate ]] || continue
        v=$(jdk_feature "$candidate")
        if [[ -n $v ]] && ((v >= 22 && v > best_version)); then best=$candidate best_version=$v; fi
    done
    echo "$best"
}
jdk=$(find_jdk)
if [[ -z $jdk ]]; then
    echo "bindings/java/test.sh: no JDK 22 or newer found (looked at \$AEP_EDGE_JAVA_HOME, \$JAVA_HOME, /usr/lib/jvm/*, /opt): the FFM API needs Java 22+" >&2
    exit 1
fi

binding_setup
out="$BINDING_WORK/java"
say "$("$jdk/bin/java" -version 2>&1 | head -n 1) at $jdk: javac, then the test"
"$jdk/bin/javac" -Xlint:all,-restricted -Werror -d "$out" bindings/java/src/aepedge/*.java bindings/java/test/aepedge/*.java
"$jdk/bin/java" --enable-native-access=ALL-UNNAMED -cp "$out" aepedge.EdgeClientTest
