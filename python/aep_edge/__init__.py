"""aep_edge: a client for the Adobe Experience Platform Edge Network Server API.

>>> from aep_edge import EdgeClient
>>> with EdgeClient("YOUR_DATASTREAM_ID") as client:  # doctest: +SKIP
...     r = client.interact({"xdm": {"eventType": "web.webpagedetails.pageViews"}})
...     r.handles_of_type("personalization:decisions")
"""

from ._client import EdgeClient
from ._errors import (
    AuthError,
    ClientClosedError,
    ConfigError,
    ConsentError,
    EdgeError,
    EdgeTimeoutError,
    HttpError,
    InternalError,
    QueueFullError,
    RequestError,
    ResponseError,
    StorageError,
    TransportError,
)
from ._native import __version__, core_version
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
]
