"""Benchmark: latency of EdgeClient.send with a queue file (design.md §4.1), while
the dispatcher delivers to the emulator at the same time.

    python bench/queue_send.py BASE_URL [EVENTS]

Prints one line: "python send  events=N  p50=.. us  p99=.. us  max=.. us  cpu-p99=.. us"
(wall clock, and the calling thread's CPU time per call: on a loaded machine the
wall-clock p99 measures the load).
A benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from aep_edge import EdgeClient

EVENT = {
    "xdm": {"eventType": "game.level.complete", "identityMap": {"FPID": [{"id": "player-1"}]}},
    "data": {"level": 3, "score": 1200},
}


def main() -> None:
    base_url = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    with tempfile.TemporaryDirectory() as tmp:
        client = EdgeClient(
            "bench",
            base_url=base_url,
            session="none",
            queue={"path": str(Path(tmp) / "events.db"), "maxEvents": 1000000},
        )
        for _ in range(200):  # warm up
            client.send(EVENT)
        latencies = []
        cpu = []
        clock = time.perf_counter_ns
        cpu_clock = time.thread_time_ns
        for _ in range(n):
            c0 = cpu_clock()
            t0 = clock()
            client.send(EVENT)
            latencies.append((clock() - t0) / 1000.0)
            cpu.append((cpu_clock() - c0) / 1000.0)
        latencies.sort()
        cpu.sort()
        print(
            f"python send  events={n}  p50={latencies[n // 2]:.1f} us  "
            f"p99={latencies[n * 99 // 100]:.1f} us  max={latencies[-1]:.1f} us  "
            f"cpu-p50={cpu[n // 2]:.1f} us  cpu-p99={cpu[n * 99 // 100]:.1f} us"
        )
        client.flush(timeout=60)
        client.close(timeout=5)


if __name__ == "__main__":
    main()
