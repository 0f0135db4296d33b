"""An outside check of design.md §4 and §4.1 through the installed wheel: the
promises no other test asserts, each quoting the line it checks."""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path
from typing import Any, Dict, List

import pytest

import aep_edge
from aep_edge import (
    ClientClosedError,
    ConfigError,
    EdgeClient,
    EdgeError,
    EdgeTimeoutError,
    HttpError,
    QueueFullError,
    RequestError,
    TransportError,
)

from conftest import EVENT, Emulator, closed_port

ATTRIBUTES = ("message", "kind", "status", "code", "problem", "retryable", "retry_after",
              "request_id", "attempts")


def test_exception_classes_have_the_documented_bases_and_module() -> None:
    """§4 "`ConfigError` (also a `ValueError`), `RequestError` (also a `ValueError`),
    `TransportError` (also a `ConnectionError`), `EdgeTimeoutError` (also a
    `TimeoutError`)"; §4.1 "exceptions importable from `aep_edge` with
    `__module__ == "aep_edge"`"."""
    extra = {
        "ConfigError": ValueError,
        "RequestError": ValueError,
        "TransportError": ConnectionError,
        "EdgeTimeoutError": TimeoutError,
    }
    names = ["EdgeError", "ConfigError", "RequestError", "TransportError", "EdgeTimeoutError",
             "HttpError", "AuthError", "ResponseError", "ConsentError", "QueueFullError",
             "ClientClosedError", "StorageError", "InternalError"]
    for name in names:
        cls = getattr(aep_edge, name)
        assert issubclass(cls, EdgeError), name
        assert cls.__module__ == "aep_edge", (name, cls.__module__)
        if name in extra:
            assert issubclass(cls, extra[name]), name


def _raised(fn: Any) -> EdgeError:
    with pytest.raises(EdgeError) as info:
        fn()
    return info.value


def test_real_errors_of_every_kind_pickle_with_their_attributes(emulator: Emulator) -> None:
    """§4 "Every exception pickles (Celery, multiprocessing)": the ones the
    library raises, not only ones built by hand."""
    errors: List[EdgeError] = []
    errors.append(_raised(lambda: EdgeClient("ds", base_url="http://example.com")))
    c = EdgeClient("ds", base_url=emulator.base_url, queue={"maxEvents": 1, "flushIntervalMs": 600000})
    errors.append(_raised(lambda: c.interact({"event": EVENT})))
    c.send(EVENT)
    errors.append(_raised(lambda: c.send(EVENT)))
    c.close(timeout=0.2)
    errors.append(_raised(lambda: c.interact(EVENT)))
    down = EdgeClient("ds", base_url=f"http://127.0.0.1:{closed_port()}",
                      retry={"maxAttempts": 1})
    errors.append(_raised(lambda: down.interact(EVENT)))
    down.close()
    kinds = [type(e) for e in errors]
    assert kinds == [ConfigError, RequestError, QueueFullError, ClientClosedError, TransportError]
    for e in errors:
        for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
            back = pickle.loads(pickle.dumps(e, protocol=protocol))
            assert type(back) is type(e)
            assert str(back) == str(e)
            for attr in ATTRIBUTES:
                assert getattr(back, attr) == getattr(e, attr), (type(e).__name__, attr)
    assert errors[-1].attempts == 1


def test_queue_stats_have_every_documented_attribute_with_its_type(emulator: Emulator) -> None:
    """§4.1 "`client.stats() -> QueueStats` (attributes `queued`, `in_flight`,
    `delivered`, `rejected` (dict), `retries`, `batches`, `oldest_age` (seconds),
    `bytes`)"."""
    with EdgeClient("ds", base_url=emulator.base_url, queue={"flushIntervalMs": 600000}) as c:
        c.send(EVENT)
        c.send(EVENT)
        waiting = c.stats()
        assert waiting.queued == 2 and waiting.bytes > 0
        assert isinstance(waiting.oldest_age, float) and 0.0 <= waiting.oldest_age < 60.0
        done = c.flush(timeout=20)
    for name, kind in [("queued", int), ("in_flight", int), ("delivered", int), ("retries", int),
                       ("batches", int), ("bytes", int), ("rejected", dict),
                       ("oldest_age", float)]:
        assert isinstance(getattr(done, name), kind), (name, getattr(done, name))
    assert done.delivered == 2 and done.queued == 0 and done.batches >= 1
    assert done.rejected == {}


