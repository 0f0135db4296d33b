"""Typed results and auth settings."""

from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional, cast

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


class Handle:
    """One item of the response's ``handle`` array."""

    __slots__ = ("type", "payload", "event_index")

    type: str
    payload: Any
    event_index: int

    def __init__(self, type: str, payload: Any, event_index: int = 0) -> None:
        self.type = type
        self.payload = payload
        self.event_index = event_index

    @classmethod
    def _from_raw(cls, raw: Dict[str, Any]) -> "Handle":
        index = raw.get("eventIndex")
        return cls(
            str(raw.get("type", "")),
            raw.get("payload"),
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

    __hash__ = None  # type: ignore[assignment]

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

    raw: Dict[str, Any]

    def __init__(self, raw: Dict[str, Any]) -> None:
        self.raw = raw

    @property
    def _client(self) -> Dict[str, Any]:
        facts = self.raw.get("client")
        return facts if isinstance(facts, dict) else {}

    @property
    def request_id(self) -> Optional[str]:
        """The server's request id, or the one sent when the server gave none."""
        rid = self.raw.get("requestId")
        if isinstance(rid, str) and rid:
            return rid
        sent = self._client.get("requestId")
        return sent if isinstance(sent, str) else None

    @property
    def status(self) -> int:
        """The HTTP status of the response."""
        return int(self._client.get("httpStatus") or 0)

    @property
    def attempts(self) -> int:
        """How many times the request was sent."""
        return int(self._client.get("attempts") or 0)

    @property
    def region(self) -> Optional[str]:
        """The ``x-adobe-edge`` header of the response, or ``None``."""
        region = self._client.get("region")
        return region if isinstance(region, str) else None

    @property
    def elapsed(self) -> float:
        """Seconds the whole call took, retries included."""
        return float(self._client.get("elapsedMs") or 0) / 1000.0

    @property
    def handles(self) -> List[Handle]:
        items = self.raw.get("handle")
        if not isinstance(items, list):
            return []
        return [Handle._from_raw(h) for h in items if isinstance(h, dict)]

    @property
    def errors(self) -> List[Dict[str, Any]]:
        """Errors the server reported with a 2xx (e.g. a 207): a list of dicts."""
        items = self.raw.get("errors")
        return [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []

    @property
    def warnings(self) -> List[Dict[str, Any]]:
        items = self.raw.get("warnings")
        return [w for w in items if isinstance(w, dict)] if isinstance(items, list) else []

    @property
    def location_hint(self) -> Optional[str]:
        """The EdgeNetwork location hint of this response (``None`` when it gave none)."""
        hint = self._client.get("locationHint")
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

    def handles_of_type(self, type: str) -> List[Handle]:
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

    @property
    def state_entries(self) -> List[Dict[str, Any]]:
        """The ``state:store`` entries of this response, as dicts with ``key``,
        ``value`` and ``maxAge`` (when given).

        With ``session="none"`` a server keeps them per visitor and passes them
        back with ``state=`` on the visitor's next call.
        """
        entries: List[Dict[str, Any]] = []
        for handle in self.handles_of_type("state:store"):
            if not isinstance(handle.payload, list):
                continue
            for item in handle.payload:
                if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                    continue
                entry: Dict[str, Any] = {"key": item["key"], "value": item.get("value")}
                if "maxAge" in item:
                    entry["maxAge"] = item["maxAge"]
                entries.append(entry)
        return entries

    @property
    def propositions(self) -> List[Proposition]:
        """The propositions of every ``personalization:decisions`` handle, as
        :class:`Proposition` objects (for ``display_event``, ``notify_display``)."""
        return [Proposition(p) for p in self.decisions]

    @property
    def decisions(self) -> List[Dict[str, Any]]:
        """The propositions of every ``personalization:decisions`` handle."""
        out: List[Dict[str, Any]] = []
        for handle in self.handles_of_type("personalization:decisions"):
            if isinstance(handle.payload, list):
                out.extend(p for p in handle.payload if isinstance(p, dict))
        return out


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

    __hash__ = None  # type: ignore[assignment]

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

    __hash__ = None  # type: ignore[assignment]

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
