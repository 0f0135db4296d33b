"""asyncio: the event loop keeps running; cancelling abandons the result."""

from __future__ import annotations

import asyncio
import time

import pytest

from aep_edge import ClientClosedError, EdgeClient, HttpError, InteractResponse

from conftest import EVENT, KNOWN_DATASTREAM, Emulator, event


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


def test_type_errors_are_raised_before_the_executor(client: EdgeClient) -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match=r"^event\.data\.s:"):
            await client.interact_async({"data": {"s": {1}}})

    asyncio.run(main())
    assert client._executor is None


def test_no_thread_is_started_before_the_first_async_call(client: EdgeClient) -> None:
    client.interact(EVENT)
    assert client._executor is None