def test_ca_file_keyword_is_accepted_and_a_missing_file_is_named_in_python_words(
    emulator: Emulator, tmp_path: Path
) -> None:
    """§4 keywords "`proxy=`, `ca_file=`"; §4.1 "an error about a keyword argument
    names the keyword"."""
    missing = tmp_path / "missing.pem"
    with pytest.raises(ConfigError) as info:
        EdgeClient("ds", base_url=emulator.base_url, ca_file=str(missing))
    assert "ca_file=" in str(info.value), str(info.value)
    assert "tls.caFile" not in str(info.value), str(info.value)


def _keywords(fn: Any) -> List[str]:
    return list(inspect.signature(fn).parameters)


def test_the_constructor_takes_every_documented_keyword() -> None:
    """§4 "Keywords mirror the C config: `session=`, `timeout=` ..., `connect_timeout=`,
    `total_timeout=`, `retry=`, `state_path=`, `proxy=`, `ca_file=`"; §4.1 `on_outcome=`,
    `queue=`, `queue_path=`, `workers=`, `max_connections=` and the `Literal` keywords
    `session`, `tls_roots`, `default_consent`, `hint_routing`."""
    have = _keywords(EdgeClient.__init__)
    for name in ["datastream_id", "org_id", "auth", "base_url", "timeout", "session",
                 "connect_timeout", "total_timeout", "retry", "state_path", "proxy", "ca_file",
                 "on_outcome", "queue", "queue_path", "workers", "max_connections", "tls_roots",
                 "default_consent", "hint_routing"]:
        assert name in have, (name, have)


def test_every_call_takes_the_per_call_keywords() -> None:
    """§4 "query=, meta=, request_id=, state= as keywords"; §4.1 "Per call:
    `timeout=` (per attempt) and `total_timeout=`"; "`headers=` and `location_hint=`
    per call"; `send(event, *, meta=None, state=None, headers=None) -> str`."""
    for name in ["interact", "interact_async"]:
        have = _keywords(getattr(EdgeClient, name))
        for kw in ["query", "meta", "request_id", "state", "timeout", "total_timeout", "headers",
                   "location_hint"]:
            assert kw in have, (name, kw, have)
    for name in ["collect", "collect_async", "set_consent", "set_consent_async"]:
        have = _keywords(getattr(EdgeClient, name))
        for kw in ["timeout", "total_timeout"]:
            assert kw in have, (name, kw, have)
    send = inspect.signature(EdgeClient.send)
    for kw in ["meta", "state", "headers"]:
        p = send.parameters[kw]
        assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is None, kw


def test_per_call_timeouts_work_on_collect(emulator: Emulator) -> None:
    """§4.1 "`timeout=` (per attempt) and `total_timeout=` (the whole call) override
    the constructor's for one call" — on collect, not only interact."""
    with EdgeClient("ds", base_url=emulator.base_url, timeout=30.0,
                    retry={"maxAttempts": 1}) as c:
        emulator.fault(count=1, delayMs=3000)
        with pytest.raises(EdgeTimeoutError):
            c.collect([EVENT], timeout=0.3)
        emulator.reset()
        assert c.collect([EVENT]).status == 202


def test_an_http_error_has_every_documented_attribute(emulators: Dict[str, Emulator]) -> None:
    """§4 "`HttpError` (`.status` = HTTP status, `.code`, `.problem`, `.retryable`,
    `.retry_after` in seconds or `None`, `.request_id` = the id sent)" — with an id
    the client generated (none given)."""
    known = emulators["known"]
    with EdgeClient("not-known", base_url=known.base_url) as c:
        with pytest.raises(HttpError) as info:
            c.interact(EVENT)
    e = info.value
    sent = [r for r in known.requests() if r["path"].endswith("/v2/interact")][-1]
    assert e.request_id is not None and e.request_id == sent["query"]["requestId"]
    assert e.status == 400 and e.code == "EXEG-0003-400"
    assert isinstance(e.problem, dict) and e.problem["type"].endswith("EXEG-0003-400")
    assert e.retryable is False and e.retry_after is None and e.attempts == 1


THREADS_PROBE = r"""
import os, sys, threading
def native_threads():
    return len(os.listdir("/proc/self/task"))
base = native_threads()
import aep_edge
after_import = native_threads()
c = aep_edge.EdgeClient("ds", base_url=sys.argv[1])
after_new = native_threads()
python_threads = threading.active_count()
import asyncio
EVENT = {"xdm": {"identityMap": {"FPID": [{"id": "v", "primary": True}]}}}
r = asyncio.run(c.interact_async(EVENT))
assert r.status == 200
print(base, after_import, after_new, python_threads, threading.active_count(), native_threads())
c.close()
"""


