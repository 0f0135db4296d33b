"""A forked child gets a working client: fresh connections, workers that start lazily."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from aep_edge import EdgeClient

from conftest import EVENT, Emulator

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _in_child(work) -> int:  # type: ignore[no-untyped-def]
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if work() else 3
        except BaseException as e:  # report, then leave without running pytest's teardown
            print(f"child failed: {e!r}", file=sys.stderr, flush=True)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status


def test_child_client_works_after_a_call_in_the_parent(client: EdgeClient, emulator: Emulator) -> None:
    assert client.interact(EVENT).status == 200  # the parent has a pooled connection now
    native_before = client._native

    def child() -> bool:
        assert client._native is not native_before, "the child swapped its native client"
        return client.interact(EVENT).status == 200 and client.collect([EVENT]).status in (200, 202)

    assert _in_child(child) == 0
    assert client.interact(EVENT).status == 200  # the parent is unaffected
    assert client._native is native_before
    assert len(emulator.requests()) == 4


# The parent has worker threads when it forks: the case the handler is for.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")
def test_child_async_calls_start_their_own_workers(client: EdgeClient) -> None:
    assert asyncio.run(client.interact_async(EVENT)).status == 200
    native_before = client._native

    def child() -> bool:
        assert client._native is not native_before, "the child swapped its native client"

        async def calls() -> bool:
            results = await asyncio.gather(*(client.interact_async(EVENT) for _ in range(5)))
            return all(r.status == 200 for r in results)

        return asyncio.run(calls())

    assert _in_child(child) == 0
    assert asyncio.run(client.interact_async(EVENT)).status == 200


def test_a_closed_client_stays_closed_in_the_child(client: EdgeClient) -> None:
    client.close()

    def child() -> bool:
        return client.closed

    assert _in_child(child) == 0
