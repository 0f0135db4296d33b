"""Test your own code against the Edge Network emulator, offline.

:class:`Emulator` runs the emulator that ships inside the wheel in this
process, on its own threads (no child process, no binary to find, no Rust
toolchain)::

    from aep_edge import EdgeClient
    from aep_edge.testing import Emulator

    with Emulator() as edge:
        with EdgeClient("my-datastream", base_url=edge.url) as client:
            client.interact({"xdm": {"eventType": "web.webpagedetails.pageViews"}})
        assert edge.requests()[0]["path"] == "/ee/v2/interact"

With pytest, the ``aep_edge_emulator`` fixture (registered by this package's
pytest plugin) gives a fresh emulator to each test.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, TypedDict, Union, cast

from . import _native
from ._client import _Self  # typing.Self, resolvable at run time (see there)


__all__ = ["Emulator", "FaultSpec", "RecordedRequest"]


class FaultSpec(TypedDict, total=False):
    """A fault for the next matching requests (the emulator's fault fields).

    ``delayMs`` applies first; then ``reset`` drops the connection,
    ``truncate`` sends half of a 200 body, ``malformed`` sends a 200 that is
    not JSON, and ``status`` (or ``body``) replaces the answer; ``retryAfter``,
    ``contentType`` and ``location`` set those headers.
    """

    count: int
    """How many matching requests it applies to (default 1)."""
    pathContains: str
    """Only requests whose path contains this, e.g. ``"/interact"``."""
    delayMs: int
    status: int
    """An HTTP status 200..599; the body is a problem+json unless ``body`` is given."""
    retryAfter: Union[str, int]
    body: Union[str, Dict[str, Any], List[Any]]
    contentType: str
    location: str
    reset: bool
    truncate: bool
    malformed: bool


class RecordedRequest(TypedDict):
    """A request the emulator received, as ``/__emulator/requests`` lists it."""

    method: str
    path: str
    """The path without the query, e.g. ``"/ee/v2/interact"``."""
    query: Dict[str, str]
    headers: Dict[str, str]
    """Lower-cased names; repeated headers joined with ``", "``."""
    body: Any
    """The body as JSON when it parses, else as a str."""
    status: int
    """The status sent back; 0 when the connection was reset instead."""


# The control endpoints are on loopback: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Emulator:
    """An in-process emulator of the Edge Network on ``127.0.0.1`` and a free port.

    - ``datastreams``: the known datastream ids (others get ``EXEG-0003-400``);
      empty accepts every id.
    - ``require_auth``: require ``Authorization``, ``x-api-key`` and
      ``x-gw-ims-org-id``, with tokens from its IMS stand-in (``/ims/token/v3``)
      or ``static_tokens``.
    - ``org_id``: the IMS org of its state keys and auth checks.
    - ``ims_clients``: accepted ``(client_id, client_secret)`` pairs.
    - ``lenient_identity``: serve events that carry no identity at all (by
      default they get ``EXEG-0306-400``, as server datastreams answer).

    A context manager: leaving the ``with`` block stops it (so does :meth:`stop`).
    """

    def __init__(
        self,
        *,
        datastreams: Sequence[str] = (),
        require_auth: bool = False,
        static_tokens: Sequence[str] = (),
        org_id: Optional[str] = None,
        ims_clients: Sequence[Tuple[str, str]] = (),
        lenient_identity: bool = False,
    ) -> None:
        self._native = _native.NativeEmulator(
            datastreams=list(datastreams),
            require_auth=require_auth,
            static_tokens=list(static_tokens),
            org_id=org_id,
            ims_clients=[(str(c), str(s)) for c, s in ims_clients],
            lenient_identity=lenient_identity,
        )

    @property
    def url(self) -> str:
        """The base URL to give ``EdgeClient(base_url=...)``, ``http://127.0.0.1:<port>``."""
        return self._native.url

    def requests(self) -> List[RecordedRequest]:
        """The requests received so far (Edge and IMS), oldest first."""
        return cast(List[RecordedRequest], self._control("GET", "requests"))

    def fault(self, spec: Union[FaultSpec, Sequence[FaultSpec]]) -> None:
        """Queues a fault (or a list of them) for the next matching requests.
        An unknown or mistyped field is a ``ValueError`` naming it."""
        if not isinstance(spec, (Mapping, list, tuple)):
            raise TypeError(f"spec must be a dict of fault fields, not {type(spec).__name__}")
        self._control("POST", "faults", spec)

    def reset(self) -> None:
        """Forgets the recorded requests and the queued faults."""
        self._native.reset()

    def stop(self) -> None:
        """Stops the emulator and joins its threads. Idempotent."""
        self._native.stop()

    @property
    def running(self) -> bool:
        """Whether it still serves (until :meth:`stop` or the end of ``with``)."""
        return self._native.is_running()

    def __enter__(self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Emulator(url={self.url!r}, running={self.running})"

    def _control(self, method: str, name: str, body: Any = None) -> Any:
        if not self.running:
            raise ValueError("the emulator is stopped")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/__emulator/{name}",
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        try:
            with _OPENER.open(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read()).get("error") or str(e)
            except ValueError:
                message = str(e)
            raise ValueError(f"the emulator refused the {name} request: {message}") from None
