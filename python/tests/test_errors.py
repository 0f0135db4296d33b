"""Every exception is reachable, with its attributes."""

from __future__ import annotations

from typing import Dict

import pytest

from aep_edge import (
    AuthError,
    ClientClosedError,
    ConfigError,
    EdgeClient,
    EdgeError,
    EdgeTimeoutError,
    HttpError,
    RequestError,
    ResponseError,
    TokenAuth,
    TransportError,
)

from conftest import EVENT, KNOWN_DATASTREAM, ORG_ID, STATIC_TOKEN, Emulator, closed_port

NO_RETRY = {"maxAttempts": 1}


@pytest.mark.parametrize(
    "config",
    [
        {"datastreamId": ""},
        {"datastreamId": "x", "session": "sometimes"},
        {"datastreamId": "x", "bogus": 1},
        {"datastreamId": "x", "timeouts": {"requestMs": 0}},
        {"datastreamId": "x", "baseUrl": "http://example.com"},
        {"datastreamId": "x", "auth": {"type": "token", "accessToken": "t", "apiKey": "k"}},
        {},
    ],
)
def test_config_error(config: Dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        EdgeClient.from_config(config)
    assert isinstance(info.value, ValueError) and isinstance(info.value, EdgeError)
    assert info.value.kind == "invalid_config"
    assert info.value.attempts == 0 and info.value.request_id is None


def test_config_error_from_keywords() -> None:
    with pytest.raises(ConfigError):
        EdgeClient("x", session="maybe")
    with pytest.raises(ConfigError):
        EdgeClient("x", timeout=-1)
    with pytest.raises(ConfigError):
        EdgeClient("x", retry={"maxAttempts": 0})
    with pytest.raises(TypeError):
        EdgeClient("x", auth="token")  # type: ignore[arg-type]


def test_unsupported_settings_are_passed_through_to_the_core(tmp_path: object) -> None:
    # The core decides; this build refuses statePath with ConfigError.
    try:
        EdgeClient("x", state_path=str(tmp_path) + "/state.json").close()
    except ConfigError as e:
        assert "statePath" in str(e)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.interact("not an object"),
        lambda c: c.interact(EVENT, state=[{"value": "no key"}]),
        lambda c: c.collect([]),
        lambda c: c.interact({"xdm": {"big": "x" * 70_000}}),
    ],
)
def test_request_error(client: EdgeClient, emulator: Emulator, call: object) -> None:
    with pytest.raises(RequestError) as info:
        call(client)  # type: ignore[operator]
    assert isinstance(info.value, ValueError)
    assert info.value.kind == "invalid_request"
    assert info.value.attempts == 0
    assert emulator.requests() == []


def test_http_error_for_an_unknown_datastream(emulators: Dict[str, Emulator]) -> None:
    known = emulators["known"]
    with EdgeClient("not-" + KNOWN_DATASTREAM, base_url=known.base_url) as c:
        with pytest.raises(HttpError) as info:
            c.interact(EVENT, request_id="req-unknown-ds")
    e = info.value
    assert type(e) is HttpError
    assert e.status == 400
    assert e.code == "EXEG-0003-400"
    assert isinstance(e.problem, dict) and e.problem.get("status") == 400
    assert e.retryable is False and e.retry_after is None
    assert e.request_id == "req-unknown-ds"
    assert e.attempts == 1
    assert e.kind == "http"
    with EdgeClient(KNOWN_DATASTREAM, base_url=known.base_url) as c:
        assert c.interact(EVENT).status == 200


def test_auth_error_when_auth_is_required(emulators: Dict[str, Emulator]) -> None:
    auth = emulators["auth"]
    with EdgeClient("ds-test", base_url=auth.base_url) as c:
        with pytest.raises(AuthError) as info:
            c.interact(EVENT)
    e = info.value
    assert isinstance(e, HttpError)
    assert e.status == 401
    assert e.code is not None and e.code.startswith("EXEG-05")
    assert e.kind == "auth"
    with EdgeClient(
        "ds-test",
        org_id=ORG_ID,
        base_url=auth.base_url,
        auth=TokenAuth(STATIC_TOKEN, "test-client-id"),
    ) as c:
        assert c.interact(EVENT).status == 200


def test_transport_error_for_a_closed_port() -> None:
    with EdgeClient(
        "ds-test", base_url=f"http://127.0.0.1:{closed_port()}", retry=NO_RETRY
    ) as c:
        with pytest.raises(TransportError) as info:
            c.interact(EVENT)
    assert isinstance(info.value, ConnectionError)
    assert info.value.kind == "transport"
    assert info.value.status is None
    assert info.value.attempts == 1


def test_timeout_error_with_a_delay_fault(emulator: Emulator) -> None:
    emulator.fault(delayMs=1500, pathContains="/interact")
    with EdgeClient("ds-test", base_url=emulator.base_url, timeout=0.3, retry=NO_RETRY) as c:
        with pytest.raises(EdgeTimeoutError) as info:
            c.interact(EVENT)
    assert isinstance(info.value, TimeoutError)
    assert info.value.kind == "timeout"


def test_response_error_with_a_malformed_fault(client: EdgeClient, emulator: Emulator) -> None:
    emulator.fault(malformed=True)
    with pytest.raises(ResponseError) as info:
        client.interact(EVENT)
    assert info.value.kind == "invalid_response"
    assert info.value.status == 200


def test_closed_client_raises(client: EdgeClient) -> None:
    client.close()
    with pytest.raises(ClientClosedError):
        client.interact(EVENT)
    with pytest.raises(ClientClosedError):
        client.collect([EVENT])
    client.close()  # idempotent


def test_retry_after_zero_succeeds_on_attempt_two(client: EdgeClient, emulator: Emulator) -> None:
    emulator.fault(status=503, retryAfter="0")
    r = client.interact(EVENT)
    assert r.status == 200
    assert r.attempts == 2
    sent = emulator.requests()
    assert [s["status"] for s in sent] == [503, 200]
    assert sent[0]["query"]["requestId"] == sent[1]["query"]["requestId"]


def test_retry_after_too_long_is_reported(emulator: Emulator) -> None:
    emulator.fault(status=503, retryAfter="7")
    with EdgeClient(
        "ds-test", base_url=emulator.base_url, retry={"maxDelayMs": 1000}
    ) as c:
        with pytest.raises(HttpError) as info:
            c.interact(EVENT)
    e = info.value
    assert e.status == 503 and e.retryable is True
    assert e.retry_after == 7.0
    assert e.attempts == 1
