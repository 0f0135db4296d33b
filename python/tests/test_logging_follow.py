"""Quiet by default, a level that follows the logger, request ids on records."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from typing import List

import pytest

from aep_edge import EdgeClient, EdgeError

from conftest import EVENT, Emulator, closed_port


def test_nothing_is_printed_without_logging_configured(emulator: Emulator) -> None:
    program = textwrap.dedent(
        f"""
        from aep_edge import EdgeClient, EdgeError
        with EdgeClient("ds", base_url="http://127.0.0.1:{closed_port()}",
                        retry={{"baseDelayMs": 1, "maxDelayMs": 5}}) as c:
            try:
                c.interact({{"xdm": {{}}}})
            except EdgeError:
                pass
        print("done")
        """
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    assert result.stderr == "", result.stderr
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("aep_edge").handlers)


def aep_records(caplog: pytest.LogCaptureFixture) -> List[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "aep_edge"]


def test_a_later_set_level_takes_effect(client: EdgeClient, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("aep_edge")
    caplog.set_level(logging.DEBUG, logger="aep_edge")  # the capture handler's level too
    logger.setLevel(logging.WARNING)
    client.interact(EVENT)
    assert aep_records(caplog) == []
    logger.setLevel(logging.DEBUG)
    client.interact(EVENT)
    debug = [r for r in aep_records(caplog) if r.levelno == logging.DEBUG]
    assert any("/interact" in r.getMessage() for r in debug), [r.getMessage() for r in aep_records(caplog)]
    caplog.clear()
    logger.setLevel(logging.CRITICAL)
    client.interact(EVENT)
    assert aep_records(caplog) == []


def test_the_root_level_counts_while_the_logger_has_none(client: EdgeClient, caplog: pytest.LogCaptureFixture) -> None:
    """The effective level is cached between calls: a setLevel on the root
    (another logger) must still reach the core."""
    logger, root = logging.getLogger("aep_edge"), logging.getLogger()
    caplog.set_level(logging.DEBUG, logger="aep_edge")
    logger.setLevel(logging.NOTSET)  # follow the root
    saved = root.level
    try:
        root.setLevel(logging.CRITICAL)
        client.interact(EVENT)
        client.interact(EVENT)
        assert aep_records(caplog) == []
        root.setLevel(logging.DEBUG)
        client.interact(EVENT)
        assert any("/interact" in r.getMessage() for r in aep_records(caplog))
        caplog.clear()
        root.setLevel(logging.CRITICAL)
        client.interact(EVENT)
        assert aep_records(caplog) == []
    finally:
        root.setLevel(saved)


def test_records_carry_request_id_and_attempt(
    client: EdgeClient, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aep_edge")
    emulator.fault(status=503, retryAfter="0", pathContains="/interact")
    client.interact(EVENT, request_id="rid-log-1")
    records = aep_records(caplog)
    assert records and all(getattr(r, "request_id") == "rid-log-1" for r in records), [
        (r.getMessage(), getattr(r, "request_id", "?")) for r in records
    ]
    attempts = sorted({getattr(r, "attempt") for r in records if getattr(r, "attempt") is not None})
    assert attempts == [1, 2], attempts
    # A generated id is on the records too, and it is the one that was sent.
    caplog.clear()
    r = client.interact(EVENT)
    sent = r.raw["client"]["requestId"]
    assert {getattr(x, "request_id") for x in aep_records(caplog)} == {sent}


def test_records_of_a_failed_call_carry_its_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aep_edge")
    with EdgeClient("ds", base_url=f"http://127.0.0.1:{closed_port()}", retry={"maxAttempts": 1}) as c:
        with pytest.raises(EdgeError) as info:
            c.interact(EVENT)
    failed = [r for r in aep_records(caplog) if r.levelno == logging.WARNING]
    assert failed and getattr(failed[0], "request_id") == info.value.request_id
