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


def test_a_from_config_clients_calls_still_name_the_keywords(emulator: Emulator) -> None:
    # The config speaks C keys, but interact() was given keywords.
    with EdgeClient.from_config({"datastreamId": "ds", "baseUrl": emulator.base_url}) as c:
        with pytest.raises(RequestError, match=r"^headers=\['Cookie'\] is not a visitor context header"):
            c.interact(EVENT, headers={"Cookie": "a=b"})
    assert emulator.requests() == []


def test_dict_keywords_name_their_keys_as_subscripts(client: EdgeClient) -> None:
    with pytest.raises(ConfigError, match=r"^queue=\['maxEvents'\] must be an integer"):
        EdgeClient("ds", base_url="http://127.0.0.1:9", queue={"maxEvents": 0})
    with pytest.raises(ConfigError, match=r"^queue= has no key 'maxEvnts'$"):
        EdgeClient("ds", base_url="http://127.0.0.1:9", queue={"maxEvnts": 1})
    # queue={'path': ...} is named as given, queue_path= as given.
    with pytest.raises(ConfigError, match=r"^queue=\['path'\] must not be empty"):
        EdgeClient("ds", base_url="http://127.0.0.1:9", queue={"path": ""})
    with pytest.raises(ConfigError, match=r"^queue_path= must not be empty"):
        EdgeClient("ds", base_url="http://127.0.0.1:9", queue_path="")
    # A name the core prints unquoted is cut where the given name ends.
    with pytest.raises(ConfigError, match=r"^headers=\['Bad Name'\] is not a visitor context header"):
        EdgeClient("ds", base_url="http://127.0.0.1:9", headers={"Bad Name": "x"})
    with pytest.raises(ConfigError, match=r"^headers= has 65 headers"):
        EdgeClient("ds", base_url="http://127.0.0.1:9", headers={f"Sec-CH-UA-X{i}": "x" for i in range(65)})
    with pytest.raises(RequestError, match=r"^headers=\['Referer'\] contains CR, LF or NUL"):
        client.interact(EVENT, headers={"Referer": "a\r\nb"})


def test_a_value_json_cannot_hold_is_named_at_its_keyword(client: EdgeClient, emulator: Emulator) -> None:
    """§4 "raises `TypeError` naming its path (`event.xdm.foo[2]`)": inside a
    keyword the path starts at the keyword, as the core's messages do (`state=[0].key`)."""
    nan = float("nan")
    with pytest.raises(TypeError, match=r"^state=\[0\]\.value: NaN is not allowed in JSON$"):
        client.interact(EVENT, state=[{"key": "k", "value": nan}])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"^state=\[0\]\.value: NaN"):
        client.send(EVENT, state=[{"key": "k", "value": nan}])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"^headers=\['Referer'\]: NaN"):
        client.interact(EVENT, headers={"Referer": nan})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"^identity_map=\['ECID'\]\[0\]\.id: NaN"):
        client.set_consent({"standard": "Adobe", "version": "1.0", "value": {"general": "in"}},
                           identity_map={"ECID": [{"id": nan}]})
    with pytest.raises(TypeError, match=r"^retry\['maxAttempts'\]: NaN"):
        EdgeClient("ds", base_url="http://127.0.0.1:9", retry={"maxAttempts": nan})  # type: ignore[typeddict-item]
    with pytest.raises(TypeError, match=r"^event\.xdm\.foo\[2\]: NaN"):
        client.interact({"xdm": {"foo": [1, 2, nan]}})
    assert emulator.requests() == []


def test_a_key_that_is_also_a_word_is_named_only_as_a_key() -> None:
    # "proxy" is the key at the start of a message, an English word inside one.
    with pytest.raises(ConfigError) as info:
        EdgeClient("ds", base_url="http://127.0.0.1:9", proxy="http://10.0.0.1:3128")
    message = str(info.value)
    assert "but proxy= is 10.0.0.1, not a loopback proxy:" in message, message
    assert "or a proxy on 127.0.0.1" in message, message


@pytest.mark.parametrize("method", ["flush", "close"])
def test_a_negative_wait_is_a_request_error_naming_timeout(client: EdgeClient, method: str) -> None:
    with pytest.raises(RequestError, match=r"^timeout= must be a finite number of seconds >= 0, not -1$") as info:
        getattr(client, method)(timeout=-1)
    assert isinstance(info.value, ValueError) and info.value.kind == "invalid_request"
    with pytest.raises(TypeError, match=r"^timeout= must be a number of seconds"):
        getattr(client, method)(timeout="1")
    assert not client.closed


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
