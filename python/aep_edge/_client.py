"""EdgeClient: the Pythonic face of the native client."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from . import _native
from ._errors import ConfigError, EdgeTimeoutError, _from_native
from ._types import CloseReport, CollectResponse, InteractResponse, OAuth, Outcome, QueueStats, TokenAuth
from ._visitor import display_event

__all__ = ["EdgeClient", "AuthSetting", "ProxySetting", "StateEntries"]

AuthSetting = Union[None, TokenAuth, OAuth, Mapping[str, Any]]
ProxySetting = Union[None, str, Mapping[str, Any]]
StateEntries = Sequence[Mapping[str, Any]]

_logger = logging.getLogger("aep_edge")

# Core levels 1 error, 2 warn, 3 info, 4 debug, 5 trace.
_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: logging.DEBUG}


def _emit(level: int, message: str) -> None:
    """The core's log callback (runs on the thread that logs, GIL held)."""
    _logger.log(_LEVELS.get(level, logging.DEBUG), "%s", message)


def _core_min_level() -> int:
    """The core level matching the effective level of the ``aep_edge`` logger."""
    effective = _logger.getEffectiveLevel()
    if effective <= logging.DEBUG:
        return 5
    if effective <= logging.INFO:
        return 3
    if effective <= logging.WARNING:
        return 2
    if effective <= logging.ERROR:
        return 1
    return 0


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


# One inbox per event loop: the core's workers leave finished async calls
# there, and it completes their futures on the loop (call_soon_threadsafe).
_inboxes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _native.Inbox]" = (
    weakref.WeakKeyDictionary()
)


def _inbox(loop: asyncio.AbstractEventLoop) -> "_native.Inbox":
    inbox = _inboxes.get(loop)
    if inbox is None:
        inbox = _inboxes[loop] = _native.Inbox(weakref.ref(loop))
    return inbox


def _milliseconds(name: str, seconds: Any) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(seconds).__name__}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{name} must be a positive, finite number of seconds, not {seconds!r}", kind="invalid_config")
    return max(1, int(round(seconds * 1000)))


def _auth_config(auth: AuthSetting) -> Optional[Dict[str, Any]]:
    if auth is None:
        return None
    if isinstance(auth, (TokenAuth, OAuth)):
        return auth._to_config()
    if isinstance(auth, Mapping):
        return dict(auth)
    raise TypeError(
        "auth must be None, TokenAuth, OAuth or the C config's auth dict, "
        f"not {type(auth).__name__}"
    )