def test_no_thread_starts_at_import_or_in_the_constructor(emulator: Emulator) -> None:
    """§4 "No thread starts at import; the executor behind the async methods starts
    on first use"; §3.6 "Workers start at the first async call (never in
    `client_new`, so a host may fork before it)" — counted as OS threads."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", THREADS_PROBE, emulator.base_url],
                         capture_output=True, text=True, timeout=60, check=True).stdout.split()
    base, after_import, after_new, python_threads, after_async, native_after_async = map(int, out)
    assert after_import == base, out
    assert after_new == base, out
    assert python_threads == 1, out
    # §4.1 "run on the core's workers (§3.6) ...; no Python thread pool".
    assert after_async == 1, out
    assert native_after_async > base, out


def test_request_id_is_the_sent_one_when_the_server_gives_none(emulator: Emulator) -> None:
    """§4 "`request_id` the server's id (the one sent when the server gave none)";
    §3.3 `handle`/`errors`/`warnings` always present."""
    with EdgeClient("ds", base_url=emulator.base_url) as c:
        emulator.fault(count=1, status=200, body={"handle": []}, contentType="application/json")
        r = c.interact(EVENT, request_id="sent-id-1")
    assert r.request_id == "sent-id-1"
    assert r.status == 200
    assert r.errors == [] and r.warnings == [] and r.handles == []
    assert r.raw["client"]["requestId"] == "sent-id-1"


def test_a_2xx_that_is_not_json_is_a_response_error_and_consent_n_a_consent_error(
    emulator: Emulator,
) -> None:
    """§4 `ResponseError`, `ConsentError`; §3.3 "A 2xx body that is not a JSON
    object is `AEP_EDGE_INVALID_RESPONSE`"; §3 "CONSENT_DENIED: nothing was sent"."""
    with EdgeClient("ds", base_url=emulator.base_url, retry={"maxAttempts": 1}) as c:
        emulator.fault(count=1, status=200, body="<html>hi</html>", contentType="text/html")
        with pytest.raises(aep_edge.ResponseError) as bad:
            c.interact(EVENT)
        assert bad.value.kind == "invalid_response" and bad.value.attempts == 1
        c.set_consent({"standard": "Adobe", "version": "2.0",
                       "value": {"collect": {"val": "n"}}})
        emulator.reset()
        with pytest.raises(aep_edge.ConsentError) as denied:
            c.interact(EVENT)
        assert denied.value.kind == "consent_denied"
        assert denied.value.attempts == 0 and denied.value.request_id is None
        with pytest.raises(aep_edge.ConsentError):
            c.send(EVENT)
    assert emulator.requests() == []


def _leaks(keyword: str, c_key: str) -> Any:
    return pytest.mark.xfail(
        strict=True,
        reason=f"deviation: the message names the C key {c_key} instead of {keyword} "
        "(python/aep_edge/_client.py passes the core's message through)",
    )


@pytest.mark.parametrize(
    "kwargs, words, c_keys",
    [
        pytest.param({"workers": 0}, "workers=", ["async.workers"],
                     marks=_leaks("workers=", "async.workers")),
        pytest.param({"workers": 257}, "workers=", ["async.workers"],
                     marks=_leaks("workers=", "async.workers")),
        pytest.param({"max_pending": 0}, "max_pending=", ["async.maxPending"],
                     marks=_leaks("max_pending=", "async.maxPending")),
        ({"hint_routing": "sideways"}, "hint_routing=", ["hintRouting"]),
        pytest.param({"edge_base_path": "/ee"}, "edge_base_path=", ["edgeBasePath"],
                     marks=_leaks("edge_base_path=", "edgeBasePath")),
        ({"state_path": ""}, "state_path=", ["statePath"]),
        pytest.param({"queue_path": ""}, "queue_path=", ["queue.path"],
                     marks=_leaks("queue_path=", "queue.path")),
        pytest.param({"headers": {"Cookie": "a=b"}}, "headers=", ["headers.Cookie"],
                     marks=_leaks("headers=", "headers.Cookie")),
        ({"base_url": "http://10.0.0.1:9"}, "base_url=", ["baseUrl"]),
        pytest.param({"queue": {"maxEvnts": 1}}, "queue=", ["queue.maxEvnts"],
                     marks=_leaks("queue=", "queue.maxEvnts")),
    ],
)
def test_more_constructor_errors_name_the_python_keyword(
    kwargs: Dict[str, Any], words: str, c_keys: List[str]
) -> None:
    """§4.1 "Messages name Python's words: an error about a keyword argument names
    the keyword (`total_timeout=`), not the C config key" — for the keywords
    test_keywords.py does not cover."""
    kwargs.setdefault("base_url", "http://127.0.0.1:9")
    with pytest.raises(ConfigError) as info:
        EdgeClient("ds", **kwargs)
    message = str(info.value)
    assert words in message, message
    for c_key in c_keys:
        assert c_key not in message, message


