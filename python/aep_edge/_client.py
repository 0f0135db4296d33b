"""EdgeClient: the Pythonic face of the native client.

Layout, so that later features slot in without touching the rest:

- ``__init__`` turns keywords into the C config (``_config`` does the checks
  and the wording); ``_start`` builds the native client.
- Every call builds its request with ``_request`` (body, ``query``, ``meta``,
  per-call ``options``) and goes through ``_invoke``, which keeps the log
  level in step, tags log records with the request id and rewrites error
  messages into Python's words. New per-call keywords add one line to
  ``_request``; new calls (``send``, ``flush`` ...) call ``_invoke`` too.
- The async methods start the call on the core's workers (``_call_async``).
- The durable queue (``send``, ``flush``, ``stats``) is ``self._queue``.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import threading
import time
import weakref
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    TypeVar,
    Union,
    cast,
)

from . import _config, _native
from ._config import Words
from ._errors import ConfigError, EdgeError, EdgeTimeoutError, RequestError, _from_native
from ._logging import LEVEL_KEY, LevelFollower, level_cache
from ._shapes import (
    DefaultConsent,
    HintRouting,
    ProxyConfig,
    RetrySettings,
    SessionMode,
    SessionView,
    StoreEntry,
    StateEntryInput,
    TlsRoots,
)
from ._types import CloseReport, CollectResponse, InteractResponse, OAuth, Outcome, QueueStats, TokenAuth, _response
from ._visitor import StateEntry, display_event

# `-> _Self` from __enter__/__aenter__: typing.Self where Python has it (3.11+);
# checkers know typing_extensions' from typeshed. At run time on 3.9 and 3.10 a
# TypeVar stands in, so that typing.get_type_hints() resolves the annotation
# without a dependency on typing_extensions.
if sys.version_info >= (3, 11):
    from typing import Self as _Self
elif TYPE_CHECKING:
    from typing_extensions import Self as _Self
else:
    _Self = TypeVar("_Self", bound="EdgeClient")

__all__ = ["EdgeClient", "AuthSetting", "ProxySetting", "Event", "StateEntryLike", "PathSetting"]

AuthSetting = Union[None, TokenAuth, OAuth, Mapping[str, Any]]
"""``auth=``: ``None`` (the unauthenticated host), :class:`TokenAuth`,
:class:`OAuth`, or the C config's ``auth`` dict."""

ProxySetting = Union[None, str, ProxyConfig]
"""``proxy=``: a proxy URL, or ``{"url": ..., "fromEnv": ...}``."""

PathSetting = Union[None, str, "os.PathLike[str]"]
"""A file path keyword (``state_path=``, ``ca_file=``)."""

Event = Mapping[str, Any]
"""One event: ``{"xdm": {...}, "data": {...}}`` (any ``Mapping``)."""

StateEntryLike = Union[StateEntry, StoreEntry, StateEntryInput]
"""An item of ``state=``: a previous response's ``state_entries`` item, or
``{"key", "value"?, "maxAge"?}``."""

_SESSIONS = ("device", "none")
_TLS_ROOTS = ("bundled", "system")
_CONSENTS = ("in", "pending")
_HINT_ROUTINGS = ("auto", "path", "host", "off")

# Every live client, so that a child process can swap their native clients
# after fork() (inherited connections and threads are unusable there).
_live_clients: "weakref.WeakSet[EdgeClient]" = weakref.WeakSet()
# Native clients inherited by a forked child are kept, never dropped: their
# connections belong to the parent.
_inherited: List[Any] = []


def _after_fork_in_child() -> None:
    for client in list(_live_clients):
        client._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

R = TypeVar("R")

# One inbox per event loop: the core's workers leave finished async calls
# there, and it completes their futures on the loop (call_soon_threadsafe).
_inboxes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _native.Inbox]" = weakref.WeakKeyDictionary()


def _inbox(loop: asyncio.AbstractEventLoop) -> _native.Inbox:
    inbox = _inboxes.get(loop)
    if inbox is None:
        inbox = _inboxes[loop] = _native.Inbox(weakref.ref(loop))
    return inbox


