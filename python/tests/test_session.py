"""Session features of the core, reached through EdgeClient: device state,
consent, reset, the state file, OAuth and token replacement."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest

from aep_edge import AuthError, ConsentError, EdgeClient, OAuth, TokenAuth

from conftest import (EVENT, OAUTH_CLIENT, OAUTH_SECRET, ORG_ID, STATIC_TOKEN, Emulator,
                      event)


def test_device_session_keeps_and_sends_state(client: EdgeClient, emulator: Emulator) -> None:
    first = client.interact(EVENT)
    assert client.session["ecid"]
    client.interact(EVENT)
    sent = emulator.requests()
    echoed = {e["key"] for e in sent[1]["body"]["meta"]["state"]["entries"]}
    assert echoed >= {e["key"] for e in first.state_entries}
    client.reset_session()
    assert not client.session.get("ecid")


def test_consent_out_gates_collect(client: EdgeClient, emulator: Emulator) -> None:
    client.interact(EVENT)
    r = client.set_consent(
        {"standard": "Adobe", "version": "2.0", "value": {"collect": {"val": "n"}}}
    )
    assert r.status in (200, 204)
    with pytest.raises(ConsentError) as info:
        client.collect([event()])
    assert info.value.kind == "consent_denied"
    assert all("/collect" not in s["path"] for s in emulator.requests())


def test_state_path_keeps_the_session_across_clients(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    with EdgeClient("ds-test", base_url=emulator.base_url, state_path=path) as c:
        c.interact(EVENT)
        ecid = c.session["ecid"]
    assert path.exists()
    with EdgeClient("ds-test", base_url=emulator.base_url, state_path=str(path)) as c:
        assert c.session["ecid"] == ecid


def test_oauth_fetches_a_token(emulators: Dict[str, Emulator]) -> None:
    auth = emulators["auth"]
    auth.reset()
    oauth = OAuth(OAUTH_CLIENT, OAUTH_SECRET, "openid,AdobeID",
                  token_url=auth.base_url + "/ims/token/v3")
    with EdgeClient("ds-test", org_id=ORG_ID, base_url=auth.base_url, auth=oauth) as c:
        assert c.interact(EVENT).status == 200
        assert OAUTH_SECRET not in repr(c)


def test_set_access_token_replaces_a_bad_token(emulators: Dict[str, Emulator]) -> None:
    auth = emulators["auth"]
    with EdgeClient(
        "ds-test", org_id=ORG_ID, base_url=auth.base_url, auth=TokenAuth("expired", "k")
    ) as c:
        with pytest.raises(AuthError):
            c.interact(EVENT)
        c.set_access_token(STATIC_TOKEN)
        assert c.interact(EVENT).status == 200
