"""Turns the JSON lines of the benchmark parts into one Markdown report with
ratios, and checks issue 8's targets.

    python3 bench/report.py RESULTS.jsonl [MACHINE DESCRIPTION]
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, List, Optional

# Before this suite's work (commit 211f9ce, the same examples/bench.rs built
# against it): allocations and bytes per aep_edge_interact.
BASELINE_ALLOCS = {"none": "233.3 (23 826 B)", "device": "256.5 (25 436 B)"}


def load(path: str) -> List[Dict[str, Any]]:
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def find(rows: List[Dict[str, Any]], **match: Any) -> Optional[Dict[str, Any]]:
    for r in rows:
        if all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def ratio(a: Optional[Dict[str, Any]], b: Optional[Dict[str, Any]], key: str = "callsPerSec") -> float:
    if not a or not b or not b.get(key):
        return float("nan")
    return a[key] / b[key]


def p50_ratio(a: Optional[Dict[str, Any]], b: Optional[Dict[str, Any]]) -> float:
    """How many times faster `a` is at the median: robust to a busy machine's outliers."""
    if not a or not b or not a.get("p50Us"):
        return float("nan")
    return b["p50Us"] / a["p50Us"]


def main() -> None:
    rows = load(sys.argv[1])
    machine = sys.argv[2] if len(sys.argv) > 2 else ""
    out: List[str] = []
    checks: List[str] = []

    def check(name: str, value: float, target: float, higher_is_better: bool = True, median: float = float("nan")) -> None:
        ok = value >= target if higher_is_better else value <= target
        sign = ">=" if higher_is_better else "<="
        at_median = "" if median != median else f"{median:.2f}"
        checks.append(f"| {name} | {value:.2f} | {at_median} | {sign} {target} | {'yes' if ok else 'NO'} |")

    if machine:
        out.append(f"Machine: {machine}\n")

    raw = find(rows, client="c-raw-socket")
    curl = find(rows, client="c-libcurl")
    aep_c = find(rows, client="c-aep-edge")
    out.append("### C, one keep-alive connection, same server and body, interleaved rounds\n")
    out.append("| client | calls | calls/s | p50 | p99 | aep_edge_interact vs this (calls/s) | (p50) |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in (raw, curl, aep_c):
        if r:
            out.append(
                f"| {r['client']} | {r['calls']} | {r['callsPerSec']:.0f} | {r['p50Us']:.0f} µs | "
                f"{r['p99Us']:.0f} µs | {ratio(aep_c, r):.2f}x | {p50_ratio(aep_c, r):.2f}x |"
            )
    check("C ABI / libcurl", ratio(aep_c, curl), 1.05, median=p50_ratio(aep_c, curl))
    check("C ABI / raw socket", ratio(aep_c, raw), 0.85, median=p50_ratio(aep_c, raw))

    out.append("\n### Python, calls/s (p50, p99), interleaved rounds\n")
    out.append("| client | threads | calls | calls/s | p50 | p99 | aep_edge vs this (calls/s) | (p50) |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for threads in (1, 8):
        mine = find(rows, client="py-aep-edge", threads=threads)
        for name in ("py-aep-edge", "py-urllib3", "py-httpx", "py-requests"):
            r = find(rows, client=name, threads=threads)
            if r:
                out.append(
                    f"| {name} | {threads} | {r['calls']} | {r['callsPerSec']:.0f} | {r['p50Us']:.0f} µs | "
                    f"{r['p99Us']:.0f} µs | {ratio(mine, r):.2f}x | {p50_ratio(mine, r):.2f}x |"
                )
    py1 = find(rows, client="py-aep-edge", threads=1)
    py8 = find(rows, client="py-aep-edge", threads=8)
    u1 = find(rows, client="py-urllib3", threads=1)
    u8 = find(rows, client="py-urllib3", threads=8)
    check("Python 1 thread / urllib3", ratio(py1, u1), 3.0, median=p50_ratio(py1, u1))
    check("Python 1 thread / C ABI", ratio(py1, aep_c), 0.85, median=p50_ratio(py1, aep_c))
    check("Python 8 threads / urllib3 (8 threads)", ratio(py8, u8), 6.0, median=p50_ratio(py8, u8))

    gathered = find(rows, client="py-aep-edge-async-gather")
    if gathered:
        out.append(
            f"\n`interact_async` ({gathered.get('workers', '?')} workers), {gathered['calls']} calls gathered against a {gathered['delayMs']} ms "
            f"server delay: {gathered['wallMs']} ms wall ({gathered['callsPerSec']} calls/s)."
        )

    on = find(rows, measure="statePath", statePath="on")
    off = find(rows, measure="statePath", statePath="off")
    if on and off:
        cost = off["callsPerSec"] / on["callsPerSec"]
        out.append("\n### statePath (session device, C ABI, one thread, interleaved rounds)\n")
        out.append("| statePath | calls/s | p50 | p99 |")
        out.append("| --- | ---: | ---: | ---: |")
        for r in (on, off):
            out.append(f"| {r['statePath']} | {r['callsPerSec']:.0f} | {r['p50Us']:.0f} µs | {r['p99Us']:.0f} µs |")
        out.append(f"\nPer-call cost with statePath: {cost:.2f}x without.")
        check("statePath on / off, per-call cost", cost, 1.3, higher_is_better=False, median=on["p50Us"] / off["p50Us"])

    allocs = [r for r in rows if r.get("measure") == "allocations"]
    if allocs:
        out.append("\n### Allocations per aep_edge_interact (C ABI, counting allocator)\n")
        out.append("| session | allocations/call | bytes/call | before the hot-path work |")
        out.append("| --- | ---: | ---: | ---: |")
        for r in allocs:
            before = BASELINE_ALLOCS.get(r["session"])
            out.append(
                f"| {r['session']} | {r['allocsPerCall']} | {r['bytesPerCall']:.0f} | "
                f"{before if before else 'n/a'} |"
            )

    mem = find(rows, measure="memory")
    if mem:
        out.append(
            f"\nMemory over {mem['calls']} calls (session device): peak RSS {mem['peakRssKiB'] / 1024:.1f} MiB, "
            f"RSS {mem['rssAt10kKiB']} KiB at call 10 000 and {mem['rssAtEndKiB']} KiB at the end "
            f"(growth {mem['growthKiB']} KiB)."
        )
        check("RSS growth after call 10 000 (KiB)", float(mem["growthKiB"]), 0, higher_is_better=False)

    capacity = find(rows, client="emulator-capacity")
    if capacity:
        fastest = max(
            (
                r["callsPerSec"]
                for r in rows
                if r.get("client") not in (None, "emulator-capacity", "py-aep-edge-async-gather")
            ),
            default=0,
        )
        out.append(
            f"\nEmulator capacity (raw-socket loops on {capacity['threads']} connections): "
            f"{capacity['callsPerSec']:.0f} calls/s, {capacity['callsPerSec'] / fastest:.2f}x the fastest client above (raw socket included)."
            if fastest
            else ""
        )
        if fastest:
            check("emulator capacity / fastest client", capacity["callsPerSec"] / fastest, 1.5)

    out.append("\n### Targets (issue 8)\n")
    out.append("| target | measured (calls/s) | at the median (p50) | wanted | met |")
    out.append("| --- | ---: | ---: | ---: | --- |")
    out.extend(checks)
    print("\n".join(out))


if __name__ == "__main__":
    main()
