"""Fire and forget (design.md §4.1): send, flush, stats, on_outcome=, queue_path=,
flush_async, close, and a forked child's in-memory queue, against the emulator."""

from __future__ import annotations

import asyncio
import gc
import os
import pickle
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

from aep_edge import (
    ClientClosedError,
    EdgeClient,
    EdgeTimeoutError,
    HttpError,
    Outcome,
    QueueFullError,
    QueueStats,
    StorageError,
)

from conftest import EVENT, Emulator, closed_port, event


def delivered_ids(emulator: Emulator) -> List[str]:
    ids: List[str] = []
    for r in emulator.requests():
        if not 200 <= r.get("status", 0) < 300:
            continue
        body = r.get("body") or {}
        if r["path"].endswith("/collect"):
            ids += [e["xdm"]["_id"] for e in body.get("events", [])]
        elif r["path"].endswith("/interact"):
            ids.append(body["event"]["xdm"]["_id"])
    return ids


def queue_client(base_url: str, **kwargs: Any) -> EdgeClient:
    return EdgeClient(
        "ds-test", base_url=base_url, timeout=5.0, retry={"baseDelayMs": 10, "maxDelayMs": 100}, **kwargs
    )


def test_send_returns_at_once_and_flush_delivers_with_outcomes(emulator: Emulator, tmp_path: Path) -> None:
    outcomes: List[Outcome] = []
    lock = threading.Lock()

    def on_outcome(o: Outcome) -> None:
        with lock:
            outcomes.append(o)

    with queue_client(emulator.base_url, queue_path=tmp_path / "q.db", on_outcome=on_outcome) as client:
        ids = [client.send(event(data={"n": i})) for i in range(30)]
        assert len(set(ids)) == 30
        stats = client.flush(timeout=20)
        assert isinstance(stats, QueueStats)
        assert (stats.queued, stats.delivered, stats.in_flight, stats.bytes) == (0, 30, 0, 0)
        assert stats.rejected == {} and stats.oldest_age == 0.0
        assert client.stats() == stats
    assert delivered_ids(emulator) == ids
    assert sorted(o.event_id for o in outcomes) == sorted(ids)
    assert all(o.outcome == "delivered" and o.error is None and o.attempts == 1 for o in outcomes)


def test_a_rejected_event_reaches_on_outcome_with_its_error(emulator: Emulator) -> None:
    outcomes: Dict[str, Outcome] = {}
    client = queue_client(emulator.base_url, session="none", on_outcome=lambda o: outcomes.__setitem__(o.event_id, o))
    ids = [client.send(EVENT) for _ in range(10)]
    emulator.fault(rejectEventIds=[ids[4]], rejectStatus=422, count=20, pathContains="/collect")
    stats = client.flush(timeout=20)
    assert stats.delivered == 9 and stats.rejected == {"EXEG-0104-422": 1}
    bad = outcomes[ids[4]]
    assert bad.outcome == "rejected"
    assert isinstance(bad.error, HttpError) and bad.error.status == 422 and bad.error.code == "EXEG-0104-422"
    assert sum(o.outcome == "delivered" for o in outcomes.values()) == 9
    client.close()


def test_flush_times_out_with_stats_and_the_file_keeps_the_events(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "kept.db"
    down = queue_client(f"http://127.0.0.1:{closed_port()}", queue_path=path)
    ids = [down.send(EVENT) for _ in range(3)]
    with pytest.raises(EdgeTimeoutError) as raised:
        down.flush(timeout=0.3)
    assert raised.value.stats.queued == 3  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(raised.value)).stats.queued == 3  # type: ignore[attr-defined]
    report = down.close(timeout=0.2)
    assert report.undelivered == 3
    with pytest.raises(ClientClosedError):
        down.send(EVENT)
    del down

    for _ in range(100):  # the file is free once the first dispatcher has exited
        try:
            up = queue_client(emulator.base_url, queue={"path": str(path), "flushIntervalMs": 10})
            break
        except StorageError:
            time.sleep(0.02)
    assert up.stats().queued == 3
    assert up.flush(timeout=20).delivered == 3
    assert delivered_ids(emulator) == ids
    up.close()


def test_a_second_client_on_the_file_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "one.db"
    first = queue_client(emulator.base_url, queue_path=path)
    with pytest.raises(StorageError, match="one.db"):
        queue_client(emulator.base_url, queue_path=path)
    with pytest.raises(ValueError):
        queue_client(emulator.base_url, queue_path=path, queue={"path": "other.db"})
    first.close()


def test_a_full_queue_raises_queue_full(emulator: Emulator) -> None:
    client = queue_client(emulator.base_url, queue={"maxEvents": 2, "flushIntervalMs": 600000})
    client.send(EVENT)
    client.send(EVENT)
    with pytest.raises(QueueFullError):
        client.send(EVENT)
    assert client.stats().queued == 2
    client.close(timeout=10)


def test_flush_async_does_not_block_the_loop(emulator: Emulator) -> None:
    client = queue_client(emulator.base_url)

    async def main() -> QueueStats:
        for _ in range(5):
            client.send(EVENT)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.ensure_future(tick())
        stats = await client.flush_async(timeout=20)
        ticker.cancel()
        assert ticks > 1, "the loop ran while flush waited"
        return stats

    assert asyncio.run(main()).delivered == 5
    client.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")
def test_a_forked_child_queues_in_memory_and_the_file_stays_the_parents(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "parent.db"
    client = queue_client(emulator.base_url, queue_path=path)
    parent_id = client.send(EVENT)  # the parent's dispatcher thread is running now
    client.flush(timeout=20)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            child_id = client.send(EVENT)
            stats = client.flush(timeout=20)
            os.write(write, child_id.encode())
            code = 0 if stats.delivered == 1 and stats.queued == 0 else 3
        except BaseException as e:
            print(f"child failed: {e!r}", file=sys.stderr, flush=True)
        finally:
            os._exit(code)
    os.close(write)
    child_id = os.read(read, 100).decode()
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child_id and child_id != parent_id
    # The parent's queue and file are untouched: it still sends and delivers.
    assert client.stats().delivered == 1
    second = client.send(EVENT)
    assert client.flush(timeout=20).delivered == 2
    assert delivered_ids(emulator) == [parent_id, child_id, second]
    client.close()
    # The child left the file alone: a new client finds it intact and empty.
    reopened = None
    for _ in range(100):
        try:
            reopened = queue_client(emulator.base_url, queue_path=path)
            break
        except StorageError:
            time.sleep(0.02)
    assert reopened is not None and reopened.stats().queued == 0
    reopened.close()


def test_dropping_a_client_while_its_outcome_callback_runs_does_not_deadlock(emulator: Emulator) -> None:
    running = threading.Event()

    def slow(o: Outcome) -> None:
        running.set()
        time.sleep(0.3)  # releases the GIL; returning needs it back

    holder = [queue_client(emulator.base_url, on_outcome=slow)]
    holder[0].send(EVENT)
    holder[0].send(EVENT)
    holder[0]._queue.flush(0.0)  # hurry the batch
    assert running.wait(10)

    def drop() -> None:
        holder.pop()
        gc.collect()

    dropper = threading.Thread(target=drop, daemon=True)
    dropper.start()
    dropper.join(10)
    assert not dropper.is_alive(), "dropping the client waited for the callback with the GIL held"