@pytest.mark.parametrize(
    "kwargs, words, c_key",
    [
        pytest.param({"headers": {"Authorization": "x"}}, "headers=", "options.headers",
                     marks=_leaks("headers=", "options.headers.Authorization")),
        pytest.param({"headers": {"Referer": "a\r\nb"}}, "headers=", "options.headers",
                     marks=_leaks("headers=", "options.headers.Referer")),
        pytest.param({"location_hint": ""}, "location_hint=", "options.locationHint",
                     marks=_leaks("location_hint=", "options.locationHint")),
        ({"state": [{"value": "no key"}]}, "state=", "options.state"),
    ],
)
def test_per_call_keyword_errors_name_the_python_keyword(
    client: EdgeClient, emulator: Emulator, kwargs: Dict[str, Any], words: str, c_key: str
) -> None:
    """§4.1 the same, per call: `headers=`, `location_hint=`, `state=`."""
    with pytest.raises(RequestError) as info:
        client.interact(EVENT, **kwargs)
    message = str(info.value)
    assert emulator.requests() == []
    assert words in message and c_key not in message, (kwargs, message)


@pytest.mark.parametrize(
    "method, args, kwargs, words, c_key",
    [
        pytest.param("set_consent", ({"standard": "Adobe", "version": "1.0",
                                      "value": {"general": "in"}},),
                     {"identity_map": 5}, "identity_map=", "identityMap",
                     marks=_leaks("identity_map=", "identityMap")),
        pytest.param("send", (EVENT,), {"headers": {"Host": "x"}}, "headers=", "options.headers",
                     marks=_leaks("headers=", "options.headers.Host")),
        ("send", (EVENT,), {"state": [{"value": "x"}]}, "state=", "options.state"),
        ("collect", ([EVENT],), {"request_id": ""}, "request_id=", "options.requestId"),
    ],
)
def test_other_methods_name_the_python_keyword(
    client: EdgeClient, emulator: Emulator, method: str, args: Any, kwargs: Dict[str, Any],
    words: str, c_key: str,
) -> None:
    """§4.1 "Messages name Python's words" on set_consent, send and collect."""
    with pytest.raises(RequestError) as info:
        getattr(client, method)(*args, **kwargs)
    message = str(info.value)
    assert emulator.requests() == []
    assert words in message and c_key not in message, message


def test_a_207_is_a_success_with_errors_and_warnings_as_lists_of_dicts(emulator: Emulator) -> None:
    """§3.3 "A 207 is a success whose `errors` are not empty"; §4 "`errors` and
    `warnings` are lists of dicts; `event_index` is 0 when the server omits it";
    `handles_of_type(...) -> list[Handle]`."""
    body = {
        "requestId": "srv-1",
        "handle": [{"type": "personalization:decisions", "payload": [{"id": "p"}], "eventIndex": 0},
                   {"type": "state:store", "payload": [{"key": "k", "value": "v", "maxAge": 10}]}],
        "errors": [{"type": "https://ns.adobe.com/aep/errors/EXEG-0201-503", "status": 503,
                    "title": "Upstream unavailable", "report": {"eventIndex": 0}}],
        "warnings": [{"type": "https://ns.adobe.com/aep/errors/EXEG-0204-200", "status": 200,
                      "title": "Warned"}],
    }
    with EdgeClient("ds", base_url=emulator.base_url) as c:
        emulator.fault(count=1, status=207, body=body, contentType="application/json")
        r = c.interact(EVENT)
    assert r.status == 207
    assert r.request_id == "srv-1"
    assert isinstance(r.errors, list) and isinstance(r.errors[0], dict)
    assert r.errors[0]["status"] == 503
    assert isinstance(r.warnings, list) and r.warnings[0]["title"] == "Warned"
    decisions = r.handles_of_type("personalization:decisions")
    assert len(decisions) == 1 and decisions[0].type == "personalization:decisions"
    assert decisions[0].payload == [{"id": "p"}]
    store = r.handles_of_type("state:store")
    assert store[0].event_index == 0
    assert r.state_entries == [{"key": "k", "value": "v", "maxAge": 10}]
    assert r.raw["client"]["httpStatus"] == 207
