"""The shapes of the JSON that goes in and out, as ``Literal`` aliases and
``TypedDict``s (design.md §4.1 "Typing").

They are plain dicts at run time: a ``TypedDict`` only tells a type checker
which keys to expect. Shapes that Adobe documents (edge-api.md §3.2) are
spelt out; everything the Edge Network may add later stays readable, since
responses keep unknown keys.
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, TypedDict, Union

__all__ = [
    "SessionMode",
    "TlsRoots",
    "DefaultConsent",
    "HintRouting",
    "RetrySettings",
    "ProxyConfig",
    "StoreEntry",
    "StateEntryInput",
    "StateEntries",
    "Problem",
    "ResponseMessage",
    "ClientFacts",
    "ResultBody",
    "HandleBody",
    "LocationHint",
    "IdentityNamespace",
    "IdentityResult",
    "PropositionItem",
    "PropositionPayload",
    "SessionEntry",
    "SessionLocationHint",
    "SessionView",
]

SessionMode = Literal["device", "none"]
"""``session=``: ``"device"`` (this client is one device or visitor and keeps
its state) or ``"none"`` (a server passes each visitor's state per call)."""

TlsRoots = Literal["bundled", "system"]
"""``tls_roots=``: Mozilla's roots compiled in (``"bundled"``) or the
operating system's (``"system"``)."""

DefaultConsent = Literal["in", "pending"]
"""``default_consent=``: collect consent before any decision is known."""

HintRouting = Literal["auto", "path", "host", "off"]
"""How a location hint routes a request (design.md §3.8)."""


class RetrySettings(TypedDict, total=False):
    """``retry=``: the C config's ``retry`` object; every key optional."""

    maxAttempts: int
    """Attempts in all, 1..100 (default 3)."""
    baseDelayMs: int
    """First backoff in milliseconds (default 1000); doubles with jitter."""
    maxDelayMs: int
    """The longest wait, backoff or ``Retry-After`` (default 30000)."""
    retryReadTimeouts: bool
    """Whether a read timeout is retried (the server may have processed it)."""


class ProxyConfig(TypedDict, total=False):
    """``proxy=`` as a dict: the C config's ``proxy`` object."""

    url: str
    """``http://``, ``https://`` or ``socks5://`` proxy URL."""
    fromEnv: bool
    """Use ``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` from the environment."""


class _StateEntryKeys(TypedDict):
    """The required keys of :class:`StoreEntry`."""

    key: str
    value: str


class StoreEntry(_StateEntryKeys, total=False):
    """A ``state:store`` entry: what a server keeps per visitor."""

    maxAge: int
    """Seconds the entry lives; absent when the server gave no age."""


class _StateEntryInputKeys(TypedDict):
    """The required key of :class:`StateEntryInput`."""

    key: str


class StateEntryInput(_StateEntryInputKeys, total=False):
    """An entry passed back with ``state=`` (``value`` and ``maxAge`` optional)."""

    value: str
    maxAge: int
    expiresAt: int


StateEntries = List[StoreEntry]
"""What ``InteractResponse.state_entries`` returns and ``state=`` takes back."""


class Problem(TypedDict, total=False):
    """An RFC 7807 problem body as the Edge Network sends it."""

    type: str
    """e.g. ``"https://ns.adobe.com/aep/errors/EXEG-0003-400"``."""
    status: int
    title: str
    detail: str
    report: Dict[str, Any]


class ResponseMessage(TypedDict, total=False):
    """An item of a 2xx response's ``errors`` or ``warnings``."""

    type: str
    status: int
    code: str
    title: str
    detail: str
    report: Dict[str, Any]


class ClientFacts(TypedDict, total=False):
    """``raw["client"]``: what the client adds to every result."""

    httpStatus: int
    attempts: int
    requestId: str
    """The id that was sent."""
    region: Optional[str]
    """The ``x-adobe-edge`` header, or ``None``."""
    elapsedMs: int


class HandleBody(TypedDict, total=False):
    """An item of the response's ``handle`` array, as JSON."""

    type: str
    payload: Any
    eventIndex: int


class _ResultKeys(TypedDict):
    """The keys every result has (design.md §3.3)."""

    handle: List[HandleBody]
    errors: List[ResponseMessage]
    warnings: List[ResponseMessage]
    client: ClientFacts


class ResultBody(_ResultKeys, total=False):
    """``raw``: the server's body (unknown keys kept) plus ``client``."""

    requestId: str
    """The server's request id (absent from an empty 202/204)."""


class LocationHint(TypedDict, total=False):
    """A ``locationHint:result`` payload item."""

    scope: str
    """``"EdgeNetwork"``, ``"Target"`` or ``"AAM"``."""
    hint: str
    ttlSeconds: int


class IdentityNamespace(TypedDict, total=False):
    """The namespace of an identity."""

    code: str
    """``"ECID"`` or ``"CORE"``."""


class IdentityResult(TypedDict, total=False):
    """An ``identity:result`` payload item."""

    id: str
    namespace: IdentityNamespace


class PropositionItem(TypedDict, total=False):
    """An item of a proposition: the content to show."""

    id: str
    schema: str
    etag: str
    meta: Dict[str, Any]
    data: Dict[str, Any]


class PropositionPayload(TypedDict, total=False):
    """A ``personalization:decisions`` payload item (Target, AJO or Offer
    Decisioning; the last has ``activity`` and ``placement`` instead of
    ``scopeDetails``)."""

    id: str
    scope: str
    scopeDetails: Dict[str, Any]
    activity: Dict[str, Any]
    placement: Dict[str, Any]
    items: List[PropositionItem]


class SessionEntry(TypedDict, total=False):
    """A stored state entry in :attr:`EdgeClient.session`."""

    key: str
    value: str
    maxAge: Optional[int]
    persistent: bool


class SessionLocationHint(TypedDict):
    """The location hint the client routes by, and how long it still holds."""

    hint: str
    expiresInMs: int


class SessionView(TypedDict, total=False):
    """:attr:`EdgeClient.session`: a snapshot of the client's session."""

    ecid: Optional[str]
    locationHint: Optional[SessionLocationHint]
    consent: Optional[str]
    """``"y"``, ``"n"``, ``"p"``; ``None`` with ``session="none"``."""
    entries: List[SessionEntry]
    session: SessionMode
    hintRouting: Union[bool, str]
    statePath: Optional[str]
    storageWarning: Optional[str]
