"""Issue 7, Python halves: queued async calls end with ClientClosedError on
close; creating a client releases the GIL while it waits on the state-file lock."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import List

from aep_edge import ClientClosedError, EdgeClient

from conftest import EVENT, Emulator


def test_queued_async_calls_end_with_client_closed_error(emulator: Emulator) -> None:
    # One worker: the first call is in flight (delayed), the rest are queued.
    client = EdgeClient("ds", base_url=emulator.base_url, workers=1)
    emulator.fault(delayMs=800, pathContains="/interact")

    async def main() -> List[BaseException]:
        tasks = [asyncio.ensure_future(client.interact_async(EVENT)) for _ in range(4)]
        await asyncio.sleep(0.2)
        await asyncio.get_running_loop().run_in_executor(None, client.close, 5.0)
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        return [o for o in outcomes if isinstance(o, BaseException)]

    errors = asyncio.run(main())
    assert len(errors) == 3, errors
    assert all(type(e) is ClientClosedError for e in errors), errors
    assert len(emulator.requests()) == 1


def test_client_creation_releases_the_gil_on_the_state_file_lock(tmp_path: Path, emulator: Emulator) -> None:
    state = tmp_path / "state.json"
    lock = Path(str(state) + ".lock")
    # Another process holds the session lock for a second.
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(
            f"""
            import fcntl, sys, time
            f = open({str(lock)!r}, "a+")
            fcntl.flock(f, fcntl.LOCK_EX)
            print("locked", flush=True)
            time.sleep(1.0)
            """
        )],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        created: List[EdgeClient] = []
        creator = threading.Thread(
            target=lambda: created.append(EdgeClient("ds", base_url=emulator.base_url, state_path=state))
        )
        started = time.monotonic()
        creator.start()
        ticks = 0
        while creator.is_alive() and time.monotonic() - started < 0.6:
            time.sleep(0.01)  # needs the GIL back after every sleep
            ticks += 1
        creator.join(30)
        assert created, "the client was created"
        created[0].close()
        # While creation waited on the lock, this thread kept running Python.
        assert ticks >= 20 or time.monotonic() - started < 0.3, ticks
    finally:
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