class EdgeClient:
    """A client for one datastream of the Edge Network Server API.

    Thread-safe: share one client between threads. The GIL is released while
    a call waits on the network. Use it as a context manager, or call
    :meth:`close`. A closed client raises :class:`ClientClosedError`.
    """

    def __init__(
        self,
        datastream_id: str,
        *,
        org_id: Optional[str] = None,
        auth: AuthSetting = None,
        base_url: Optional[str] = None,
        edge_domain: Optional[str] = None,
        session: str = "device",
        timeout: float = 10.0,
        connect_timeout: Optional[float] = None,
        total_timeout: Optional[float] = None,
        retry: Optional[Mapping[str, Any]] = None,
        state_path: Union[None, str, "os.PathLike[str]"] = None,
        proxy: ProxySetting = None,
        ca_file: Union[None, str, "os.PathLike[str]"] = None,
        tls_roots: Optional[str] = None,
        max_connections: Optional[int] = None,
        workers: Optional[int] = None,
        max_pending: Optional[int] = None,
        queue: Optional[Mapping[str, Any]] = None,
        queue_path: Union[None, str, "os.PathLike[str]"] = None,
        on_outcome: Optional[Callable[[Outcome], Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        hint_routing: Optional[str] = None,
        edge_base_path: Optional[str] = None,
    ) -> None:
        config: Dict[str, Any] = {"datastreamId": datastream_id, "session": session}
        if org_id is not None:
            config["orgId"] = org_id
        auth_config = _auth_config(auth)
        if auth_config is not None:
            config["auth"] = auth_config
        if base_url is not None:
            config["baseUrl"] = base_url
        if edge_domain is not None:
            config["edgeDomain"] = edge_domain
        timeouts = {"requestMs": _milliseconds("timeout", timeout)}
        if connect_timeout is not None:
            timeouts["connectMs"] = _milliseconds("connect_timeout", connect_timeout)
        if total_timeout is not None:
            timeouts["totalMs"] = _milliseconds("total_timeout", total_timeout)
        config["timeouts"] = timeouts
        if retry is not None:
            config["retry"] = dict(retry)
        if state_path is not None:
            config["statePath"] = os.fspath(state_path)
        if proxy is not None:
            config["proxy"] = {"url": proxy} if isinstance(proxy, str) else dict(proxy)
        tls: Dict[str, Any] = {}
        if tls_roots is not None:
            tls["roots"] = tls_roots
        if ca_file is not None:
            tls["caFile"] = os.fspath(ca_file)
        if tls:
            config["tls"] = tls
        if max_connections is not None:
            config["maxConnections"] = max_connections
        # Server-side visitors: context headers on every call, where a hint
        # goes ("auto", "path", "host", "off"), and "ee" or "ee-pre-prd".
        if headers is not None:
            config["headers"] = dict(headers)
        if hint_routing is not None:
            config["hintRouting"] = hint_routing
        if edge_base_path is not None:
            config["edgeBasePath"] = edge_base_path
        # The core's threads behind the *_async methods (1 to 256, default 4),
        # and how many async calls may be pending (default 1024; beyond: QueueFullError).
        async_config = {"workers": workers, "maxPending": max_pending}
        if any(v is not None for v in async_config.values()):
            config["async"] = {k: v for k, v in async_config.items() if v is not None}
        if queue is not None or queue_path is not None:
            config["queue"] = _queue_config(queue, queue_path)
        self._start(config, on_outcome)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, on_outcome: Optional[Callable[[Outcome], Any]] = None
    ) -> "EdgeClient":
        """Builds a client from the C config's keys (``datastreamId``, ``orgId``,
        ``auth``, ``baseUrl``, ``timeouts``, ``queue`` ...), as a dict."""
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a mapping, not {type(config).__name__}")
        client = cls.__new__(cls)
        client._start(dict(config), on_outcome)
        return client

    def _start(self, config: Dict[str, Any], on_outcome: Optional[Callable[[Outcome], Any]] = None) -> None:
        self._native = _native.NativeClient(config)
        self._queue = _native.NativeQueue(self._native)
        self._on_outcome = on_outcome
        if on_outcome is not None:
            self._queue.set_outcome_callback(_outcome_sink(on_outcome))
        total_ms = config.get("timeouts", {}).get("totalMs") if isinstance(config.get("timeouts"), Mapping) else None
        self._total_timeout = total_ms / 1000.0 if isinstance(total_ms, int) else 30.0
        self._summary = _summary(config)
        level = _core_min_level()
        if level:
            self._native.set_logger(level, _emit)
        _live_clients.add(self)

    # -- calls ---------------------------------------------------------------

    def interact(
        self,
        event: Mapping[str, Any],
        *,
        query: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        state: Optional[StateEntries] = None,
        datastream_id: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        location_hint: Optional[str] = None,
    ) -> InteractResponse:
        """Sends one event to ``/ee/v2/interact`` and returns the response.

        A server acting for a visitor passes the visitor's ``state`` (the
        previous response's ``next_state``; sent instead of the client's own),
        its context ``headers`` (``User-Agent``, ``Accept-Language``,
        ``Referer``, ``X-Forwarded-For`` ...) and, to pin its region,
        ``location_hint``.
        """
        request = _request("event", event, query, meta, request_id, state, datastream_id,
                           headers, location_hint)
        return InteractResponse(self._native.interact(request))

    def collect(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        query: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        state: Optional[StateEntries] = None,
        datastream_id: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        location_hint: Optional[str] = None,
    ) -> CollectResponse:
        """Posts a batch of events to ``/ee/v2/collect`` at once."""
        request = _request("events", events, query, meta, request_id, state, datastream_id,
                           headers, location_hint)
        return CollectResponse(self._native.collect(request))

    async def interact_async(
        self,
        event: Mapping[str, Any],
        *,
        query: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        state: Optional[StateEntries] = None,
        datastream_id: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        location_hint: Optional[str] = None,
    ) -> InteractResponse:
        """:meth:`interact` without blocking the event loop. Cancelling the
        awaited call abandons its result."""
        request = _request("event", event, query, meta, request_id, state, datastream_id,
                           headers, location_hint)
        return InteractResponse(await self._call_async("interact", request))

    async def collect_async(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        query: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        state: Optional[StateEntries] = None,
        datastream_id: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        location_hint: Optional[str] = None,
    ) -> CollectResponse:
        """:meth:`collect` without blocking the event loop."""
        request = _request("events", events, query, meta, request_id, state, datastream_id,
                           headers, location_hint)
        return CollectResponse(await self._call_async("collect", request))

    def set_consent(
        self,
        consent: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]],
        *,
        identity_map: Optional[Mapping[str, Any]] = None,
        query: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        datastream_id: Optional[str] = None,
    ) -> CollectResponse:
        """Posts a consent decision (``{"standard", "version", "value"}``, or a
        list of them) to ``/ee/v1/privacy/set-consent``; the client keeps the
        collect consent it returns, which gates :meth:`interact` and :meth:`collect`."""
        request = _consent_request(consent, identity_map, query, meta, request_id, datastream_id)
        return CollectResponse(self._native.set_consent(request))

    async def set_consent_async(
        self,
        consent: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]],
        *,
        identity_map: Optional[Mapping[str, Any]] = None,
        query: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        datastream_id: Optional[str] = None,
    ) -> CollectResponse:
        """:meth:`set_consent` without blocking the event loop."""
        request = _consent_request(consent, identity_map, query, meta, request_id, datastream_id)
        return CollectResponse(await self._call_async("consent", request))

    # -- fire and forget (the durable queue) -----------------------------------

    def send(
        self,
        event: Mapping[str, Any],
        *,
        meta: Optional[Mapping[str, Any]] = None,
        state: Optional[StateEntries] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> str:
        """Queues one event for delivery and returns its id (``xdm._id``) at
        once; never waits on the network. It is stored before this returns (in
        the ``queue_path`` file: a crash loses nothing) and delivered in batches
        by the client's dispatcher thread; ``on_outcome=`` hears how it ended."""
        request = _request("event", event, None, meta, None, state, None)
        if headers is not None:
            request.setdefault("options", {})["headers"] = dict(headers)
        return self._queue.send(request)

    def notify_display(
        self,
        response: InteractResponse,
        *,
        headers: Optional[Mapping[str, str]] = None,
        state: Optional[StateEntries] = None,
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
                           headers, response.location_hint)
        return self._queue.send(request)

    def flush(self, timeout: float = 30.0) -> QueueStats:
        """Sends every queued event without waiting for batches to fill and
        waits up to ``timeout`` seconds for the queue to empty. Raises
        :class:`EdgeTimeoutError` (with ``.stats``) when the deadline comes first."""
        emptied, raw = self._queue.flush(_seconds("timeout", timeout))
        stats = QueueStats._from_raw(raw)
        if not emptied:
            error = EdgeTimeoutError(
                f"{stats.queued} event(s) still queued after {timeout} s", kind="timeout"
            )
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
    def session(self) -> Dict[str, Any]:
        """A snapshot of the client's session (``ecid``, ``locationHint``,
        ``consent``, ``entries`` ...) as a dict."""
        return self._native.session()

    def reset_session(self) -> None:
        """Forgets the visitor (kiosk: the next one starts fresh): state
        entries, location hint, ECID, consent and the state file's copy."""
        self._native.reset_session()

    def set_access_token(self, access_token: str) -> None:
        """Replaces the access token of ``TokenAuth`` for the calls that follow."""
        self._native.set_access_token(access_token)

    def _call_async(self, endpoint: str, request: Dict[str, Any]) -> "asyncio.Future[Dict[str, Any]]":
        """Starts a call on the core's workers (``workers=``); a request the
        blocking call would refuse raises here, before anything is queued."""
        loop = asyncio.get_running_loop()
        future: "asyncio.Future[Dict[str, Any]]" = loop.create_future()
        _native.start_call(self._native, endpoint, request, _inbox(loop), future)
        return future

    # -- lifecycle -----------------------------------------------------------

    def close(self, timeout: Optional[float] = None) -> CloseReport:
        """Refuses new calls and events, lets the queue deliver what it can,
        stops retries in flight and waits up to ``timeout`` seconds (``None``:
        the queue gets the total timeout, calls in flight their end; every call
        is bounded by its total timeout) for both. Async calls still queued end
        with :class:`ClientClosedError`. Queued events left over stay in the
        ``queue_path`` file for the next client. Idempotent, thread-safe."""
        started = time.monotonic()
        queue_timeout = self._total_timeout if timeout is None else _seconds("timeout", timeout)
        undelivered, _, _ = self._queue.close(queue_timeout)
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
        in_flight, _ = self._native.close(left)
        return CloseReport(in_flight, time.monotonic() - started, undelivered)

    @property
    def closed(self) -> bool:
        return bool(self._native.is_closed())

    def __enter__(self) -> "EdgeClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    async def __aenter__(self) -> "EdgeClient":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
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

    def __reduce__(self) -> Any:
        raise TypeError("an EdgeClient cannot be pickled; create one per process")

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"EdgeClient({self._summary}, {state})"


def _seconds(name: str, seconds: Any) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(seconds).__name__}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, not {seconds!r}")
    return float(seconds)


