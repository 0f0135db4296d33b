"""Server-side visitors and propositions (design.md §3.8, §3.9, §4.1) through
the installed wheel against the emulator."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List

import pytest

import aep_edge
from aep_edge import EdgeClient, InteractResponse, Proposition, RequestError, display_event, interact_event
from conftest import ORG_ID, SOURCE_TREE, Emulator, event

FIXTURES = SOURCE_TREE.parent / "tests" / "fixtures"
IDENTITY_KEY = "kndctr_" + ORG_ID.replace("@", "_") + "_identity"
CLUSTER_KEY = "kndctr_" + ORG_ID.replace("@", "_") + "_cluster"


def fixture(name: str) -> Dict[str, Any]:
    data: Dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def ecid_of(r: InteractResponse) -> str:
    (handle,) = r.handles_of_type("identity:result")
    ecid: str = handle.payload[0]["id"]
    return ecid


@pytest.fixture
def server(emulator: Emulator) -> Any:
    c = EdgeClient("ds-test", base_url=emulator.base_url, session="none", org_id=ORG_ID, timeout=5.0)
    yield c
    c.close()


def test_the_server_pattern_keeps_one_anonymous_visitor_over_five_visits(
    server: EdgeClient, emulator: Emulator
) -> None:
    visitor: Dict[str, Any] = {}  # what a web framework keeps per visitor (session, cookie)
    ecids: List[str] = []
    for visit in range(5):
        r = server.interact(
            {"xdm": {"eventType": "web.webpagedetails.pageViews"}},
            query={"identity": {"fetch": ["ECID"]}},
            state=visitor.get("edge_state"),
            headers={"User-Agent": f"Visitor/{visit}", "X-Forwarded-For": "203.0.113.9"},
        )
        visitor["edge_state"] = r.next_state
        ecids.append(ecid_of(r))
        assert r.location_hint == "or2"
        keys = {e["key"] for e in r.next_state}
        assert IDENTITY_KEY in keys and CLUSTER_KEY in keys, f"visit {visit}: {keys}"
        assert all(isinstance(e.get("expiresAt"), int) for e in r.next_state)
    assert len(set(ecids)) == 1, ecids
    sent = emulator.requests()
    assert [r["headers"]["user-agent"] for r in sent] == [f"Visitor/{i}" for i in range(5)]
    assert sent[4]["headers"]["x-forwarded-for"] == "203.0.113.9"
    # From the second visit on, the visitor's cluster entry routes the call.
    assert [r["path"] for r in sent] == ["/ee/v2/interact"] + ["/ee/or2/v2/interact"] * 4


def test_state_entries_alone_lose_the_identity_that_next_state_keeps(server: EdgeClient) -> None:
    first = server.interact({"xdm": {}}, query={"identity": {"fetch": ["ECID"]}})
    second = server.interact({"xdm": {}}, state=first.next_state)
    assert IDENTITY_KEY not in {e["key"] for e in second.state_entries}, "the Edge sent only what changed"
    assert IDENTITY_KEY in {e["key"] for e in second.next_state}


def test_location_hint_and_headers_keywords(server: EdgeClient, emulator: Emulator) -> None:
    r = server.interact(event(), location_hint="irl1", headers={"Accept-Language": "ga-IE"})
    assert r.location_hint == "irl1"
    c = server.collect([event()], location_hint="va6")
    assert c.location_hint is None
    sent = emulator.requests()
    assert [s["path"] for s in sent] == ["/ee/irl1/v2/interact", "/ee/va6/v2/collect"]
    assert sent[0]["headers"]["accept-language"] == "ga-IE"
    with pytest.raises(RequestError, match=r"^headers=\['Cookie'\] is not a visitor context header"):
        server.interact(event(), headers={"Cookie": "a=b"})
    with pytest.raises(RequestError, match=r"^location_hint= must be"):
        server.interact(event(), location_hint="or2.evil.example")
    assert len(emulator.requests()) == 2, "refused calls send nothing"


def test_propositions_of_a_real_response_make_the_documented_events() -> None:
    raw = fixture("response-interact-200-target-json-offer.json")
    r = InteractResponse(raw)
    (p,) = r.propositions
    given = raw["handle"][0]["payload"][0]
    assert isinstance(p, Proposition)
    assert (p.id, p.scope, p.scope_details) == (given["id"], given["scope"], given["scopeDetails"])
    assert p.items == given["items"] and p.items[0]["data"]["content"]["platform"] == "server"

    shown = display_event(r.propositions)
    assert shown == {
        "xdm": {
            "eventType": "decisioning.propositionDisplay",
            "_experience": {
                "decisioning": {
                    "propositions": [
                        {"id": given["id"], "scope": "serverapimbox", "scopeDetails": given["scopeDetails"]}
                    ],
                    "propositionEventType": {"display": 1},
                }
            },
        }
    }
    # Dicts straight from a handle work too, and several at once.
    od = fixture("response-interact-200-offer-decisioning.json")
    payload = [p for h in od["handle"] if h["type"] == "personalization:decisions" for p in h["payload"]]
    reported = display_event(payload)["xdm"]["_experience"]["decisioning"]["propositions"]
    assert [(x["id"], x["scope"]) for x in reported] == [(x["id"], x["scope"]) for x in payload]

    clicked = interact_event(p, label="Buy now", tokens=["t-1"])
    decisioning = clicked["xdm"]["_experience"]["decisioning"]
    assert clicked["xdm"]["eventType"] == "decisioning.propositionInteract"
    assert decisioning["propositionEventType"] == {"interact": 1}
    assert decisioning["propositionAction"] == {"label": "Buy now", "tokens": ["t-1"]}
    assert "propositionAction" not in interact_event(p)["xdm"]["_experience"]["decisioning"]

    with pytest.raises(RequestError, match="propositions must not be empty"):
        display_event([])
    with pytest.raises(RequestError, match=r"propositions\[0\]\.id"):
        display_event([{"scope": "s"}])
    with pytest.raises(TypeError):
        display_event("not a proposition")  # type: ignore[arg-type]


def test_notify_display_reports_what_was_shown_for_the_same_visitor(
    server: EdgeClient, emulator: Emulator
) -> None:
    r = server.interact(
        {"xdm": {}},
        query={"identity": {"fetch": ["ECID"]}, "personalization": {"decisionScopes": ["hero"]}},
    )
    assert r.propositions and r.propositions[0].scope == "hero"
    event_id = server.notify_display(r, headers={"User-Agent": "Visitor/1"})
    assert isinstance(event_id, str) and event_id
    server.flush(timeout=10)  # notify_display queues the event (send); flush delivers it
    assert server.stats().delivered == 1
    sent = emulator.requests()[-1]
    assert sent["path"] == f"/ee/{r.location_hint}/v2/collect"
    (event,) = sent["body"]["events"]
    assert event["xdm"]["_id"] == event_id
    assert event["xdm"]["eventType"] == "decisioning.propositionDisplay"
    assert event["xdm"]["_experience"]["decisioning"]["propositions"][0]["id"] == r.propositions[0].id
    keys = {e["key"] for e in sent["body"]["meta"]["state"]["entries"]}
    assert IDENTITY_KEY in keys, "the visitor's state went along"
    assert sent["headers"]["user-agent"] == "Visitor/1"


def test_the_names_are_exported() -> None:
    for name in ("Proposition", "StateEntry", "display_event", "interact_event"):
        assert name in aep_edge.__all__ and hasattr(aep_edge, name)


def test_the_root_readme_server_example_runs(emulator: Emulator) -> None:
    readme = (SOURCE_TREE.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Server-side use", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    code = code.replace('EdgeClient("YOUR_DATASTREAM_ID",', f'EdgeClient("ds", base_url="{emulator.base_url}",')
    code = code.replace("YOUR_ORG_ID@AdobeOrg", ORG_ID)
    namespace: Dict[str, Any] = {}
    exec(compile(code, "README.md Server-side use", "exec"), namespace)
    visitor: Dict[str, Any] = {}
    browser = {"User-Agent": "Mozilla/5.0 (Visitor)", "Accept-Language": "en-GB", "Cookie": "not forwarded"}
    pages = [namespace["render_home"](visitor, browser, "198.51.100.23") for _ in range(3)]
    namespace["client"].close(timeout=10)  # delivers the queued display events
    assert pages == ["<h1>emulated offer for home-hero</h1>"] * 3
    assert IDENTITY_KEY in {e["key"] for e in visitor["edge_state"]}
    sent = emulator.requests()
    interacts = [s for s in sent if s["path"].endswith("/interact")]
    collects = [s for s in sent if s["path"].endswith("/collect")]
    assert len(interacts) == 3 and len(interacts) + len(collects) == len(sent)
    shown = [e for s in collects for e in s["body"]["events"]]
    assert [e["xdm"]["eventType"] for e in shown] == ["decisioning.propositionDisplay"] * 3
    identities = {
        e["value"] for s in sent[1:] for e in s["body"]["meta"]["state"]["entries"] if e["key"] == IDENTITY_KEY
    }
    assert len(identities) == 1, "one visitor throughout"
    assert all(s["headers"]["user-agent"] == "Mozilla/5.0 (Visitor)" for s in sent)
    assert all(s["headers"]["x-forwarded-for"] == "198.51.100.23" for s in sent)
    assert all("cookie" not in s["headers"] for s in sent)


def test_constructor_keywords_for_servers(emulator: Emulator) -> None:
    with EdgeClient("ds", base_url=emulator.base_url, session="none", headers={"Accept-Language": "nl-NL"},
                    hint_routing="off", edge_base_path="ee-pre-prd") as c:
        try:
            c.interact(event(), location_hint="irl1")
        except aep_edge.HttpError:
            pass  # an emulator without a staging path answers 404; the path sent is what counts
    (sent,) = emulator._call("GET", "/__emulator/requests")  # requests() lists /ee/ paths only
    assert sent["path"] == "/ee-pre-prd/v2/interact"
    assert sent["headers"]["accept-language"] == "nl-NL"
    with pytest.raises(aep_edge.ConfigError, match=r"^headers=\['Authorization'\] is not"):
        EdgeClient("ds", headers={"Authorization": "Bearer x"})
    with pytest.raises(aep_edge.ConfigError, match="hint_routing="):
        EdgeClient("ds", hint_routing="sideways")