class EdgeClient:
    """A client for one datastream of the Edge Network Server API.

    Thread-safe: share one client between threads. The GIL is released while
    a call waits on the network. Use it as a context manager, or call
    :meth:`close`; a closed client raises :class:`ClientClosedError`.

    Keywords (all optional but ``datastream_id``; each mirrors a key of the C
    config, which :meth:`from_config` takes as a dict):

    - ``datastream_id``: the datastream id (the query parameter).
    - ``org_id``: the IMS org, ``"…@AdobeOrg"``; required with ``auth``.
    - ``auth``: ``None`` (unauthenticated host ``edge.adobedc.net``),
      ``TokenAuth(access_token, api_key)``, ``OAuth(client_id, client_secret,
      scopes, token_url=None)`` (servers only), or the C config's auth dict.
    - ``base_url``: a full origin, e.g. the emulator's ``http://127.0.0.1:8080``
      (plain ``http://`` only to loopback).
    - ``edge_domain``: the Edge host; default ``server.adobedc.net`` with auth,
      ``edge.adobedc.net`` without.
    - ``session``: ``"device"`` (default: this client is one visitor and keeps
      its state) or ``"none"`` (a server passes each visitor's ``state=``).
    - ``timeout``: seconds per attempt (default 10); ``connect_timeout``
      (default 5); ``total_timeout``: seconds for a whole call, retries and
      waits included (default 30). ``None`` keeps the default.
    - ``retry``: ``{"maxAttempts": 3, "baseDelayMs": 1000, "maxDelayMs": 30000,
      "retryReadTimeouts": True}``, any subset.
    - ``state_path``: a file that keeps the device session across restarts.
    - ``proxy``: a proxy URL (``http://``, ``https://``, ``socks5://``) or
      ``{"url": ..., "fromEnv": bool}``; no proxy unless set.
    - ``ca_file``: a PEM file of extra roots; ``tls_roots``: ``"bundled"``
      (default, Mozilla's) or ``"system"``.
    - ``max_connections``: pooled connections, 1..1024 (default 16).
    - ``workers``: the core's threads behind the ``*_async`` methods, 1..256
      (default 4); ``max_pending``: async calls that may wait for one
      (default 1024; beyond, :class:`QueueFullError`).
    - ``queue``: the C config's ``queue`` keys (``maxEvents``, ``maxBytes``,
      ``flushIntervalMs`` ...); ``queue_path``: the SQLite file of the durable
      queue behind :meth:`send` (without one the queue is in memory).
    - ``on_outcome``: called with an :class:`Outcome` for every event given
      to :meth:`send`, once it is delivered or rejected.
    - ``default_consent``: ``"in"`` (default) or ``"pending"`` (calls wait for
      :meth:`set_consent` until their deadline).
    - ``hint_routing``: ``"auto"``, ``"path"``, ``"host"`` or ``"off"``: how a
      location hint routes a call (default ``"auto"``).
    - ``headers``: visitor context headers sent on every call (``User-Agent``,
      ``Accept-Language`` ...); ``edge_base_path``: ``"ee"`` (default) or
      ``"ee-pre-prd"`` (staging).
    """

    def __init__(
        self,
        datastream_id: str,
        *,
        org_id: Optional[str] = None,
        auth: AuthSetting = None,
        base_url: Optional[str] = None,
        edge_domain: Optional[str] = None,
        session: SessionMode = "device",
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        total_timeout: Optional[float] = None,
        retry: Optional[RetrySettings] = None,
        state_path: PathSetting = None,
        proxy: ProxySetting = None,
        ca_file: PathSetting = None,
        tls_roots: Optional[TlsRoots] = None,
        max_connections: Optional[int] = None,
        default_consent: Optional[DefaultConsent] = None,
        hint_routing: Optional[HintRouting] = None,
        workers: Optional[int] = None,
        max_pending: Optional[int] = None,
        queue: Optional[Mapping[str, Any]] = None,
        queue_path: PathSetting = None,
        on_outcome: Optional[Callable[[Outcome], Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        edge_base_path: Optional[str] = None,
    ) -> None:
        if not isinstance(datastream_id, str):
            raise TypeError(f"datastream_id must be a str, not {type(datastream_id).__name__}")
        config: Dict[str, Any] = {
            "datastreamId": datastream_id,
            "session": _config.choice("session", session, _SESSIONS),
        }
        if org_id is not None:
            config["orgId"] = org_id
        auth_config = _config.auth_config(auth)
        if auth_config is not None:
            config["auth"] = auth_config
        if base_url is not None:
            config["baseUrl"] = base_url
        if edge_domain is not None:
            config["edgeDomain"] = edge_domain
        timeouts: Dict[str, int] = {}
        for keyword, key, seconds in (
            ("timeout", "requestMs", timeout),
            ("connect_timeout", "connectMs", connect_timeout),
            ("total_timeout", "totalMs", total_timeout),
        ):
            if seconds is not None:
                timeouts[key] = _config.seconds_to_ms(keyword, seconds)
        if timeouts:
            config["timeouts"] = timeouts
        if retry is not None:
            config["retry"] = _config.mapping("retry", retry, _config.RETRY_KEYS)
        state_file = _config.path_or_none("state_path", state_path)
        if state_file is not None:
            config["statePath"] = state_file
        if proxy is not None:
            config["proxy"] = {"url": proxy} if isinstance(proxy, str) else _config.mapping("proxy", proxy, _config.PROXY_KEYS)
        tls: Dict[str, Any] = {}
        if tls_roots is not None:
            tls["roots"] = _config.choice("tls_roots", tls_roots, _TLS_ROOTS)
        ca = _config.path_or_none("ca_file", ca_file)
        if ca is not None:
            tls["caFile"] = ca
        if tls:
            config["tls"] = tls
        if max_connections is not None:
            if isinstance(max_connections, bool) or not isinstance(max_connections, int):
                raise TypeError(f"max_connections= must be an int, not {type(max_connections).__name__}")
            config["maxConnections"] = max_connections
        if default_consent is not None:
            config["defaultConsent"] = _config.choice("default_consent", default_consent, _CONSENTS)
        # Server-side visitors: context headers on every call, where a hint
        # goes ("auto", "path", "host", "off"), and "ee" or "ee-pre-prd".
        if headers is not None:
            config["headers"] = headers
        if hint_routing is not None:
            config["hintRouting"] = _config.choice("hint_routing", hint_routing, _HINT_ROUTINGS)
        if edge_base_path is not None:
            config["edgeBasePath"] = edge_base_path
        async_config = {"workers": workers, "maxPending": max_pending}
        if any(v is not None for v in async_config.values()):
            config["async"] = {k: v for k, v in async_config.items() if v is not None}
        if queue is not None or queue_path is not None:
            config["queue"] = _queue_config(queue, queue_path)
        words = Words(keywords=True, auth_object=isinstance(auth, (TokenAuth, OAuth)), queue_path=queue_path is not None)
        self._start(config, words, on_outcome)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, on_outcome: Optional[Callable[[Outcome], Any]] = None
    ) -> "EdgeClient":
        """Builds a client from the C config's keys (``datastreamId``, ``orgId``,
        ``auth``, ``baseUrl``, ``timeouts``, ``queue`` ...), as a dict; errors
        name those keys."""
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a mapping, not {type(config).__name__}")
        client = cls.__new__(cls)
        client._start(dict(config), _config.FROM_CONFIG, on_outcome)
        return client

    def _start(
        self, config: Dict[str, Any], words: Words, on_outcome: Optional[Callable[[Outcome], Any]] = None
    ) -> None:
        self._words = words
        try:
            self._native = _native.NativeClient(config)
        except (EdgeError, TypeError) as e:
            words.apply(e, config)
            raise
        self._queue = _native.NativeQueue(self._native)
        self._on_outcome = on_outcome
        if on_outcome is not None:
            self._queue.set_outcome_callback(_outcome_sink(on_outcome))
        timeouts: Any = config.get("timeouts")
        total_ms = timeouts.get("totalMs") if isinstance(timeouts, Mapping) else None
        self._total_timeout = total_ms / 1000.0 if isinstance(total_ms, int) else 30.0
        self._summary = _summary(config)
        self._log = LevelFollower(self._native)
        _live_clients.add(self)

    # -- calls ---------------------------------------------------------------

    def interact(
        self,
        event: Event,
        *,
        query: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        state: Optional[Sequence[StateEntryLike]] = None,
        datastream_id: Optional[str] = None,
        timeout: Optional[float] = None,
        total_timeout: Optional[float] = None,
        headers: Optional[Mapping[str, str]] = None,
        location_hint: Optional[str] = None,
    ) -> InteractResponse:
        """Sends one event to ``/ee/v2/interact`` and returns the response.

        - ``event``: the event itself, ``{"xdm": {...}, "data": {...}}``.
        - ``query``, ``meta``: the request's ``query`` and ``meta`` objects.
        - ``request_id``: the ``requestId`` to send (default: a new UUID).
        - ``state``: state entries (e.g. a previous response's
          ``state_entries``) sent instead of the client's own.
        - ``datastream_id``: overrides the datastream of this call.
        - ``timeout``, ``total_timeout``: seconds per attempt and for the whole
          call, for this call only (``None``: the client's).
        - ``headers``: the visitor's context headers (``User-Agent``,
          ``Accept-Language``, ``Referer``, ``X-Forwarded-For`` ...).
        - ``location_hint``: pins the region of this call.
        """
        # `interact(event)` with no keyword never gets here: the wrapper below
        # (_without_keywords) hands it to the native layer, which does these
        # steps end to end (python/src/plain_call.rs).
        request = _request("event", _event(event, "interact()"), query, meta, request_id, state, datastream_id, timeout,
                           total_timeout, headers, location_hint)
        return _response(InteractResponse, self._invoke(self._native.interact, request))

    def collect(
        self,
        events: Sequence[Event],
        *,
        query: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        state: Optional[Sequence[StateEntryLike]] = None,
        datastream_id: Optional[str] = None,
        timeout: Optional[float] = None,
        total_timeout: Optional[float] = None,
        headers: Optional[Mapping[str, str]] = None,
        location_hint: Optional[str] = None,
    ) -> CollectResponse:
        """Posts a batch of events to ``/ee/v2/collect`` at once (the encoded
        body must stay under 64 KB). Keywords as :meth:`interact`."""
        if (query is None and meta is None and request_id is None and state is None and datastream_id is None
                and timeout is None and total_timeout is None and headers is None and location_hint is None):
            request: Dict[str, Any] = {"events": _events(events)}
        else:
            request = _request("events", _events(events), query, meta, request_id, state, datastream_id, timeout,
                               total_timeout, headers=headers, location_hint=location_hint)
        return _response(CollectResponse, self._invoke(self._native.collect, request))

    async def interact_async(
        self,
        event: Event,
        *,
        query: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        state: Optional[Sequence[StateEntryLike]] = None,
        datastream_id: Optional[str] = None,
        timeout: Optional[float] = None,
        total_timeout: Optional[float] = None,
        headers: Optional[Mapping[str, str]] = None,
        location_hint: Optional[str] = None,
    ) -> InteractResponse:
        """:meth:`interact` without blocking the event loop. Cancelling the
        awaited call abandons its result; closing the client while it is
        queued ends it with :class:`ClientClosedError`."""
        request = _request("event", _event(event, "interact_async()"), query, meta, request_id, state, datastream_id, timeout, total_timeout,
                           headers=headers, location_hint=location_hint)
        return _response(InteractResponse, await self._call_async("interact", request))

    async def collect_async(
        self,
        events: Sequence[Event],
        *,
        query: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        state: Optional[Sequence[StateEntryLike]] = None,
        datastream_id: Optional[str] = None,
        timeout: Optional[float] = None,
        total_timeout: Optional[float] = None,
        headers: Optional[Mapping[str, str]] = None,
        location_hint: Optional[str] = None,
    ) -> CollectResponse:
        """:meth:`collect` without blocking the event loop."""
        request = _request("events", _events(events), query, meta, request_id, state, datastream_id, timeout, total_timeout,
                           headers=headers, location_hint=location_hint)
        return _response(CollectResponse, await self._call_async("collect", request))

    def set_consent(
        self,
        consent: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]],
        *,
        identity_map: Optional[Mapping[str, Any]] = None,
        query: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        datastream_id: Optional[str] = None,
        timeout: Optional[float] = None,
        total_timeout: Optional[float] = None,
    ) -> CollectResponse:
        """Posts a consent decision (``{"standard", "version", "value"}``, or a
        list of them) to ``/ee/v1/privacy/set-consent``; the client keeps the
        collect consent it returns, which gates :meth:`interact` and :meth:`collect`."""
        request = _consent_request(consent, identity_map, query, meta, request_id, datastream_id, timeout, total_timeout)
        return _response(CollectResponse, self._invoke(self._native.set_consent, request))

    async def set_consent_async(
        self,
        consent: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]],
        *,
        identity_map: Optional[Mapping[str, Any]] = None,
        query: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        datastream_id: Optional[str] = None,
        timeout: Optional[float] = None,
        total_timeout: Optional[float] = None,
    ) -> CollectResponse:
        """:meth:`set_consent` without blocking the event loop."""
        request = _consent_request(consent, identity_map, query, meta, request_id, datastream_id, timeout, total_timeout)
        return _response(CollectResponse, await self._call_async("consent", request))

    # -- fire and forget (the durable queue) -----------------------------------

    def send(
        self,
        event: Event,
        *,
        meta: Optional[Mapping[str, Any]] = None,
        state: Optional[Sequence[StateEntryLike]] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> str:
        """Queues one event for delivery and returns its id (``xdm._id``) at
        once; never waits on the network. It is stored before this returns (in
        the ``queue_path`` file: a crash loses nothing) and delivered in batches
        by the client's dispatcher thread; ``on_outcome=`` hears how it ended."""
        request = _request("event", _event(event, "send()"), None, meta, None, state, None, None, None)
        if headers is not None:
            request.setdefault("options", {})["headers"] = headers
        return self._invoke(self._queue.send, request)

    def notify_display(
        self,
        response: InteractResponse,
        *,
        headers: Optional[Mapping[str, str]] = None,
        state: Optional[Sequence[StateEntryLike]] = None,
    ) -> str:
        """Reports the propositions of ``response`` as shown (so Target and
        Journey Optimizer count them) through :meth:`send`, for the same
        visitor: ``state`` defaults to ``response.next_state`` when it has one,
        and the region to ``response.location_hint``. Returns the event id;
        raises ``RequestError`` when the response has no propositions."""
        event = display_event(response.propositions)
        if state is None and "state" in response._client:
            state = response.next_state
        request = _request("event", event, None, None, None, state, None,
                           headers=headers, location_hint=response.location_hint)
        return self._invoke(self._queue.send, request)

    def flush(self, timeout: float = 30.0) -> QueueStats:
        """Sends every queued event without waiting for batches to fill and
        waits up to ``timeout`` seconds for the queue to empty. Raises
        :class:`EdgeTimeoutError` (with ``.stats``) when the deadline comes first."""
        emptied, raw = self._queue.flush(_config.wait_seconds("timeout", timeout))
        stats = QueueStats._from_raw(raw)
        if not emptied:
            error = EdgeTimeoutError(f"{stats.queued} event(s) still queued after {timeout} s", kind="timeout")
            error.stats = stats  # type: ignore[attr-defined]
            raise error
        return stats

    async def flush_async(self, timeout: float = 30.0) -> QueueStats:
        """:meth:`flush` without blocking the event loop (the wait runs on a
        thread of its own, not on an executor)."""
        loop = asyncio.get_running_loop()
        future: "asyncio.Future[QueueStats]" = loop.create_future()

        def settle(result: Optional[QueueStats], error: Optional[BaseException]) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        def wait() -> None:
            try:
                result = self.flush(timeout)
            except BaseException as e:  # handed to the awaiting task
                loop.call_soon_threadsafe(settle, None, e)
            else:
                loop.call_soon_threadsafe(settle, result, None)

        threading.Thread(target=wait, name="aep-edge-flush", daemon=True).start()
        return await future

    def stats(self) -> QueueStats:
        """The queue's counters now (no network I/O)."""
        return QueueStats._from_raw(self._queue.stats())

    @property
    def session(self) -> SessionView:
        """A snapshot of the client's session: ``ecid``, ``locationHint``,
        ``consent``, ``entries``, ``session``, ``statePath``, ``storageWarning``."""
        return cast(SessionView, self._native.session())

    def reset_session(self) -> None:
        """Forgets the visitor (kiosk: the next one starts fresh): state
        entries, location hint, ECID, consent and the state file's copy."""
        self._native.reset_session()

    def set_access_token(self, access_token: str) -> None:
        """Replaces the access token of ``TokenAuth`` for the calls that follow."""
        self._native.set_access_token(access_token)

    def _invoke(self, call: Callable[[Any], R], request: Any) -> R:
        """Runs one native call on this thread: log level in step, messages in
        Python's words. (The native layer picks the request id when none is
        given and tags the call's log records with it.)"""
        log = self._log
        if level_cache.get(LEVEL_KEY) != log.installed:
            log.sync()
        try:
            return call(request)
        except (EdgeError, TypeError) as e:
            self._words.apply(e, request)
            raise

    async def _call_async(self, endpoint: str, request: Dict[str, Any]) -> _native.NativeResult:
        """Runs a call on the core's workers (``workers=``); a request the
        blocking call would refuse raises here, before anything is queued."""
        self._log.sync()
        loop = asyncio.get_running_loop()
        future: "asyncio.Future[_native.NativeResult]" = loop.create_future()
        try:
            _native.start_call(self._native, endpoint, request, _inbox(loop), future)
            return await future
        except (EdgeError, TypeError) as e:
            self._words.apply(e, request)
            raise

    # -- lifecycle -----------------------------------------------------------

    def close(self, timeout: Optional[float] = None) -> CloseReport:
        """Refuses new calls and events, lets the queue deliver what it can,
        stops retries in flight and waits up to ``timeout`` seconds (``None``:
        the queue gets the total timeout, calls in flight their end; every call
        is bounded by its total timeout) for both. Async calls still queued end
        with :class:`ClientClosedError`. Queued events left over stay in the
        ``queue_path`` file for the next client. Idempotent, thread-safe."""
        started = time.monotonic()
        queue_timeout = self._total_timeout if timeout is None else _config.wait_seconds("timeout", timeout)
        undelivered, _, _ = self._queue.close(queue_timeout)
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
        in_flight, _ = self._native.close(left)
        return CloseReport(in_flight, time.monotonic() - started, undelivered)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (calls then raise ``ClientClosedError``)."""
        return bool(self._native.is_closed())

    def __enter__(self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> _Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def _after_fork(self) -> None:
        """In a child after fork(): a fresh native client (no inherited
        connections, and workers that start at its first async call: the
        parent's threads did not come along)."""
        old = self._native
        _inherited.append(old)
        _inherited.append(self._queue)
        if not old.is_closed():
            self._native = old.reopen()
            # The queue file stays the parent's: the child queues in memory.
            self._queue = _native.NativeQueue(self._native, in_memory=True)
            if self._on_outcome is not None:
                self._queue.set_outcome_callback(_outcome_sink(self._on_outcome))
        self._log.rebind(self._native)

    def __reduce__(self) -> Any:
        raise TypeError("an EdgeClient cannot be pickled; create one per process")

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"EdgeClient({self._summary}, {state})"


def _without_keywords(typed: Callable[..., InteractResponse]) -> Callable[..., InteractResponse]:
    """``EdgeClient.interact`` as nearly every caller calls it, ``interact(event)``,
    straight to the native call; any other call goes to ``typed`` itself (its
    checks, its errors). CPython looks up, call after call, the default of each
    keyword-only parameter not given (nine dict lookups here, ~1.3k
    instructions, about a tenth of the binding's own cost); this function has
    no defaults to look up. ``functools.wraps`` keeps ``typed``'s name,
    signature (``inspect.signature`` follows ``__wrapped__``), annotations and
    docs, and the inner function's name keeps the words of CPython's argument
    errors (``interact() missing 1 required positional argument: 'event'``)."""

    # `-> Any`: _native.plain_interact's; wraps() puts typed's annotations on it.
    @functools.wraps(typed)
    def interact(self: EdgeClient, event: Event, *args: Any, **keywords: Any) -> Any:
        if not args and not keywords:
            return _native.plain_interact(self, self._native, self._log.installed, event)
        return typed(self, event, *args, **keywords)

    return interact


setattr(EdgeClient, "interact", _without_keywords(EdgeClient.interact))


def _queue_config(queue: Optional[Mapping[str, Any]], path: Any) -> Dict[str, Any]:
    """The C config's ``queue`` from ``queue=`` (its keys) and ``queue_path=``."""
    if queue is not None and not isinstance(queue, Mapping):
        raise TypeError(f"queue= must be a mapping of the C config's queue keys, not {type(queue).__name__}")
    config = dict(queue or {})
    if path is not None:
        if "path" in config:
            raise ConfigError("give queue_path= or queue={'path': ...}, not both", kind="invalid_config")
        config["path"] = os.fspath(path)
    return config


def _outcome_sink(on_outcome: Callable[[Outcome], Any]) -> Callable[[Dict[str, Any]], None]:
    """The native callback for ``on_outcome=``: builds the :class:`Outcome`."""

    def sink(raw: Dict[str, Any]) -> None:
        error = raw.get("error")
        on_outcome(
            Outcome(
                event_id=str(raw.get("eventId", "")),
                outcome=str(raw.get("outcome", "")),
                error=None if error is None else _from_native(error),
                attempts=int(raw.get("attempts", 0)),
            )
        )

    return sink


def _consent_request(
    consent: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]],
    identity_map: Optional[Mapping[str, Any]],
    query: Optional[Mapping[str, Any]],
    meta: Optional[Mapping[str, Any]],
    request_id: Optional[str],
    datastream_id: Optional[str],
    timeout: Optional[float],
    total_timeout: Optional[float],
) -> Dict[str, Any]:
    entries = [consent] if isinstance(consent, Mapping) else consent
    request = _request("consent", entries, query, meta, request_id, None, datastream_id, timeout, total_timeout)
    if identity_map is not None:
        request["identityMap"] = identity_map
    return request


