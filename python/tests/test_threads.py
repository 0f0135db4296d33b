"""The GIL is released while a call waits on the network."""

from __future__ import annotations

import threading
import time
from typing import List

from aep_edge import EdgeClient, InteractResponse

from conftest import EVENT, Emulator


def test_two_delayed_calls_in_two_threads_overlap(client: EdgeClient, emulator: Emulator) -> None:
    # The first call learns the ECID (until then the core sends one
    # identity-minting call at a time, by design).
    client.interact(EVENT)
    emulator.fault(delayMs=1000, count=2, pathContains="/interact")
    results: List[InteractResponse] = []

    def call() -> None:
        results.append(client.interact(EVENT))

    threads = [threading.Thread(target=call) for _ in range(2)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert len(results) == 2 and all(r.status == 200 for r in results)
    assert 0.9 <= elapsed < 1.7, f"two 1 s calls took {elapsed:.2f} s: the GIL was held"


def test_python_keeps_running_during_a_call(client: EdgeClient, emulator: Emulator) -> None:
    emulator.fault(delayMs=500, pathContains="/interact")
    ticks = 0
    done = threading.Event()

    def call() -> None:
        client.interact(EVENT)
        done.set()

    t = threading.Thread(target=call)
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.01)
    t.join()
    assert ticks >= 20


def test_one_client_many_threads(client: EdgeClient, emulator: Emulator) -> None:
    errors: List[BaseException] = []
    ids: List[str] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(5):
                r = client.interact(EVENT)
                with lock:
                    ids.append(r.raw["client"]["requestId"])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(ids)) == 40


def test_close_from_another_thread_during_a_call(client: EdgeClient, emulator: Emulator) -> None:
    emulator.fault(delayMs=300, pathContains="/interact")
    t = threading.Thread(target=client.interact, args=(EVENT,))
    t.start()
    time.sleep(0.1)
    report = client.close(timeout=5)
    t.join()
    assert report.in_flight == 0
    assert 0.1 <= report.waited < 2
