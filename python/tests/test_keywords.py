"""Keywords and messages in Python's words (design.md §4.1): per-call
timeouts, default_consent, errors naming the keyword, docstrings, reprs."""

from __future__ import annotations

import inspect
import time
from typing import Any, Dict

import pytest

import aep_edge
from aep_edge import (
    ConfigError,
    ConsentError,
    EdgeClient,
    EdgeTimeoutError,
    HttpError,
    RequestError,
)

from conftest import EVENT, KNOWN_DATASTREAM, Emulator


def test_per_call_timeout_bounds_each_attempt(client: EdgeClient, emulator: Emulator) -> None:
    emulator.fault(delayMs=2000, count=3, pathContains="/interact")
    started = time.monotonic()
    with pytest.raises(EdgeTimeoutError):
        client.interact(EVENT, timeout=0.3, total_timeout=0.5)
    assert time.monotonic() - started < 1.5
    # The client's own 5 s per attempt is back for the next call.
    emulator.reset()
    emulator.fault(delayMs=700, pathContains="/interact")
    assert client.interact(EVENT).status == 200


def test_per_call_total_timeout_is_named_in_python_words(client: EdgeClient, emulator: Emulator) -> None:
    emulator.fault(delayMs=2000, pathContains="/interact")
    with pytest.raises(EdgeTimeoutError) as info:
        client.interact(EVENT, total_timeout=0.4)
    assert "total_timeout=" in str(info.value) and "totalMs" not in str(info.value)


def test_timeout_none_means_the_default(emulator: Emulator) -> None:
    with EdgeClient("ds", base_url=emulator.base_url, timeout=None, total_timeout=None) as c:
        assert c.interact(EVENT, timeout=None, total_timeout=None).status == 200


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"total_timeout": 0}, ConfigError, "total_timeout="),
        ({"timeout": -1.0}, ConfigError, "timeout="),
        ({"connect_timeout": float("nan")}, ConfigError, "connect_timeout="),
        ({"timeout": "10"}, TypeError, "timeout="),
        ({"max_connections": 0}, ConfigError, "max_connections="),
        ({"session": "nnone"}, ConfigError, "session= must be one of 'device', 'none'"),
        ({"tls_roots": "mozilla"}, ConfigError, "tls_roots= must be one of 'bundled', 'system'"),
        ({"default_consent": "out"}, ConfigError, "default_consent= must be one of 'in', 'pending'"),
        ({"retry": {"maxAttemps": 3}}, ConfigError, "retry= has no key 'maxAttemps'"),
        ({"retry": {"maxAttempts": 0}}, ConfigError, "retry['maxAttempts']"),
        ({"proxy": {"uri": "http://127.0.0.1:1"}}, ConfigError, "proxy= has no key 'uri'"),
        ({"edge_domain": ""}, ConfigError, "edge_domain="),
        ({"org_id": "no-at-sign", "auth": aep_edge.TokenAuth("t", "k")}, ConfigError, "org_id="),
        ({"auth": aep_edge.TokenAuth("", "k"), "org_id": "X@AdobeOrg"}, ConfigError, "TokenAuth.access_token"),
    ],
)
def test_constructor_errors_name_the_keyword(kwargs: Dict[str, Any], error: type, words: str) -> None:
    with pytest.raises(error) as info:
        EdgeClient("ds", base_url="http://127.0.0.1:9", **kwargs)
    message = str(info.value)
    assert words in message, message
    for c_key in ("totalMs", "requestMs", "connectMs", "maxConnections", "retry.", "edgeDomain", "orgId", "accessToken"):
        assert c_key not in message, message


def test_per_call_errors_name_the_keyword(client: EdgeClient, emulator: Emulator) -> None:
    with pytest.raises(RequestError, match=r"^total_timeout= must be a positive"):
        client.interact(EVENT, total_timeout=0)
    with pytest.raises(TypeError, match=r"^timeout= must be a number"):
        client.interact(EVENT, timeout="1")  # type: ignore[arg-type]
    with pytest.raises(RequestError) as info:
        client.interact(EVENT, request_id="")
    assert "request_id=" in str(info.value) and "options." not in str(info.value)
    assert emulator.requests() == []


def test_from_config_keeps_the_c_keys() -> None:
    with pytest.raises(ConfigError, match=r"timeouts\.totalMs"):
        EdgeClient.from_config({"datastreamId": "ds", "timeouts": {"totalMs": 0}})


def test_default_consent_pending_waits_for_a_decision(emulator: Emulator) -> None:
    with EdgeClient("ds", base_url=emulator.base_url, default_consent="pending") as c:
        assert c.session["consent"] == "p"
        started = time.monotonic()
        with pytest.raises(EdgeTimeoutError, match="pending"):
            c.interact(EVENT, total_timeout=0.3)
        assert time.monotonic() - started < 2.0
        assert emulator.requests() == []
        c.set_consent({"standard": "Adobe", "version": "2.0", "value": {"collect": {"val": "n"}}})
        with pytest.raises(ConsentError):
            c.interact(EVENT)


def test_every_public_name_and_keyword_is_documented() -> None:
    for name in aep_edge.__all__:
        obj = getattr(aep_edge, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), name
    doc = inspect.getdoc(EdgeClient) or ""
    for keyword in inspect.signature(EdgeClient.__init__).parameters:
        if keyword != "self":
            assert f"``{keyword}``" in doc, f"EdgeClient's docstring does not explain {keyword}="
    for method in ("interact", "collect", "close", "set_consent", "reset_session", "interact_async"):
        assert inspect.getdoc(getattr(EdgeClient, method)), method
    for prop in ("closed", "session"):
        assert inspect.getdoc(getattr(EdgeClient, prop)), prop
    for prop in ("handles", "errors", "warnings", "status", "request_id", "state_entries"):
        assert inspect.getdoc(getattr(aep_edge.InteractResponse, prop)), prop
    interact_doc = inspect.getdoc(EdgeClient.interact) or ""
    for keyword in ("query", "meta", "request_id", "state", "datastream_id", "timeout", "total_timeout"):
        assert f"``{keyword}``" in interact_doc, keyword


def test_reprs_show_kind_status_code_and_request_id(emulators: Dict[str, Emulator]) -> None:
    known = emulators["known"]
    with EdgeClient("not-" + KNOWN_DATASTREAM, base_url=known.base_url) as c:
        with pytest.raises(HttpError) as info:
            c.interact(EVENT, request_id="rid-repr-1")
    text = repr(info.value)
    for part in ("HttpError(", "kind='http'", "status=400", "code='EXEG-0003-400'", "request_id='rid-repr-1'"):
        assert part in text, text
    assert type(info.value).__module__ == "aep_edge"
    assert "aep_edge._errors" not in text
