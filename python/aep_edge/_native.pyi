"""Stubs for the compiled module aep_edge._native (the pyo3 layer)."""

from typing import Any, Callable, Dict, List, Optional, Tuple, Union, final

from aep_edge._shapes import ResultBody

__all__ = [
    "NativeClient",
    "NativeQueue",
    "NativeEmulator",
    "Json",
    "NativeResult",
    "Inbox",
    "to_json",
    "plain_interact",
    "_event_bodies",
    "start_call",
    "proposition_event",
    "core_version",
    "__version__",
]

__version__: str

def core_version() -> str:
    """The core's version, X.Y.Z."""
def proposition_event(request: Any) -> Dict[str, Any]:
    """The proposition display or interaction event (design.md §3.9), from the core."""

def to_json(obj: Any, root: str = "") -> Json:
    """Converts obj strictly to JSON; TypeError names the path of a bad value."""

def plain_interact(client: Any, native: NativeClient, installed: int, event: Any) -> Any:
    """EdgeClient.interact(event) with no keyword given, end to end: client
    is the EdgeClient, native its _native, installed its _log.installed;
    returns the InteractResponse."""

def _event_bodies(event: Any) -> Tuple[Optional[Tuple[bytes, bool]], Union[Tuple[bytes, bool], str]]:
    """For tests: the interact body event_body.rs writes for event, as
    (body, own_identity) or None where it declines, and what the core's text
    path makes of the same event: (body, own_identity) or its error message."""

def start_call(
    client: NativeClient,
    endpoint: str,
    request: Union[Json, Dict[str, Any]],
    inbox: Inbox,
    future: Any,
) -> int:
    """Starts an async call on the core's workers; its result or exception
    completes future on the inbox's event loop."""

@final
class Inbox:
    """Finished async calls waiting to complete their futures on one event loop."""

    def __new__(cls, loop_ref: Callable[[], Any]) -> Inbox: ...
    def drain(self) -> None: ...

@final
class Json:
    """A request already converted to JSON (owned by Rust)."""

    def to_python(self) -> Any: ...

@final
class NativeResult:
    """A call's result JSON (design.md §3.3), kept in Rust until read."""

    def raw(self) -> ResultBody:
        """The whole result as Python objects; the same dict at every call."""
    def top(self, key: str) -> Any:
        """The scalar at key of the result, or None."""
    def fact(self, key: str) -> Any:
        """The scalar at key of the result's client facts, or None."""
    def http_status(self) -> int:
        """client.httpStatus, 0 when absent."""

@final
class NativeClient:
    def __new__(cls, config: Any) -> NativeClient: ...
    def interact(self, request: Union[Json, Dict[str, Any]]) -> NativeResult: ...
    def collect(self, request: Union[Json, Dict[str, Any]]) -> NativeResult: ...
    def set_consent(self, request: Union[Json, Dict[str, Any]]) -> NativeResult: ...
    def session(self) -> Dict[str, Any]: ...
    def reset_session(self) -> None: ...
    def set_access_token(self, token: str) -> None: ...
    def close(self, timeout: Optional[float] = None) -> Tuple[int, float]: ...
    def is_closed(self) -> bool: ...
    def is_poisoned(self) -> bool: ...
    def reopen(self) -> NativeClient: ...
    def set_logger(
        self, min_level: int, callback: Optional[Callable[[int, str, Optional[str]], Any]]
    ) -> None:
        """callback(level, message, request_id): request_id is the blocking
        call's on the thread that logs, else None."""

@final
class NativeQueue:
    def __new__(cls, client: NativeClient, in_memory: bool = False) -> NativeQueue: ...
    def send(self, request: Union[Json, Dict[str, Any]]) -> str: ...
    def flush(self, timeout: float) -> Tuple[bool, Dict[str, Any]]: ...
    def stats(self) -> Dict[str, Any]: ...
    def set_outcome_callback(
        self, callback: Optional[Callable[[Dict[str, Any]], Any]]
    ) -> None: ...
    def close(self, timeout: float) -> Tuple[int, int, Dict[str, Any]]: ...

@final
class NativeEmulator:
    def __new__(
        cls,
        *,
        datastreams: List[str] = ...,
        require_auth: bool = False,
        static_tokens: List[str] = ...,
        org_id: Optional[str] = None,
        ims_clients: List[Tuple[str, str]] = ...,
        token_ttl_secs: Optional[int] = None,
        lenient_identity: bool = False,
    ) -> NativeEmulator: ...
    @property
    def url(self) -> str: ...
    def reset(self) -> None: ...
    def is_running(self) -> bool: ...
    def stop(self) -> None: ...
