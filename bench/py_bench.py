"""Python clients side by side against one emulator: aep_edge, urllib3, httpx
and requests, with 1 and 8 threads, in interleaved rounds; then
interact_async with 1000 gathered calls against a 50 ms server delay.

    python bench/py_bench.py BASE_URL CALLS_PER_ROUND ROUNDS

Prints one JSON line per measurement (see bench/report.py).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import threading
import time
import urllib.request
from typing import Callable, Dict, List, Tuple

import httpx
import requests
import urllib3

import aep_edge

# The source document's event (README), the same bytes for every peer; the
# peers send it as aep_edge does with session "none" (an _id filled in).
EVENT = {
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
PATH = "/ee/v2/interact?dataStreamId=bench&requestId=6c1f1e9e-1b7a-4f57-9d6c-5c4d7f0b1a22"
HEADERS = {"content-type": "application/json", "accept": "application/json"}


def peer_body() -> bytes:
    event = json.loads(json.dumps(EVENT))
    event["xdm"]["_id"] = "8d6d5a1c-6b0e-4a3e-9d55-2a1f8f0a7d10"
    return json.dumps({"event": event}, separators=(",", ":")).encode()


def make_clients(base_url: str) -> Dict[str, Callable[[], Callable[[], None]]]:
    """Per peer: a factory of per-thread call functions. Each call sends the
    event and parses the JSON answer, as an application would."""
    body = peer_body()
    url = base_url + PATH
    edge = aep_edge.EdgeClient("bench", base_url=base_url, session="none", max_connections=16)
    pool = urllib3.PoolManager(maxsize=8)
    hx = httpx.Client(limits=httpx.Limits(max_connections=8, max_keepalive_connections=8))

    def aep() -> Callable[[], None]:
        def call() -> None:
            if edge.interact(EVENT).status != 200:
                raise RuntimeError("aep_edge: not a 200")

        return call

    def u3() -> Callable[[], None]:
        def call() -> None:
            r = pool.request("POST", url, body=body, headers=HEADERS)
            if r.status != 200:
                raise RuntimeError("urllib3: not a 200")
            json.loads(r.data)

        return call

    def httpx_peer() -> Callable[[], None]:
        def call() -> None:
            r = hx.post(url, content=body, headers=HEADERS)
            if r.status_code != 200:
                raise RuntimeError("httpx: not a 200")
            r.json()

        return call

    def requests_peer() -> Callable[[], None]:
        session = requests.Session()  # one per thread: Session is not thread-safe

        def call() -> None:
            r = session.post(url, data=body, headers=HEADERS)
            if r.status_code != 200:
                raise RuntimeError("requests: not a 200")
            r.json()

        return call

    return {"py-aep-edge": aep, "py-urllib3": u3, "py-httpx": httpx_peer, "py-requests": requests_peer}


def run(factory: Callable[[], Callable[[], None]], threads: int, calls: int) -> Tuple[float, List[float]]:
    """calls/s over `threads` threads making `calls` calls in all, and the latencies (µs)."""
    per_thread = calls // threads
    latencies: List[List[float]] = [[] for _ in range(threads)]
    callers = [factory() for _ in range(threads)]
    ready = threading.Barrier(threads + 1)

    def work(i: int) -> None:
        call, mine = callers[i], latencies[i]
        ready.wait()
        for _ in range(per_thread):
            t = time.perf_counter()
            call()
            mine.append((time.perf_counter() - t) * 1e6)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    ready.wait()
    started = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    return per_thread * threads / elapsed, [x for l in latencies for x in l]


def percentile(sorted_values: List[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def fault(base_url: str, body: object) -> None:
    request = urllib.request.Request(
        base_url + "/__emulator/faults", data=json.dumps(body).encode(), headers=HEADERS, method="POST"
    )
    urllib.request.urlopen(request, timeout=10).read()


def gathered_async(base_url: str, calls: int, delay_ms: int) -> Dict[str, object]:
    fault(base_url, {"count": calls + 10, "pathContains": "/interact", "delayMs": delay_ms})
    # 64 of the core's workers (design.md §3.7), as bench/asyncio_bench.py runs them.
    edge = aep_edge.EdgeClient(
        "bench", base_url=base_url, session="none", max_connections=64, workers=64, max_pending=calls
    )

    async def main() -> float:
        started = time.perf_counter()
        results = await asyncio.gather(*(edge.interact_async(EVENT) for _ in range(calls)))
        assert all(r.status == 200 for r in results)
        return time.perf_counter() - started

    wall = asyncio.run(main())
    edge.close()
    urllib.request.urlopen(
        urllib.request.Request(base_url + "/__emulator/reset", data=b"{}", headers=HEADERS, method="POST"),
        timeout=10,
    ).read()
    return {
        "client": "py-aep-edge-async-gather",
        "calls": calls,
        "delayMs": delay_ms,
        "workers": 64,
        "wallMs": round(wall * 1000),
        "callsPerSec": round(calls / wall),
    }


def main() -> None:
    base_url, calls, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    clients = make_clients(base_url)
    for factory in clients.values():  # warm up: connections open
        run(factory, 1, 100)
    for threads in (1, 8):
        rates: Dict[str, List[float]] = {name: [] for name in clients}
        lats: Dict[str, List[float]] = {name: [] for name in clients}
        names = list(clients)
        for round_ in range(rounds):
            for k in range(len(names)):
                name = names[(k + round_) % len(names)]
                # The slow peers get fewer calls, so a round takes similar time.
                n = calls if name == "py-aep-edge" else max(threads * 50, calls // 3)
                rate, lat = run(clients[name], threads, n)
                rates[name].append(rate)
                lats[name].extend(lat)
        for name in names:
            lat = sorted(lats[name])
            print(
                json.dumps(
                    {
                        "client": name,
                        "threads": threads,
                        "calls": len(lat),
                        "callsPerSec": round(statistics.median(rates[name])),
                        "p50Us": round(percentile(lat, 0.50), 1),
                        "p99Us": round(percentile(lat, 0.99), 1),
                    }
                ),
                flush=True,
            )
    print(json.dumps(gathered_async(base_url, 1000, 50)), flush=True)


if __name__ == "__main__":
    main()
