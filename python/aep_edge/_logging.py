"""The bridge from the core's log lines to ``logging.getLogger("aep_edge")``.

- A ``NullHandler`` on the logger: an application that configures no logging
  sees nothing, even for a retry or a failure it catches (as httpx does).
- The level the core sends follows the logger's *effective* level while a
  client lives: every call compares it with the level installed, so a later
  ``setLevel`` takes effect. The effective level is kept in the logger's own
  ``_cache`` dict, which ``logging`` clears on every ``setLevel`` (any
  logger's) and ``logging.disable``: a call costs one dict lookup, not a walk
  up the logger tree.
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

# Where the effective level is kept between level changes (a str key beside
# the int keys ``isEnabledFor`` caches). Without ``Logger._cache`` (another
# Python), an empty dict that never holds it: every call asks the logger.
LEVEL_KEY = "aep_edge:effective-level"
_logger_cache: Any = getattr(logger, "_cache", None)
_CACHES_LEVEL = isinstance(_logger_cache, dict)
level_cache: "dict[Any, Any]" = _logger_cache if _CACHES_LEVEL else {}


def effective_level() -> int:
    """The logger's effective level, from the cache when no level changed."""
    effective = level_cache.get(LEVEL_KEY)
    if effective is not None:
        return int(effective)
    effective = logger.getEffectiveLevel()
    if _CACHES_LEVEL:
        level_cache[LEVEL_KEY] = effective
        # A setLevel on another thread between the two reads has cleared the
        # cache before this store: drop the stale value.
        if logger.getEffectiveLevel() != effective:
            level_cache.pop(LEVEL_KEY, None)
    return effective


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

    __slots__ = ("_native", "installed", "_lock")

    def __init__(self, native: Any) -> None:
        self._native = native
        self.installed = -1  # the logging level last applied; -1: none yet
        self._lock = threading.Lock()
        self.sync()

    def rebind(self, native: Any) -> None:
        """After fork: ``reopen()`` carried the callback and its level over to
        the new native client, so nothing needs installing again here; only
        the lock is new (the parent's may have been held at the fork)."""
        self._native = native
        self._lock = threading.Lock()

    def sync(self) -> None:
        """Installs the logger's effective level when it differs (the hot
        path checks ``level_cache.get(LEVEL_KEY) != follower.installed``
        first and calls this only then)."""
        effective = effective_level()
        if effective == self.installed:
            return
        with self._lock:
            if effective == self.installed:
                return
            level = core_level(effective)
            if level:
                self._native.set_logger(level, emit)
            else:
                self._native.set_logger(0, None)
            self.installed = effective