def _queue_config(queue: Optional[Mapping[str, Any]], path: Any) -> Dict[str, Any]:
    """The C config's ``queue`` from ``queue=`` (its keys) and ``queue_path=``."""
    if queue is not None and not isinstance(queue, Mapping):
        raise TypeError(f"queue must be a mapping of the C config's queue keys, not {type(queue).__name__}")
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


def _consent_request(
    consent: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]],
    identity_map: Optional[Mapping[str, Any]],
    query: Optional[Mapping[str, Any]],
    meta: Optional[Mapping[str, Any]],
    request_id: Optional[str],
    datastream_id: Optional[str],
) -> Dict[str, Any]:
    entries = [consent] if isinstance(consent, Mapping) else consent
    request = _request("consent", entries, query, meta, request_id, None, datastream_id)
    if identity_map is not None:
        request["identityMap"] = identity_map
    return request


def _request(
    name: str,
    body: Any,
    query: Optional[Mapping[str, Any]],
    meta: Optional[Mapping[str, Any]],
    request_id: Optional[str],
    state: Optional[StateEntries],
    datastream_id: Optional[str],
    headers: Optional[Mapping[str, str]] = None,
    location_hint: Optional[str] = None,
) -> Dict[str, Any]:
    request: Dict[str, Any] = {name: body}
    if query is not None:
        request["query"] = query
    if meta is not None:
        request["meta"] = meta
    options: Dict[str, Any] = {}
    if request_id is not None:
        options["requestId"] = request_id
    if datastream_id is not None:
        options["datastreamId"] = datastream_id
    if state is not None:
        options["state"] = state if isinstance(state, (list, tuple)) else list(state)
    if headers is not None:
        options["headers"] = headers
    if location_hint is not None:
        options["locationHint"] = location_hint
    if options:
        request["options"] = options
    return request