def _summary(config: Mapping[str, Any]) -> str:
    """The parts of a config that are safe to show: never a token, secret or proxy."""
    parts = [f"datastream_id={config.get('datastreamId')!r}"]
    if config.get("orgId") is not None:
        parts.append(f"org_id={config.get('orgId')!r}")
    parts.append(f"session={config.get('session', 'device')!r}")
    for key, name in (("baseUrl", "base_url"), ("edgeDomain", "edge_domain")):
        if isinstance(config.get(key), str):
            parts.append(f"{name}={config[key]!r}")
    auth = config.get("auth")
    if isinstance(auth, Mapping):
        parts.append(f"auth={str(auth.get('type'))!r}")
    return ", ".join(parts)


_C_SHAPE_HINT = "pass request['event'] itself, and its query and meta as the query= and meta= keywords"


def _event(event: Any, call: str) -> Any:
    """Refuses the C request shape ``{"event": {...}}`` given as the event."""
    if (type(event) is dict or isinstance(event, Mapping)) and "event" in event:
        raise RequestError(
            f"{call} takes the event itself ({{'xdm': ..., 'data': ...}}), not the C request "
            f"{{'event': {{...}}}}: {_C_SHAPE_HINT}",
            kind="invalid_request",
        )
    return event


def _events(events: Any) -> Any:
    if isinstance(events, Mapping):
        hint = "; pass request['events'] itself" if "events" in events else ""
        raise RequestError(f"collect() takes a sequence of events, not a mapping{hint}", kind="invalid_request")
    if isinstance(events, (list, tuple)):
        for i, event in enumerate(events):
            if isinstance(event, Mapping) and "event" in event:
                raise RequestError(
                    f"events[{i}] is the C request shape {{'event': {{...}}}}: pass the event itself",
                    kind="invalid_request",
                )
    return events


