"""aep_edge: a client for the Adobe Experience Platform Edge Network Server API.

>>> from aep_edge import EdgeClient
>>> with EdgeClient("YOUR_DATASTREAM_ID") as client:  # doctest: +SKIP
...     r = client.interact({"xdm": {"eventType": "web.webpagedetails.pageViews"}})
...     r.handles_of_type("personalization:decisions")

Everything public is importable from here; ``aep_edge.testing`` holds the
in-process emulator for users' own tests.
"""

from ._client import AuthSetting, EdgeClient, Event, PathSetting, ProxySetting, StateEntryLike
from ._errors import (
    AuthError,
    ClientClosedError,
    ConfigError,
    ConsentError,
    EdgeError,
    EdgeTimeoutError,
    ErrorKind,
    HttpError,
    InternalError,
    QueueFullError,
    RequestError,
    ResponseError,
    StorageError,
    TransportError,
)
from ._native import __version__, core_version
from ._shapes import (
    ClientFacts,
    DefaultConsent,
    HandleBody,
    HintRouting,
    IdentityNamespace,
    IdentityResult,
    LocationHint,
    Problem,
    PropositionPayload,
    PropositionItem,
    ProxyConfig,
    ResponseMessage,
    ResultBody,
    RetrySettings,
    SessionEntry,
    SessionLocationHint,
    SessionMode,
    SessionView,
    StateEntries,
    StoreEntry,
    StateEntryInput,
    TlsRoots,
)
from ._types import (
    CloseReport,
    CollectResponse,
    Handle,
    InteractResponse,
    OAuth,
    Outcome,
    QueueStats,
    TokenAuth,
)
from ._visitor import Proposition, StateEntry, display_event, interact_event

# Written out, _shapes.__all__ included: mypy reads only a literal list here
# (`__all__ += _shapes.__all__` fails stubtest); test_typing.py's stubtest and
# pyright --verifytypes catch a name missing from it.
__all__ = [
    "__version__",
    "core_version",
    "EdgeClient",
    "TokenAuth",
    "OAuth",
    "Handle",
    "InteractResponse",
    "CollectResponse",
    "CloseReport",
    "QueueStats",
    "Outcome",
    "Proposition",
    "StateEntry",
    "display_event",
    "interact_event",
    # exceptions
    "EdgeError",
    "ConfigError",
    "RequestError",
    "TransportError",
    "EdgeTimeoutError",
    "HttpError",
    "AuthError",
    "ResponseError",
    "ConsentError",
    "QueueFullError",
    "ClientClosedError",
    "StorageError",
    "InternalError",
    "ErrorKind",
    # keyword and JSON shapes
    "AuthSetting",
    "ProxySetting",
    "PathSetting",
    "Event",
    "StateEntryLike",
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
    "PropositionPayload",
    "PropositionItem",
    "SessionEntry",
    "SessionLocationHint",
    "SessionView",
]
