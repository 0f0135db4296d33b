"""Successful calls against the emulator: typed results and what was sent."""

from __future__ import annotations

import aep_edge
from aep_edge import CollectResponse, EdgeClient, Handle, InteractResponse

from conftest import EVENT, Emulator, event


def test_interact_returns_personalization_decisions(client: EdgeClient) -> None:
    r = client.interact(EVENT, query={"personalization": {"decisionScopes": ["home", "cart"]}})
    assert isinstance(r, InteractResponse)
    assert r.status == 200
    assert r.attempts == 1
    assert r.errors == [] and r.warnings == []
    decisions = r.handles_of_type("personalization:decisions")
    assert len(decisions) == 1 and isinstance(decisions[0], Handle)
    scopes = sorted(p["scope"] for p in decisions[0].payload)
    assert scopes == ["cart", "home"]
    assert decisions[0].event_index == 0
    assert [p["scope"] for p in r.decisions] == [p["scope"] for p in decisions[0].payload]
    assert all(isinstance(h, Handle) for h in r.handles)
    assert {h.type for h in r.handles} >= {"personalization:decisions", "state:store"}
    assert r.raw["client"]["httpStatus"] == 200
    assert r.region is not None


def test_request_id_is_the_servers_and_the_sent_one_is_in_raw(client: EdgeClient) -> None:
    r = client.interact(EVENT, request_id="my-request-1")
    assert r.raw["client"]["requestId"] == "my-request-1"
    assert r.request_id is not None and r.request_id.startswith("my-request-1")
    assert r.request_id == r.raw["requestId"]


def test_event_index_defaults_to_zero(client: EdgeClient) -> None:
    r = client.interact(EVENT)
    hint = r.handles_of_type("locationHint:result")
    assert hint and all(h.event_index == 0 for h in hint)
    assert r.handles_of_type("no:such:type") == []
    assert Handle("a", 1) == Handle("a", 1, 0)


def test_state_entries_are_dicts_with_key_value_and_max_age(client: EdgeClient) -> None:
    r = client.interact(EVENT)
    entries = r.state_entries
    assert entries, "the emulator sends state:store entries"
    for e in entries:
        assert set(e) <= {"key", "value", "maxAge"}
        assert isinstance(e["key"], str)
    assert any("maxAge" in e for e in entries)


def test_server_pattern_passes_state_back(emulator: Emulator) -> None:
    with EdgeClient("ds-test", base_url=emulator.base_url, session="none") as server:
        first = server.interact(EVENT)
        kept = first.state_entries
        server.interact(EVENT, state=kept)
    sent = emulator.requests()
    assert "meta" not in sent[0]["body"] or not sent[0]["body"]["meta"].get("state")
    entries = sent[1]["body"]["meta"]["state"]["entries"]
    assert [(e["key"], e["value"]) for e in entries] == [(e["key"], e["value"]) for e in kept]


def test_collect_posts_a_batch(client: EdgeClient, emulator: Emulator) -> None:
    r = client.collect([event(), event()], request_id="batch-1")
    assert isinstance(r, CollectResponse)
    assert r.status in (200, 202)
    assert r.request_id is not None
    assert r.handles == [] and r.errors == [] and r.warnings == []
    (sent,) = emulator.requests()
    assert sent["path"].endswith("/v2/collect")
    assert len(sent["body"]["events"]) == 2


def test_keywords_reach_the_request(client: EdgeClient, emulator: Emulator) -> None:
    client.interact(
        EVENT,
        query={"identity": {"fetch": ["ECID"]}},
        meta={"target": {"mbox": "x"}},
        datastream_id="other-ds",
    )
    (sent,) = emulator.requests()
    assert sent["query"]["dataStreamId"] == "other-ds"
    assert sent["body"]["meta"]["target"] == {"mbox": "x"}
    assert "options" not in sent["body"]
    assert sent["body"]["event"]["xdm"]["eventType"] == "web.webpagedetails.pageViews"
    assert sent["body"]["event"]["xdm"]["identityMap"]["Email_LC_SHA256"][0]["primary"] is True


def test_from_config_takes_the_c_config(emulator: Emulator) -> None:
    with EdgeClient.from_config(
        {"datastreamId": "ds-test", "baseUrl": emulator.base_url, "timeouts": {"requestMs": 2000}}
    ) as c:
        assert c.interact(EVENT).status == 200
        assert not c.closed
    assert c.closed


def test_context_manager_closes(emulator: Emulator) -> None:
    with EdgeClient("ds-test", base_url=emulator.base_url) as c:
        pass
    assert c.closed
    report = c.close(timeout=1.0)
    assert report.in_flight == 0


def test_version() -> None:
    assert aep_edge.__version__.count(".") == 2
    assert aep_edge.core_version().count(".") == 2