def _request(
    name: str,
    body: Any,
    query: Optional[Mapping[str, Any]],
    meta: Optional[Mapping[str, Any]],
    request_id: Optional[str],
    state: Optional[Sequence[Any]],
    datastream_id: Optional[str],
    timeout: Optional[float] = None,
    total_timeout: Optional[float] = None,
    headers: Optional[Mapping[str, str]] = None,
    location_hint: Optional[str] = None,
) -> Dict[str, Any]:
    """The request dict of the C ABI: ``{name: body, "query", "meta", "options"}``.
    Without ``request_id`` the native layer picks one for a blocking call (so
    that its log records carry it), the core for an async call, and the queue
    per batch for queued events."""
    request: Dict[str, Any] = {name: body}
    if query is not None:
        request["query"] = query
    if meta is not None:
        request["meta"] = meta
    if (request_id is None and state is None and datastream_id is None and timeout is None
            and total_timeout is None and headers is None and location_hint is None):
        return request  # the common call: no options
    options: Dict[str, Any] = {}
    if request_id is not None:
        if not isinstance(request_id, str):
            raise TypeError(f"request_id= must be a str, not {type(request_id).__name__}")
        options["requestId"] = request_id
    if datastream_id is not None:
        options["datastreamId"] = datastream_id
    if state is not None:
        options["state"] = state if isinstance(state, (list, tuple)) else list(state)
    if headers is not None:
        options["headers"] = headers
    if location_hint is not None:
        options["locationHint"] = location_hint
    timeouts = _config.call_timeouts(timeout, total_timeout)
    if timeouts is not None:
        options["timeouts"] = timeouts
    if options:
        request["options"] = options
    return request
