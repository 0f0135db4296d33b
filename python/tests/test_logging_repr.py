"""The core's log lines reach logging.getLogger("aep_edge"); nothing shows a secret."""

from __future__ import annotations

import logging

import pytest

from aep_edge import AuthError, EdgeClient, OAuth, TokenAuth

from conftest import EVENT, ORG_ID, STATIC_TOKEN, Emulator

SECRET = "very-secret-client-secret"


def test_core_log_lines_reach_the_aep_edge_logger(
    emulators: dict, caplog: pytest.LogCaptureFixture
) -> None:
    auth: Emulator = emulators["auth"]
    auth.reset()
    caplog.set_level(logging.DEBUG, logger="aep_edge")
    auth.fault(status=503, retryAfter="0")
    with EdgeClient(
        "ds-test",
        org_id=ORG_ID,
        base_url=auth.base_url,
        auth=TokenAuth(STATIC_TOKEN, "test-client-id"),
    ) as c:
        c.interact(EVENT)
    records = [r for r in caplog.records if r.name == "aep_edge"]
    assert any(r.levelno == logging.DEBUG and "/interact" in r.getMessage() for r in records)
    assert any(r.levelno == logging.WARNING and "retrying" in r.getMessage() for r in records)
    assert any(r.levelno == logging.INFO and "closed" in r.getMessage() for r in records)
    assert all(STATIC_TOKEN not in r.getMessage() for r in records)


def test_the_level_follows_the_logger_at_creation(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aep_edge")
    with EdgeClient("ds-test", base_url=emulator.base_url) as c:
        c.interact(EVENT)
    assert [r for r in caplog.records if r.name == "aep_edge"] == []


def test_repr_never_shows_a_secret() -> None:
    token = TokenAuth("tok-" + SECRET, "api-key-1")
    oauth = OAuth("client-1", SECRET, "openid,AdobeID", token_url="http://127.0.0.1:1/ims")
    assert SECRET not in repr(token) and "api-key-1" in repr(token)
    assert SECRET not in repr(oauth) and "client-1" in repr(oauth)
    assert "<redacted>" in repr(token) and "<redacted>" in repr(oauth)
    with EdgeClient(
        "ds-1",
        org_id=ORG_ID,
        auth=token,
        base_url="http://127.0.0.1:9",
        proxy="http://user:" + SECRET + "@127.0.0.1:3128",
    ) as c:
        text = repr(c) + repr(c._native) + str(c.__dict__.get("_summary"))
        assert SECRET not in text
        assert "ds-1" in text and "token" in text
    config = {
        "datastreamId": "ds-2",
        "orgId": ORG_ID,
        "auth": {"type": "token", "accessToken": SECRET, "apiKey": "k"},
    }
    with EdgeClient.from_config(config) as c:
        assert SECRET not in repr(c)


def test_errors_do_not_echo_the_token(emulators: dict) -> None:
    auth: Emulator = emulators["auth"]
    with EdgeClient(
        "ds-test", org_id=ORG_ID, base_url=auth.base_url, auth=TokenAuth(SECRET, "k")
    ) as c:
        with pytest.raises(AuthError) as info:
            c.interact(EVENT)
    assert info.value.code == "EXEG-0502-401"
    assert SECRET not in repr(info.value) and SECRET not in str(info.value)
    assert SECRET not in str(info.value.__dict__)
