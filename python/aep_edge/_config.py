"""Python keywords → the C config and request options, and back for messages.

The core validates everything and names what it refuses by its C key
(``timeouts.totalMs``). A user of :class:`EdgeClient` wrote Python keywords,
so :func:`python_words` rewrites those names (``total_timeout=``) in the
messages of errors raised for a client built from keywords. Checks that need
Python's own words from the start (the fixed choices, the seconds) are made
here, before the core sees the value.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any, Dict, Mapping, Optional, Pattern, Tuple, Type, Union

from ._errors import ConfigError, EdgeError, RequestError
from ._types import OAuth, TokenAuth

# C key → Python word, for configs built from keywords and for per-call options.
_CONFIG_WORDS: Dict[str, str] = {
    "datastreamId": "datastream_id",
    "orgId": "org_id=",
    "baseUrl": "base_url=",
    "edgeDomain": "edge_domain=",
    "timeouts.connectMs": "connect_timeout=",
    "timeouts.requestMs": "timeout=",
    "timeouts.totalMs": "total_timeout=",
    "statePath": "state_path=",
    "proxy.url": "proxy=",
    "proxy.fromEnv": "proxy={'fromEnv': ...}",
    "proxy": "proxy=",
    "tls.caFile": "ca_file=",
    "tls.roots": "tls_roots=",
    "maxConnections": "max_connections=",
    "defaultConsent": "default_consent=",
    "hintRouting": "hint_routing=",
    "retry.maxAttempts": "retry['maxAttempts']",
    "retry.baseDelayMs": "retry['baseDelayMs']",
    "retry.maxDelayMs": "retry['maxDelayMs']",
    "retry.retryReadTimeouts": "retry['retryReadTimeouts']",
    "options.timeouts.requestMs": "timeout=",
    "options.timeouts.totalMs": "total_timeout=",
    "options.requestId": "request_id=",
    "options.datastreamId": "datastream_id=",
    "options.state": "state=",
}
_AUTH_WORDS: Dict[str, str] = {
    "auth.accessToken": "TokenAuth.access_token",
    "auth.apiKey": "TokenAuth.api_key",
    "auth.clientId": "OAuth.client_id",
    "auth.clientSecret": "OAuth.client_secret",
    "auth.scopes": "OAuth.scopes",
    "auth.tokenUrl": "OAuth.token_url",
}


def _pattern(words: Mapping[str, str]) -> Pattern[str]:
    keys = sorted(words, key=len, reverse=True)  # options.timeouts.totalMs before timeouts.totalMs
    return re.compile(r"(?<![\w.])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w])")


class Words:
    """The translation in force for one client."""

    __slots__ = ("_words", "_pattern")

    def __init__(self, auth_object: bool) -> None:
        self._words = dict(_CONFIG_WORDS, **(_AUTH_WORDS if auth_object else {}))
        self._pattern = _pattern(self._words)

    def rewrite(self, message: str) -> str:
        unknown = re.fullmatch(r"unknown key (\S+)", message)
        if unknown and unknown.group(1) in self._words:
            # A key the Python layer sends that this build's core does not know yet.
            return f"{self._words[unknown.group(1)]} is not supported in this build"
        return self._pattern.sub(lambda m: self._words[m.group(1)], message)

    def apply(self, error: EdgeError) -> EdgeError:
        """Rewrites ``error``'s message in place (the same object is re-raised)."""
        message = self.rewrite(error.message)
        if message != error.message:
            error.message = message
            error.args = (message,)
        return error


FROM_CONFIG: Optional[Words] = None
"""No translation: a client built with ``from_config`` speaks C keys."""


def seconds_to_ms(keyword: str, seconds: Any, error: Type[EdgeError] = ConfigError) -> int:
    """Validates ``keyword=`` (seconds, > 0, finite) and returns milliseconds."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{keyword}= must be a number of seconds or None, not {type(seconds).__name__}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise error(f"{keyword}= must be a positive, finite number of seconds, not {seconds!r}", kind=_kind(error))
    if seconds > 86400:
        raise error(f"{keyword}= must be at most 86400 seconds (one day), not {seconds!r}", kind=_kind(error))
    return max(1, int(round(seconds * 1000)))


def _kind(error: Type[EdgeError]) -> Any:
    return "invalid_request" if issubclass(error, RequestError) else "invalid_config"


def choice(keyword: str, value: Any, allowed: Tuple[str, ...]) -> str:
    """Validates a fixed-choice keyword (``session=``, ``tls_roots=`` ...)."""
    if not isinstance(value, str):
        raise TypeError(f"{keyword}= must be a str, one of {_listed(allowed)}; not {type(value).__name__}")
    if value not in allowed:
        raise ConfigError(f"{keyword}= must be one of {_listed(allowed)}, not {value!r}", kind="invalid_config")
    return value


def _listed(allowed: Tuple[str, ...]) -> str:
    return ", ".join(repr(a) for a in allowed)


RETRY_KEYS = ("maxAttempts", "baseDelayMs", "maxDelayMs", "retryReadTimeouts")
PROXY_KEYS = ("url", "fromEnv")


def mapping(keyword: str, value: Any, keys: Tuple[str, ...]) -> Dict[str, Any]:
    """A dict keyword (``retry=``, ``proxy=``) whose keys are checked here so
    that a misspelt one is named with the keyword and the keys it takes."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{keyword}= must be a dict, not {type(value).__name__}")
    for key in value:
        if key not in keys:
            raise ConfigError(
                f"{keyword}= has no key {key!r} (it takes {_listed(keys)})", kind="invalid_config"
            )
    return dict(value)


def auth_config(auth: Any) -> Optional[Dict[str, Any]]:
    if auth is None:
        return None
    if isinstance(auth, (TokenAuth, OAuth)):
        return auth._to_config()
    if isinstance(auth, Mapping):
        return dict(auth)
    raise TypeError(f"auth= must be None, TokenAuth, OAuth or the C config's auth dict, not {type(auth).__name__}")


def path_or_none(keyword: str, value: Union[None, str, "os.PathLike[str]"]) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{keyword}= must be a str or os.PathLike, not {type(value).__name__}")
    return os.fspath(value)


def call_timeouts(timeout: Optional[float], total_timeout: Optional[float]) -> Optional[Dict[str, int]]:
    """``options.timeouts`` for one call, or ``None`` to keep the client's."""
    timeouts: Dict[str, int] = {}
    if timeout is not None:
        timeouts["requestMs"] = seconds_to_ms("timeout", timeout, RequestError)
    if total_timeout is not None:
        timeouts["totalMs"] = seconds_to_ms("total_timeout", total_timeout, RequestError)
    return timeouts or None
