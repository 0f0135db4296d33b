"""The bridge from the core's log lines to ``logging.getLogger("aep_edge")``.

- A ``NullHandler`` on the logger: an application that configures no logging
  sees nothing, even for a retry or a failure it catches (as httpx does).
- The level the core sends follows the logger's *effective* level while a
  client lives: every call compares it with the level installed (one
  ``getEffectiveLevel()``), so a later ``setLevel`` takes effect.
- Records carry ``request_id`` (the id sent, for lines logged during a call
  on that call's thread: the native layer passes it with the line) and
  ``attempt`` (for lines about one attempt) as extras; both are ``None`` where
  they do not apply. A line logged on one of the core's worker threads is
  tied to its call by the id in its text.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Optional

logger = logging.getLogger("aep_edge")
logger.addHandler(logging.NullHandler())

# Core levels 1 error, 2 warn, 3 info, 4 debug, 5 trace.
_PYTHON_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: logging.DEBUG}
_ATTEMPT = re.compile(r"\battempt (\d+)\b")
# The core names a call as "<path> <request id>": how a line logged on one of
# the core's worker threads (an async call) is tied to its call.
_CALL = re.compile(r"\b(?:v2/interact|v2/collect|v1/privacy/set-consent) (\S+)")


def core_level(effective: int) -> int:
    """The core level (0 = off) matching a ``logging`` level."""
    if effective <= logging.DEBUG:
        return 5
    if effective <= logging.INFO:
        return 3
    if effective <= logging.WARNING:
        return 2
    if effective <= logging.ERROR:
        return 1
    return 0


def emit(level: int, message: str, request_id: Optional[str] = None) -> None:
    """The core's log callback (runs on the thread that logs, GIL held);
    ``request_id`` is the blocking call's on this thread, if any."""
    match = _ATTEMPT.search(message)
    if request_id is None:
        call = _CALL.search(message)
        request_id = call.group(1) if call else None
    extra = {"request_id": request_id, "attempt": int(match.group(1)) if match else None}
    logger.log(_PYTHON_LEVELS.get(level, logging.DEBUG), "%s", message, extra=extra)


class LevelFollower:
    """Keeps one native client's log level equal to the logger's."""

    __slots__ = ("_native", "_installed", "_lock")

    def __init__(self, native: Any) -> None:
        self._native = native
        self._installed = -1  # the logging level last applied; -1: none yet
        self._lock = threading.Lock()
        self.sync()

    def rebind(self, native: Any) -> None:
        """After fork: ``reopen()`` carried the callback and its level over to
        the new native client, so nothing needs installing again here; only
        the lock is new (the parent's may have been held at the fork)."""
        self._native = native
        self._lock = threading.Lock()

    def sync(self) -> None:
        effective = logger.getEffectiveLevel()
        if effective == self._installed:
            return
        with self._lock:
            if effective == self._installed:
                return
            level = core_level(effective)
            if level:
                self._native.set_logger(level, emit)
            else:
                self._native.set_logger(0, None)
            self._installed = effective
