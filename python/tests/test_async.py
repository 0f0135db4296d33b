"""asyncio: the event loop keeps running; cancelling abandons the result."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from aep_edge import (
    ClientClosedError,
    ConfigError,
    ConsentError,
    EdgeClient,
    HttpError,
    InteractResponse,
    QueueFullError,
    RequestError,
)

from conftest import EVENT, KNOWN_DATASTREAM, Emulator, event, wait_for


def test_interact_async(client: EdgeClient) -> None:
    r = asyncio.run(
        client.interact_async(EVENT, query={"personalization": {"decisionScopes": ["home"]}})
    )
    assert isinstance(r, InteractResponse)
    assert r.handles_of_type("personalization:decisions")[0].payload[0]["scope"] == "home"


def test_collect_async(client: EdgeClient) -> None:
    r = asyncio.run(client.collect_async([event(), event()]))
    assert r.status in (200, 202)


def test_the_loop_keeps_ticking_during_a_delayed_call(client: EdgeClient, emulator: Emulator) -> None:
    emulator.fault(delayMs=1000, pathContains="/interact")

    async def main() -> int:
        ticks = 0
        call = asyncio.ensure_future(client.interact_async(EVENT))
        while not call.done():
            ticks += 1
            await asyncio.sleep(0.02)
        assert (await call).status == 200
        return ticks

    assert asyncio.run(main()) >= 30


def test_concurrent_async_calls_overlap(client: EdgeClient, emulator: Emulator) -> None:
    client.interact(EVENT)  # learn the ECID first (see test_threads.py)
    emulator.fault(delayMs=1000, count=3, pathContains="/interact")

    async def main() -> float:
        started = time.monotonic()
        results = await asyncio.gather(*(client.interact_async(EVENT) for _ in range(3)))
        assert all(r.status == 200 for r in results)
        return time.monotonic() - started

    assert asyncio.run(main()) < 1.8


def test_cancelling_abandons_the_result(client: EdgeClient, emulator: Emulator) -> None:
    emulator.fault(delayMs=1000, pathContains="/interact")

    async def main() -> float:
        task = asyncio.ensure_future(client.interact_async(EVENT))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        cancelled_in = time.monotonic() - started
        # the client is still usable
        assert (await client.interact_async(EVENT)).status == 200
        return cancelled_in

    assert asyncio.run(main()) < 0.3


def test_wait_for_timeout_cancels(client: EdgeClient, emulator: Emulator) -> None:
    emulator.fault(delayMs=1000, pathContains="/interact")

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.interact_async(EVENT), 0.2)

    asyncio.run(main())


def test_async_errors_are_the_same_exceptions(emulators: dict) -> None:
    known: Emulator = emulators["known"]

    async def main() -> None:
        async with EdgeClient("not-" + KNOWN_DATASTREAM, base_url=known.base_url) as c:
            with pytest.raises(HttpError) as info:
                await c.interact_async(EVENT)
            assert info.value.code == "EXEG-0003-400"
        assert c.closed
        with pytest.raises(ClientClosedError):
            await c.interact_async(EVENT)
        with pytest.raises(ClientClosedError):
            await c.collect_async([EVENT])

    asyncio.run(main())


def native_workers() -> int:
    """How many of the core's async worker threads this process has."""
    count = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
        except OSError:  # the thread ended between the listing and the read
            continue
        count += name == "aep-edge-async"
    return count


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")


@needs_proc
def test_type_errors_are_raised_before_anything_is_queued(client: EdgeClient) -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match=r"^event\.data\.s:"):
            await client.interact_async({"data": {"s": {1}}})
        with pytest.raises(RequestError, match="request_id="):
            await client.interact_async(EVENT, request_id="not an id")

    assert wait_for(lambda: native_workers() == 0), "earlier tests' workers have ended"
    asyncio.run(main())
    assert native_workers() == 0, "a refused call starts no worker"


@needs_proc
def test_workers_start_at_the_first_async_call(emulator: Emulator) -> None:
    assert wait_for(lambda: native_workers() == 0), "earlier tests' workers have ended"
    with EdgeClient("ds-test", base_url=emulator.base_url, workers=3) as c:
        c.interact(EVENT)
        assert native_workers() == 0, "blocking calls start no worker"

        async def main() -> None:
            await asyncio.gather(*(c.interact_async(EVENT) for _ in range(10)))

        asyncio.run(main())
        assert 1 <= native_workers() <= 3
    assert wait_for(lambda: native_workers() == 0), "close ends the workers"


def test_workers_keyword_is_validated(emulator: Emulator) -> None:
    for bad in (0, 257):
        with pytest.raises(ConfigError, match=r"async\.workers|workers="):
            EdgeClient("ds-test", base_url=emulator.base_url, workers=bad)


def test_set_consent_async(client: EdgeClient) -> None:
    consent = {"standard": "Adobe", "version": "2.0", "value": {"collect": {"val": "n"}}}
    r = asyncio.run(client.set_consent_async(consent))
    assert r.status == 200
    assert client.session["consent"] == "n"

    async def refused() -> None:
        with pytest.raises(ConsentError):
            await client.interact_async(EVENT)

    asyncio.run(refused())


def test_1000_gathered_calls_with_64_workers(emulator: Emulator) -> None:
    """Concurrency is the core's workers, not a 16-thread pool: 1 000 calls
    against a 50 ms server take about 1 000 / 64 * 50 ms = 0.8 s."""
    with EdgeClient("ds-test", base_url=emulator.base_url, workers=64, max_connections=64) as c:
        c.interact(EVENT)  # learn the ECID first, so no call waits for identity
        emulator.fault(delayMs=50, count=1000, pathContains="/interact")

        async def main() -> float:
            started = time.monotonic()
            results = await asyncio.gather(*(c.interact_async(EVENT) for _ in range(1000)))
            elapsed = time.monotonic() - started
            assert len(results) == 1000 and all(r.status == 200 for r in results)
            return elapsed

        elapsed = asyncio.run(main())
    assert elapsed < 1.5, f"1000 calls took {elapsed:.2f} s"


def test_closing_with_queued_calls_raises_client_closed(emulator: Emulator) -> None:
    c = EdgeClient("ds-test", base_url=emulator.base_url, workers=1)
    c.interact(EVENT)
    emulator.fault(delayMs=300, count=10, pathContains="/interact")

    async def main() -> list:
        calls = [asyncio.ensure_future(c.interact_async(EVENT)) for _ in range(5)]
        await asyncio.sleep(0.1)  # the first is running, four wait for the one worker
        report = c.close(timeout=10)
        assert report.in_flight == 0
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert isinstance(outcomes[0], InteractResponse), outcomes[0]
    assert all(isinstance(o, ClientClosedError) for o in outcomes[1:]), outcomes
    assert not any(isinstance(o, asyncio.CancelledError) for o in outcomes)


def test_max_pending_refuses_beyond_it(emulator: Emulator) -> None:
    emulator.fault(delayMs=200, count=10, pathContains="/interact")
    with EdgeClient("ds-test", base_url=emulator.base_url, workers=1, max_pending=2) as c:

        async def main() -> None:
            first = [asyncio.ensure_future(c.interact_async(EVENT)) for _ in range(2)]
            await asyncio.sleep(0)  # both started
            with pytest.raises(QueueFullError, match=r"async\.maxPending|max_pending="):
                await c.interact_async(EVENT)
            assert all(r.status == 200 for r in await asyncio.gather(*first))
            assert (await c.interact_async(EVENT)).status == 200  # room again

        asyncio.run(main())
