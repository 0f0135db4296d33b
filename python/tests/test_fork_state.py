"""fork() while other threads write the state file: no child hangs on a lock
its parent's threads held at the fork, and the parent keeps calling."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import List

import pytest

from aep_edge import EdgeClient, StorageError

from conftest import EVENT, Emulator

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

FORKS = 200
CHILD_LIMIT_S = 20.0


def _wait_or_kill(pid: int, limit: float) -> int:
    """The child's exit code, or -1 when it had to be killed (it hung)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        time.sleep(0.002)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return -1


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")
def test_fork_while_threads_write_the_state_file(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    client = EdgeClient(
        "ds-test",
        base_url=emulator.base_url,
        state_path=str(path),
        timeout=10.0,
        retry={"baseDelayMs": 10, "maxDelayMs": 100},
    )
    stop = threading.Event()
    calls: List[int] = [0, 0, 0, 0]
    errors: List[str] = []

    def worker(index: int) -> None:
        try:
            while not stop.is_set():
                if index == 0:
                    # A reset and a new identity: two writes of the file per
                    # round, so forks often land while its lock is held. A
                    # child holding the file's lock on a slow machine can make
                    # a reset give up (StorageError, by design: the lock is only
                    # tried until a deadline); that is not what this test is about.
                    try:
                        client.reset_session()
                    except StorageError:
                        pass
                assert client.interact(EVENT).status == 200
                calls[index] += 1
        except BaseException as e:  # noqa: BLE001 - reported by the test
            errors.append(f"worker {index}: {e!r}")

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    try:
        while sum(calls) < 20 and not errors:
            time.sleep(0.01)
        exit_codes: List[int] = []
        for _ in range(FORKS):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    # The at-fork handler reopened the client: it reads the
                    # state file and makes a call of its own.
                    assert client.session is not None
                    code = 0 if client.interact(EVENT).status == 200 else 3
                except BaseException as e:  # noqa: BLE001 - reported, then leave
                    print(f"child failed: {e!r}", file=sys.stderr, flush=True)
                finally:
                    os._exit(code)
            exit_codes.append(_wait_or_kill(pid, CHILD_LIMIT_S))
        before = sum(calls)
        deadline = time.monotonic() + 10
        while sum(calls) < before + 8 and time.monotonic() < deadline and not errors:
            time.sleep(0.01)
        after = sum(calls)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    client.close()

    assert errors == []
    assert exit_codes.count(-1) == 0, f"{exit_codes.count(-1)} of {FORKS} children hung"
    assert all(code == 0 for code in exit_codes), sorted(set(exit_codes))
    assert after >= before + 8, "the parent kept calling after the forks"
    assert not any(t.is_alive() for t in threads)
