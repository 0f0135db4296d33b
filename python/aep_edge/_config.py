"""Python keywords → the C config and request options, and back for messages.

The core validates everything and names what it refuses by its C key
(``timeouts.totalMs``). A user of :class:`EdgeClient` wrote Python keywords,
so :class:`Words` rewrites those names (``total_timeout=``) in the
messages of errors raised for a client built from keywords, and the names of
per-call options (``options.requestId``: ``request_id=``) for every client. Checks that need
Python's own words from the start (the fixed choices, the seconds) are made
here, before the core sees the value.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any, Callable, Dict, Mapping, Optional, Pattern, Tuple, Type, Union

from ._errors import ConfigError, EdgeError, RequestError
from ._types import OAuth, TokenAuth

# C key → Python word, for configs built from keywords.
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
    "edgeBasePath": "edge_base_path=",
    "headers": "headers=",
    "queue": "queue=",
    "async.workers": "workers=",
    "async.maxPending": "max_pending=",
    "retry.maxAttempts": "retry['maxAttempts']",
    "retry.baseDelayMs": "retry['baseDelayMs']",
    "retry.maxDelayMs": "retry['maxDelayMs']",
    "retry.retryReadTimeouts": "retry['retryReadTimeouts']",
}
# The same for per-call keywords: every client's calls take Python keywords,
# whichever way the client was built.
_CALL_WORDS: Dict[str, str] = {
    "options.timeouts.requestMs": "timeout=",
    "options.timeouts.totalMs": "total_timeout=",
    "options.requestId": "request_id=",
    "options.datastreamId": "datastream_id=",
    "options.state": "state=",
    "options.headers": "headers=",
    "options.locationHint": "location_hint=",
    "identityMap": "identity_map=",
}
_AUTH_WORDS: Dict[str, str] = {
    "auth.accessToken": "TokenAuth.access_token",
    "auth.apiKey": "TokenAuth.api_key",
    "auth.clientId": "OAuth.client_id",
    "auth.clientSecret": "OAuth.client_secret",
    "auth.scopes": "OAuth.scopes",
    "auth.tokenUrl": "OAuth.token_url",
}
# Dict keywords whose own keys messages name: `headers.Cookie` is shown as
# `headers=['Cookie']` (the path continues as the core wrote it:
# `identity_map=['ECID'][0].id`), `unknown key queue.maxEvnts` as
# `queue= has no key 'maxEvnts'`. The keys are looked up in the dict that was
# passed, so a name the core prints unquoted is cut where it really ends.
_DICT_KEYWORDS = ("headers", "queue", "options.headers", "identityMap")


def _pattern(words: Mapping[str, str]) -> Pattern[str]:
    # A key that is one lowercase word (proxy, headers) is also an English
    # word: it is a key only where a message starts with it ("proxy must ...",
    # not "... a loopback proxy"). Any other key is matched wherever it stands
    # alone ("(did you mean timeouts.totalMs?)"); the converter's paths of a
    # config start with "config.", which a client built from keywords drops.
    # A key followed by "=" is already a keyword (headers=['Cookie']).
    keys = sorted(words, key=len, reverse=True)  # options.timeouts.totalMs before timeouts.totalMs
    words_only = [k for k in keys if re.fullmatch(r"[a-z]+", k)]
    paths = [k for k in keys if k not in words_only]
    alternatives = [r"(?<![\w.])(?:config\.)?(" + "|".join(re.escape(k) for k in paths) + r")(?![\w=])"]
    if words_only:
        alternatives.append(r"^(?:config\.)?(" + "|".join(re.escape(k) for k in words_only) + r")(?![\w=])")
    return re.compile("|".join(alternatives))


class Words:
    """The translation in force for one client: Python's words for the C keys
    of its config (when built from keywords) and of every call's options."""

    __slots__ = ("_words", "_pattern")

    def __init__(self, keywords: bool, auth_object: bool = False, queue_path: bool = False) -> None:
        self._words = dict(_CALL_WORDS)
        if keywords:
            self._words.update(_CONFIG_WORDS)
            if auth_object:
                self._words.update(_AUTH_WORDS)
            if queue_path:
                self._words["queue.path"] = "queue_path="
        self._pattern = _pattern(self._words)

    def rewrite(self, message: str, given: Optional[Mapping[str, Any]] = None) -> str:
        """``message`` in Python's words; ``given`` is the config or request
        dict the message is about (for the keys of dict keywords)."""
        unknown = re.fullmatch(r"unknown key (\S+)", message)
        if unknown and unknown.group(1) in self._words:
            # A key the Python layer sends that this build's core does not know yet.
            return f"{self._words[unknown.group(1)]} is not supported in this build"
        if given is not None:
            message = self._dict_keys(message, given)
        return self._pattern.sub(lambda m: self._words[m.group(m.lastindex or 0)], message)

    def _dict_keys(self, message: str, given: Mapping[str, Any]) -> str:
        for path in _DICT_KEYWORDS:
            keyword = self._words.get(path)
            value = _at(given, path)
            if keyword is None or not isinstance(value, Mapping):
                continue
            for key in sorted((k for k in value if isinstance(k, str)), key=len, reverse=True):
                if f"{path}.{key}" in self._words:
                    continue  # a key with a keyword of its own (queue.path: queue_path=)
                # The core writes path.key; the converter path.key or path["key"].
                spelt = "|".join(re.escape(s) for s in (f"{path}.{key}", f"{path}[{json.dumps(key)}]"))
                named = r"(?:config\.)?(?:" + spelt + r")(?![\w\-@])"
                message = re.sub(r"^unknown key " + named, _literal(f"{keyword} has no key {key!r}"), message)
                message = re.sub(r"(?<![\w.])" + named, _literal(f"{keyword}[{key!r}]"), message)
        return message

    def apply(self, error: Exception, given: Optional[Mapping[str, Any]] = None) -> Exception:
        """Rewrites the message of ``error`` (an :class:`EdgeError`, or the
        ``TypeError`` that names the path of a value JSON cannot hold) in
        place: the same object is re-raised."""
        if isinstance(error, EdgeError):
            message = self.rewrite(error.message, given)
            if message != error.message:
                error.message = message
                error.args = (message,)
        elif len(error.args) == 1 and isinstance(error.args[0], str):
            error.args = (self.rewrite(error.args[0], given),)
        return error


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A replacement for :func:`re.sub` taken as it is (no backslash escapes)."""
    return lambda _match: text


def _at(given: Mapping[str, Any], path: str) -> Any:
    value: Any = given
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


FROM_CONFIG = Words(keywords=False)
"""A client built with ``from_config`` speaks C keys: only its calls' options
(keywords) are translated."""


def seconds_to_ms(keyword: str, seconds: Any, error: Type[EdgeError] = ConfigError) -> int:
    """Validates ``keyword=`` (seconds, > 0, finite) and returns milliseconds."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{keyword}= must be a number of seconds or None, not {type(seconds).__name__}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise error(f"{keyword}= must be a positive, finite number of seconds, not {seconds!r}", kind=_kind(error))
    if seconds > 86400:
        raise error(f"{keyword}= must be at most 86400 seconds (one day), not {seconds!r}", kind=_kind(error))
    return max(1, int(round(seconds * 1000)))


def wait_seconds(keyword: str, seconds: Any) -> float:
    """Validates ``keyword=`` of a wait (``flush``, ``close``): seconds, >= 0, finite."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{keyword}= must be a number of seconds, not {type(seconds).__name__}")
    if not math.isfinite(seconds) or seconds < 0:
        raise RequestError(f"{keyword}= must be a finite number of seconds >= 0, not {seconds!r}", kind="invalid_request")
    return float(seconds)


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
