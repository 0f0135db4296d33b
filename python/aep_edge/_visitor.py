"""Server-side visitors and propositions (design.md §3.8, §3.9, §4.1).

``StateEntry`` is what a server keeps per visitor (``r.next_state``) and passes
back with ``state=``; ``Proposition`` is one personalization decision of a
response (``r.propositions``); ``display_event`` and ``interact_event`` build
the events that report them as shown or clicked, in the core.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Iterable, List, Mapping, Optional, Sequence, TypedDict, Union

from . import _native

__all__ = ["StateEntry", "Proposition", "PropositionLike", "display_event", "interact_event"]


class _StateEntryKey(TypedDict):
    """The required key of :class:`StateEntry`."""

    key: str


class StateEntry(_StateEntryKey, total=False):
    """One entry of a visitor's Edge state: ``key``, ``value`` and, when it
    expires, ``expiresAt`` (milliseconds since the Unix epoch)."""

    value: str
    expiresAt: int


class Proposition:
    """One proposition of a ``personalization:decisions`` handle.

    ``id``, ``scope``, ``scope_details`` (a dict, ``{}`` when absent) and
    ``items`` (the content: a list of dicts); ``raw`` is the payload item itself.
    """

    __slots__ = ("id", "scope", "scope_details", "items", "raw")

    id: str
    scope: str
    scope_details: Dict[str, Any]
    items: List[Dict[str, Any]]
    raw: Dict[str, Any]

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = dict(raw)
        self.id = str(raw.get("id", ""))
        self.scope = str(raw.get("scope", ""))
        details = raw.get("scopeDetails")
        self.scope_details = dict(details) if isinstance(details, Mapping) else {}
        items = raw.get("items")
        self.items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Proposition):
            return NotImplemented
        return self.raw == other.raw

    __hash__: ClassVar[None] = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Proposition(id={self.id!r}, scope={self.scope!r}, items={len(self.items)})"


PropositionLike = Union[Proposition, Mapping[str, Any]]


def _payloads(propositions: Union[PropositionLike, Iterable[PropositionLike]]) -> List[Any]:
    if isinstance(propositions, (Proposition, Mapping)):
        propositions = [propositions]
    elif isinstance(propositions, (str, bytes)):
        raise TypeError("propositions must be Proposition objects or dicts, not a string")
    return [p.raw if isinstance(p, Proposition) else p for p in propositions]


def _event(request: Dict[str, Any]) -> Dict[str, Any]:
    event: Dict[str, Any] = _native.proposition_event(request)["event"]
    return event


def display_event(propositions: Union[PropositionLike, Iterable[PropositionLike]]) -> Dict[str, Any]:
    """The event reporting ``propositions`` as shown (``decisioning.propositionDisplay``),
    ready for ``interact``, ``collect`` or ``send``: ``{"xdm": {...}}``."""
    return _event({"kind": "display", "propositions": _payloads(propositions)})


def interact_event(
    propositions: Union[PropositionLike, Iterable[PropositionLike]],
    label: Optional[str] = None,
    tokens: Optional[Sequence[str]] = None,
) -> Dict[str, Any]:
    """The event reporting a click on ``propositions``
    (``decisioning.propositionInteract``), with ``label`` and ``tokens`` as the
    ``propositionAction``: ``{"xdm": {...}}``."""
    request: Dict[str, Any] = {"kind": "interact", "propositions": _payloads(propositions)}
    if label is not None:
        request["label"] = label
    if tokens is not None:
        request["tokens"] = list(tokens)
    return _event(request)
