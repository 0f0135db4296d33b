"""The exception tree of aep_edge (design.md §4).

Defined in Python so that every exception pickles with its attributes
(Celery, multiprocessing). The native layer raises them through one function,
:func:`_from_native`, which maps the core's error ``kind`` to a class.
"""

from __future__ import annotations

from typing import Any, Dict, Literal, Optional, Type

from ._shapes import Problem

__all__ = [
    "ErrorKind",
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


ErrorKind = Literal[
    "http",
    "transport",
    "timeout",
    "auth",
    "invalid_json",
    "invalid_config",
    "invalid_request",
    "invalid_response",
    "queue_full",
    "closed",
    "storage",
    "consent_denied",
    "null_argument",
    "invalid_utf8",
    "panic",
    "",
]
"""The core's error kinds (design.md §3.3); ``""`` for an error raised by the
Python layer itself."""

# Every exception shows as aep_edge.<Name> in tracebacks and pickles by that
# name: the private module is an implementation detail.
_PUBLIC_MODULE = "aep_edge"


class EdgeError(Exception):
    """Base class of every error the client raises.

    Attributes (all present on every subclass; ``None`` where they do not apply):

    - ``message``: what went wrong.
    - ``kind``: the core's error kind (``"http"``, ``"transport"``, ``"timeout"`` ...).
    - ``status``: the HTTP status of the last response, or ``None``.
    - ``code``: the Edge Network error code, e.g. ``"EXEG-0003-400"``.
    - ``problem``: the RFC 7807 problem body (a dict) the server sent.
    - ``retryable``: whether sending the same request later may succeed.
    - ``retry_after``: seconds the server asked to wait (``Retry-After``), or ``None``.
    - ``request_id``: the ``requestId`` that was sent (``None`` when nothing was sent).
    - ``attempts``: how many times the request was sent (0 when never).
    """

    __module__ = _PUBLIC_MODULE

    message: str
    kind: ErrorKind
    status: Optional[int]
    code: Optional[str]
    problem: Optional[Problem]
    retryable: bool
    retry_after: Optional[float]
    request_id: Optional[str]
    attempts: int

    def __init__(
        self,
        message: str = "",
        *,
        kind: ErrorKind = "",
        status: Optional[int] = None,
        code: Optional[str] = None,
        problem: Optional[Problem] = None,
        retryable: bool = False,
        retry_after: Optional[float] = None,
        request_id: Optional[str] = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status
        self.code = code
        self.problem = problem
        self.retryable = retryable
        self.retry_after = retry_after
        self.request_id = request_id
        self.attempts = attempts

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:
        # (class, (message,), attributes): rebuilt the same way whatever the
        # second base (OSError subclasses have a __reduce__ of their own).
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))

    def __repr__(self) -> str:
        extra = f", kind={self.kind!r}" if self.kind else ""
        if self.status is not None:
            extra += f", status={self.status}"
        if self.code is not None:
            extra += f", code={self.code!r}"
        if self.request_id is not None:
            extra += f", request_id={self.request_id!r}"
        return f"{type(self).__name__}({self.message!r}{extra})"


def _rebuild(cls: Type[EdgeError], message: str, state: Dict[str, Any]) -> EdgeError:
    error = cls(message)
    error.__dict__.update(state)
    return error


class ConfigError(EdgeError, ValueError):
    """The client configuration is invalid (or names a setting this build does not support)."""

    __module__ = _PUBLIC_MODULE


class RequestError(EdgeError, ValueError):
    """The request is invalid; nothing was sent."""

    __module__ = _PUBLIC_MODULE


class TransportError(EdgeError, ConnectionError):
    """DNS, connect, TLS or connection reset: no HTTP response was received."""

    __module__ = _PUBLIC_MODULE


class EdgeTimeoutError(EdgeError, TimeoutError):
    """An attempt or the whole call ran past its deadline."""

    __module__ = _PUBLIC_MODULE


class HttpError(EdgeError):
    """The Edge Network answered with a non-2xx status (after retries)."""

    __module__ = _PUBLIC_MODULE


class AuthError(HttpError):
    """No token could be obtained, or the Edge Network refused it (401/403 EXEG-05xx)."""

    __module__ = _PUBLIC_MODULE


class ResponseError(EdgeError):
    """A 2xx response whose body is not the expected JSON (or is too large)."""

    __module__ = _PUBLIC_MODULE


class ConsentError(EdgeError):
    """Collect consent is "n": nothing was sent."""

    __module__ = _PUBLIC_MODULE


class QueueFullError(EdgeError):
    """The durable event queue is full."""

    __module__ = _PUBLIC_MODULE


class ClientClosedError(EdgeError):
    """The client was closed."""

    __module__ = _PUBLIC_MODULE


class StorageError(EdgeError):
    """The session or queue storage failed."""

    __module__ = _PUBLIC_MODULE


class InternalError(EdgeError):
    """An internal bug in the native core (a caught panic)."""

    __module__ = _PUBLIC_MODULE


_KINDS: Dict[str, Type[EdgeError]] = {
    "invalid_config": ConfigError,
    "invalid_request": RequestError,
    "invalid_json": RequestError,
    "invalid_utf8": RequestError,
    "null_argument": RequestError,
    "transport": TransportError,
    "timeout": EdgeTimeoutError,
    "http": HttpError,
    "auth": AuthError,
    "invalid_response": ResponseError,
    "queue_full": QueueFullError,
    "closed": ClientClosedError,
    "storage": StorageError,
    "consent_denied": ConsentError,
    "panic": InternalError,
}


def _from_native(error: Dict[str, Any]) -> EdgeError:
    """Builds the exception for the core's error object (design.md §3.3)."""
    kind: Any = str(error.get("kind") or "")
    cls = _KINDS.get(kind, EdgeError)
    retry_after_ms = error.get("retryAfterMs")
    return cls(
        str(error.get("message") or kind),
        kind=kind,
        status=error.get("httpStatus"),
        code=error.get("code"),
        problem=error.get("problem"),
        retryable=bool(error.get("retryable")),
        retry_after=None if retry_after_ms is None else retry_after_ms / 1000.0,
        request_id=error.get("requestId"),
        attempts=int(error.get("attempts") or 0),
    )
