"""A panic inside the core is an InternalError (an EdgeError), never
pyo3_runtime.PanicException, and it poisons its client (issue 7 item 4).

The wheel has a test hook: AEP_EDGE_TEST_PANIC=<method> makes that method
panic inside the guard. It is read once, so each case runs in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from conftest import Emulator


def run(program: str, method: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AEP_EDGE_TEST_PANIC=method)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_panic_is_internal_error_and_poisons_the_client(emulator: Emulator) -> None:
    result = run(
        f"""
        import time
        from aep_edge import EdgeClient, EdgeError, InternalError
        c = EdgeClient("ds", base_url={emulator.base_url!r})
        try:
            c.interact({{"xdm": {{}}}})
        except BaseException as e:
            assert type(e) is InternalError, type(e)
            assert isinstance(e, EdgeError) and e.kind == "panic"
            assert "interact" in str(e), str(e)
        else:
            raise SystemExit("no error")
        assert c._native.is_poisoned()
        started = time.monotonic()
        for call in (lambda: c.collect([{{"xdm": {{}}}}]), lambda: c.session, c.reset_session):
            try:
                call()
            except InternalError as e:
                assert "unusable" in str(e), str(e)
            else:
                raise SystemExit("a poisoned client answered")
        assert time.monotonic() - started < 1.0
        c.close(1.0)  # a poisoned client still closes
        print("ok")
        """,
        "interact",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"
    assert "PanicException" not in result.stderr
    assert [r for r in emulator.requests()] == []


def test_a_panic_in_client_creation_is_internal_error() -> None:
    result = run(
        """
        from aep_edge import EdgeClient, InternalError
        try:
            EdgeClient("ds", base_url="http://127.0.0.1:9")
        except InternalError as e:
            print("ok", e.kind)
        """,
        "client_new",
    )
    assert result.stdout.strip() == "ok panic", result.stdout + result.stderr
