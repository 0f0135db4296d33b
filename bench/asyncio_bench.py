"""asyncio throughput: gathered ``interact_async`` calls on the core's workers.

Measures calls/s of ``asyncio.gather`` over N ``interact_async`` calls with
``workers=64`` against the bundled emulator (over loopback, in its own
process), once with no delay and once with every interact answered after
50 ms. Run it with the Python that has the aep_edge wheel installed
(``python/run-tests.sh`` builds it into .venv):

    .venv/bin/python bench/asyncio_bench.py [--emulator PATH] [--calls N] [--json]

The emulator defaults to $AEP_EDGE_EMULATOR, else target/release/aep-edge-emulator.
Prints a Markdown table (or, with --json, one JSON object per row) for the
benchmark suite to collect.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

from aep_edge import EdgeClient

ROOT = Path(__file__).resolve().parents[1]
EVENT: Dict[str, Any] = {
    "xdm": {
        "identityMap": {
            "Email_LC_SHA256": [
                {"id": "0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b", "primary": True}
            ]
        },
        "eventType": "web.webpagedetails.pageViews",
        "web": {"webPageDetails": {"URL": "https://alloystore.dev/", "name": "home-demo-Home Page"}},
        "timestamp": "2021-08-09T14:09:20.859Z",
    },
    "data": {"prop1": "custom value"},
}


class Emulator:
    def __init__(self, binary: str) -> None:
        self.process = subprocess.Popen(
            [binary, "--port", "0", "--exit-on-stdin-eof"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise SystemExit(f"the emulator printed {self.url!r} instead of its base URL")

    def control(self, path: str, body: Any) -> None:
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST",
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def run(emulator: Emulator, calls: int, workers: int, delay_ms: int) -> Dict[str, Any]:
    emulator.control("/__emulator/reset", {})
    client = EdgeClient(
        "bench", base_url=emulator.url, workers=workers, max_connections=workers, max_pending=calls
    )
    with client:
        client.interact(EVENT)  # learn the ECID, so no call waits for identity
        if delay_ms:
            emulator.control(
                "/__emulator/faults", {"delayMs": delay_ms, "count": calls, "pathContains": "/interact"}
            )

        async def gathered() -> float:
            started = time.perf_counter()
            results = await asyncio.gather(*(client.interact_async(EVENT) for _ in range(calls)))
            elapsed = time.perf_counter() - started
            assert all(r.status == 200 for r in results)
            return elapsed

        elapsed = asyncio.run(gathered())
    return {
        "bench": "asyncio interact_async",
        "workers": workers,
        "delayMs": delay_ms,
        "calls": calls,
        "seconds": round(elapsed, 3),
        "callsPerSecond": round(calls / elapsed),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_emulator = os.environ.get("AEP_EDGE_EMULATOR") or str(
        Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "release" / "aep-edge-emulator"
    )
    parser.add_argument("--emulator", default=default_emulator)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args()
    if not Path(args.emulator).is_file():
        print(f"emulator not found at {args.emulator}: cargo build --release -p aep-edge-emulator", file=sys.stderr)
        return 2

    emulator = Emulator(args.emulator)
    try:
        rows: List[Dict[str, Any]] = [
            run(emulator, args.calls, args.workers, 0),
            run(emulator, args.calls, args.workers, 50),
        ]
    finally:
        emulator.stop()
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        print("| asyncio (gathered interact_async) | workers | delay | calls | seconds | calls/s |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            print(f"| EdgeClient | {r['workers']} | {r['delayMs']} ms | {r['calls']} | {r['seconds']} | {r['callsPerSecond']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
