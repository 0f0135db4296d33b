"""Typed results and auth settings."""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Generic, List, Literal, NamedTuple, Optional, Tuple, Type, TypeVar, cast, overload

from . import _native
from ._shapes import (
    IdentityResult,
    LocationHint,
    PropositionPayload,
    ResponseMessage,
    ResultBody,
    StoreEntry,
)
from ._visitor import Proposition, StateEntry

__all__ = [
    "Handle",
    "InteractResponse",
    "CollectResponse",
    "TokenAuth",
    "OAuth",
    "CloseReport",
    "QueueStats",
    "Outcome",
]


P = TypeVar("P")


class Handle(Generic[P]):
    """One item of the response's ``handle`` array.

    ``Handle[P]``: ``payload`` has type ``P``. :meth:`CollectResponse.handles_of_type`
    gives the documented payload types for ``"personalization:decisions"``
    (``List[PropositionPayload]``), ``"locationHint:result"`` (``List[LocationHint]``),
    ``"identity:result"`` (``List[IdentityResult]``) and ``"state:store"``
    (``List[StoreEntry]``); other types have ``Any`` payloads.
    """

    __slots__ = ("type", "payload", "event_index")

    type: str
    """The handle type, e.g. ``"personalization:decisions"``."""
    payload: P
    """The payload as the server sent it (usually a list of dicts)."""
    event_index: int
    """The index of the request event it answers (0 when the server omits it)."""

    def __init__(self, type: str, payload: P, event_index: int = 0) -> None:
        self.type = type
        self.payload = payload
        self.event_index = event_index

    @staticmethod
    def _from_raw(raw: Dict[str, Any]) -> "Handle[Any]":
        index = raw.get("eventIndex")
        payload: Any = raw.get("payload")
        return Handle(
            str(raw.get("type", "")),
            payload,
            index if isinstance(index, int) and not isinstance(index, bool) else 0,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Handle):
            return NotImplemented
        return (self.type, self.payload, self.event_index) == (
            other.type,
            other.payload,
            other.event_index,
        )

    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # mutable: not hashable

    def __repr__(self) -> str:
        return (
            f"Handle(type={self.type!r}, payload={self.payload!r}, "
            f"event_index={self.event_index!r})"
        )


class CollectResponse:
    """The outcome of :meth:`EdgeClient.collect`.

    ``raw`` is the whole result dict: the server's body plus ``client``
    (``httpStatus``, ``attempts``, ``requestId`` sent, ``region``, ``elapsedMs``).
    """

    # Slots: a call builds one per response, and reads them on every property;
    # ``__dict__`` keeps other attributes settable as before.
    __slots__ = ("_raw", "_result", "_status", "__dict__", "__weakref__")

    def __init__(self, raw: ResultBody) -> None:
        self._raw: Optional[ResultBody] = raw
        # A call's result stays in Rust until something needs its dicts:
        # scalars (status, request_id ...) are read from it directly.
        self._result: Optional[_native.NativeResult] = None
        # The result's status, when its maker knew it: valid only while
        # ``_raw`` is None (``status`` follows ``raw`` once it is a dict), so
        # whatever sets ``_raw`` clears it.
        self._status: Optional[int] = None

    @property
    def raw(self) -> ResultBody:
        """The whole result dict (unknown keys kept)."""
        raw = self._raw
        if raw is None:
            result = self._result
            if result is not None:
                # Built once: every thread gets the same dict.
                # ``_status`` first: no reader sees it beside the dict.
                self._status = None
                self._raw = cast(ResultBody, result.raw())
            raw = cast(ResultBody, self._raw)
        return raw

    @raw.setter
    def raw(self, raw: ResultBody) -> None:
        self._status = None
        self._raw = raw

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.raw,))

    def _fact(self, key: str) -> Any:
        """``raw["client"][key]`` for a scalar fact (``None`` when absent)."""
        result = self._result
        if result is not None and self._raw is None:
            return result.fact(key)
        return self._client.get(key)

    @property
    def _client(self) -> Dict[str, Any]:
        facts: Any = self.raw.get("client")
        return facts if isinstance(facts, dict) else {}

    @property
    def request_id(self) -> Optional[str]:
        """The server's request id, or the one sent when the server gave none."""
        result = self._result
        rid: Any = result.top("requestId") if result is not None and self._raw is None else self.raw.get("requestId")
        if isinstance(rid, str) and rid:
            return rid
        sent = self._fact("requestId")
        return sent if isinstance(sent, str) else None

    @property
    def status(self) -> int:
        """The HTTP status of the response."""
        status = self._status
        if status is not None:
            return status
        result = self._result
        if result is not None and self._raw is None:
            return result.http_status()
        return int(self._client.get("httpStatus") or 0)

    @property
    def attempts(self) -> int:
        """How many times the request was sent."""
        return int(self._fact("attempts") or 0)

    @property
    def region(self) -> Optional[str]:
        """The ``x-adobe-edge`` header of the response, or ``None``."""
        region = self._fact("region")
        return region if isinstance(region, str) else None

    @property
    def elapsed(self) -> float:
        """Seconds the whole call took, retries included."""
        return float(self._fact("elapsedMs") or 0) / 1000.0

    @property
    def handles(self) -> List[Handle[Any]]:
        """Every item of the response's ``handle`` array, in order."""
        items: Any = self.raw.get("handle")
        if not isinstance(items, list):
            return []
        return [Handle._from_raw(h) for h in items if isinstance(h, dict)]

    @property
    def errors(self) -> List[ResponseMessage]:
        """Errors the server reported with a 2xx (e.g. a 207): a list of dicts."""
        return _dicts(self.raw.get("errors"))

    @property
    def warnings(self) -> List[ResponseMessage]:
        """Warnings the server reported (e.g. ``EXEG-0301-200``): a list of dicts."""
        return _dicts(self.raw.get("warnings"))

    @property
    def location_hint(self) -> Optional[str]:
        """The EdgeNetwork location hint of this response (``None`` when it gave none)."""
        hint = self._fact("locationHint")
        return hint if isinstance(hint, str) else None

    @property
    def next_state(self) -> List[StateEntry]:
        """The visitor's next state: the entries passed with ``state=`` updated
        by this response (same key replaced, deletions removed), each
        ``{"key", "value", "expiresAt"?}``. Keep it for the visitor and pass it
        back with ``state=``. Present with ``session="none"`` and whenever
        ``state=`` was given; otherwise empty."""
        entries = self._client.get("state")
        if not isinstance(entries, list):
            return []
        kept = [e for e in entries if isinstance(e, dict) and isinstance(e.get("key"), str)]
        return cast(List[StateEntry], kept)

    @overload
    def handles_of_type(
        self, type: Literal["personalization:decisions"]
    ) -> List[Handle[List[PropositionPayload]]]: ...
    @overload
    def handles_of_type(self, type: Literal["locationHint:result"]) -> List[Handle[List[LocationHint]]]: ...
    @overload
    def handles_of_type(self, type: Literal["identity:result"]) -> List[Handle[List[IdentityResult]]]: ...
    @overload
    def handles_of_type(self, type: Literal["state:store"]) -> List[Handle[List[StoreEntry]]]: ...
    @overload
    def handles_of_type(self, type: str) -> List[Handle[Any]]: ...
    def handles_of_type(self, type: str) -> List[Handle[Any]]:
        """The handles whose ``type`` is ``type``, e.g. ``"personalization:decisions"``."""
        return [h for h in self.handles if h.type == type]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(request_id={self.request_id!r}, status={self.status}, "
            f"handles={[h.type for h in self.handles]!r}, errors={len(self.errors)}, "
            f"warnings={len(self.warnings)})"
        )


class InteractResponse(CollectResponse):
    """The outcome of :meth:`EdgeClient.interact`."""

    __slots__ = ()

    @property
    def state_entries(self) -> List[StoreEntry]:
        """The ``state:store`` entries of this response, as dicts with ``key``,
        ``value`` and ``maxAge`` (when given).

        With ``session="none"`` a server keeps them per visitor and passes them
        back with ``state=`` on the visitor's next call.
        """
        entries: List[StoreEntry] = []
        for item in self._payload_items("state:store"):
            key, value = item.get("key"), item.get("value")
            if not isinstance(key, str) or not isinstance(value, str):
                continue
            entry: StoreEntry = {"key": key, "value": value}
            max_age = item.get("maxAge")
            if isinstance(max_age, int) and not isinstance(max_age, bool):
                entry["maxAge"] = max_age
            entries.append(entry)
        return entries

    @property
    def propositions(self) -> List[Proposition]:
        """The propositions of every ``personalization:decisions`` handle, as
        :class:`Proposition` objects (for ``display_event``, ``notify_display``)."""
        return [Proposition(p) for p in self.decisions]

    @property
    def decisions(self) -> List[PropositionPayload]:
        """The propositions of every ``personalization:decisions`` handle."""
        return [cast(PropositionPayload, p) for p in self._payload_items("personalization:decisions")]

    @property
    def location_hints(self) -> List[LocationHint]:
        """The ``locationHint:result`` entries (``scope``, ``hint``, ``ttlSeconds``)."""
        return [cast(LocationHint, p) for p in self._payload_items("locationHint:result")]

    @property
    def identities(self) -> List[IdentityResult]:
        """The ``identity:result`` entries (``id``, ``namespace.code``), e.g. the ECID."""
        return [cast(IdentityResult, p) for p in self._payload_items("identity:result")]

    def _payload_items(self, type: str) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        for handle in self.handles_of_type(type):
            payload: Any = handle.payload
            if isinstance(payload, list):
                out.extend(p for p in payload if isinstance(p, dict))
        return out


R = TypeVar("R", bound=CollectResponse)


def _response(cls: Type[R], result: _native.NativeResult) -> R:
    """A response over a call's result still in Rust."""
    response = cls.__new__(cls)
    response._raw = None
    response._result = result
    response._status = None
    return response


def _dicts(items: Any) -> List[Any]:
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


class TokenAuth:
    """A static IMS access token; ``api_key`` is the client id sent as ``x-api-key``."""

    __slots__ = ("access_token", "api_key")

    access_token: str
    api_key: str

    def __init__(self, access_token: str, api_key: str) -> None:
        self.access_token = access_token
        self.api_key = api_key

    def _to_config(self) -> Dict[str, Any]:
        return {"type": "token", "accessToken": self.access_token, "apiKey": self.api_key}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TokenAuth):
            return NotImplemented
        return self._to_config() == other._to_config()

    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # mutable: not hashable

    def __repr__(self) -> str:
        return f"TokenAuth(access_token=<redacted>, api_key={self.api_key!r})"


class OAuth:
    """OAuth server-to-server (client credentials); tokens are fetched lazily
    and refreshed ahead of expiry by the core. For servers only."""

    __slots__ = ("client_id", "client_secret", "scopes", "token_url")

    client_id: str
    client_secret: str
    scopes: str
    token_url: Optional[str]

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        scopes: str,
        token_url: Optional[str] = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.token_url = token_url

    def _to_config(self) -> Dict[str, Any]:
        config: Dict[str, Any] = {
            "type": "oauth",
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "scopes": self.scopes,
        }
        if self.token_url is not None:
            config["tokenUrl"] = self.token_url
        return config

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OAuth):
            return NotImplemented
        return self._to_config() == other._to_config()

    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # mutable: not hashable

    def __repr__(self) -> str:
        return (
            f"OAuth(client_id={self.client_id!r}, client_secret=<redacted>, "
            f"scopes={self.scopes!r}, token_url={self.token_url!r})"
        )


class CloseReport(NamedTuple):
    """What :meth:`EdgeClient.close` saw."""

    in_flight: int
    """Calls still running when close returned (0 unless it timed out)."""
    waited: float
    """Seconds close waited."""
    undelivered: int = 0
    """Queued events not delivered by the deadline (kept in the queue file for
    the next client on it; an in-memory queue loses them)."""


class QueueStats(NamedTuple):
    """The durable queue's counters (:meth:`EdgeClient.stats`, :meth:`EdgeClient.flush`).

    ``queued``, ``in_flight``, ``bytes`` and ``oldest_age`` describe now
    (``queued`` counts every stored event not yet delivered or rejected, those
    in flight included); the others count since the client was created.
    """

    queued: int
    in_flight: int
    delivered: int
    rejected: Dict[str, int]
    """Rejected events by EXEG code, or by error kind (``"consent_denied"``)."""
    retries: int
    """Every re-send of an event."""
    batches: int
    """Requests sent."""
    oldest_age: float
    """Seconds the oldest queued event has waited (0.0 when none)."""
    bytes: int

    @classmethod
    def _from_raw(cls, raw: Dict[str, Any]) -> "QueueStats":
        return cls(
            queued=int(raw.get("queued", 0)),
            in_flight=int(raw.get("inFlight", 0)),
            delivered=int(raw.get("delivered", 0)),
            rejected=dict(raw.get("rejected") or {}),
            retries=int(raw.get("retries", 0)),
            batches=int(raw.get("batches", 0)),
            oldest_age=float(raw.get("oldestAgeMs", 0)) / 1000.0,
            bytes=int(raw.get("bytes", 0)),
        )


class Outcome(NamedTuple):
    """What became of one event given to :meth:`EdgeClient.send`, passed to ``on_outcome=``."""

    event_id: str
    outcome: str
    """``"delivered"`` or ``"rejected"``."""
    error: Optional[Exception]
    """Why it was rejected: an :class:`EdgeError` (``None`` when delivered)."""
    attempts: int
