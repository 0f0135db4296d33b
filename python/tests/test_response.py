"""A response keeps the call's result in Rust until it is read (design.md §4):
what it shows is exactly what a response built from the result dict shows,
``raw`` is one dict that can be changed, and a response pickles."""

from __future__ import annotations

import asyncio
import copy
import pickle
import re
import threading
from typing import Any, Dict, List

from aep_edge import CollectResponse, EdgeClient, InteractResponse

from conftest import EVENT, Emulator, event

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def shown(r: CollectResponse) -> Dict[str, Any]:
    """Everything a response shows but raw itself (scalars first: they are
    the ones read without building raw)."""
    view: Dict[str, Any] = {
        "status": r.status,
        "request_id": r.request_id,
        "attempts": r.attempts,
        "region": r.region,
        "elapsed": r.elapsed,
        "location_hint": r.location_hint,
    }
    view.update(
        handles=[(h.type, h.payload, h.event_index) for h in r.handles],
        errors=r.errors,
        warnings=r.warnings,
        next_state=r.next_state,
    )
    if isinstance(r, InteractResponse):
        view.update(state_entries=r.state_entries, decisions=r.decisions)
    return view


def test_a_response_shows_what_its_result_dict_shows(client: EdgeClient) -> None:
    r = client.interact(EVENT, query={"personalization": {"decisionScopes": ["home"]}})
    lazy = shown(r)
    from_dict = shown(InteractResponse(copy.deepcopy(r.raw)))
    assert lazy == from_dict
    assert lazy["status"] == 200 and lazy["attempts"] == 1
    assert lazy["request_id"] == r.raw["requestId"]
    assert lazy["region"] == r.raw["client"]["region"] and lazy["region"] is not None
    assert lazy["location_hint"] == r.raw["client"]["locationHint"]
    assert lazy["decisions"] and lazy["state_entries"]


def test_a_collect_response_shows_what_its_result_dict_shows(client: EdgeClient) -> None:
    r = client.collect([event(), event()])
    assert shown(r) == shown(CollectResponse(copy.deepcopy(r.raw)))
    assert r.status in (200, 202, 204)


def test_raw_is_one_dict_and_changes_show(client: EdgeClient) -> None:
    r = client.interact(EVENT)
    raw = r.raw
    assert isinstance(raw, dict) and r.raw is raw
    raw["client"]["httpStatus"] = 299
    raw["client"]["attempts"] = 7
    raw["requestId"] = "changed"
    raw["handle"] = []
    assert (r.status, r.attempts, r.request_id, r.handles) == (299, 7, "changed", [])
    r.raw = {"client": {"httpStatus": 204}}
    assert r.status == 204 and r.handles == []


def test_status_read_first_still_follows_raw(client: EdgeClient) -> None:
    # The status known at the call answers until raw is a dict, then raw does.
    r = client.interact(EVENT)
    assert r.status == 200
    r.raw["client"]["httpStatus"] = 299
    assert r.status == 299
    r = client.interact(EVENT, request_id="kw-path")
    assert r.status == 200
    r.raw = {"client": {"httpStatus": 204}}
    assert r.status == 204
    r = client.interact(EVENT)
    r.raw = {"client": {"httpStatus": 503}}
    assert r.status == 503
    assert CollectResponse({"client": {"httpStatus": 207}}).status == 207


def test_threads_reading_raw_get_the_same_dict(client: EdgeClient) -> None:
    for _ in range(20):
        r = client.interact(EVENT)
        seen: List[int] = []
        start = threading.Barrier(4)

        def read() -> None:
            start.wait()
            seen.append(id(r.raw))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(seen)) == 1 and seen[0] == id(r.raw)


def test_a_response_pickles_and_copies(client: EdgeClient) -> None:
    r = client.interact(EVENT)
    status = r.status  # read before raw was ever built
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(r, protocol=protocol))
        assert type(back) is InteractResponse
        assert back.raw == r.raw and back.status == status == 200
    assert copy.copy(r).raw == r.raw
    assert copy.deepcopy(r).raw == r.raw


def test_an_async_response_shows_what_its_result_dict_shows(client: EdgeClient) -> None:
    r = asyncio.run(client.interact_async(EVENT))
    assert isinstance(r, InteractResponse)
    assert shown(r) == shown(InteractResponse(copy.deepcopy(r.raw)))
    assert r.status == 200


def test_a_generated_request_id_is_a_uuid_sent_once(client: EdgeClient, emulator: Emulator) -> None:
    request = event()
    before = copy.deepcopy(request)
    r = client.interact(request)
    sent = r.raw["client"]["requestId"]
    assert UUID.match(sent), sent
    (recorded,) = emulator.requests()
    assert recorded["query"]["requestId"] == sent
    assert request == before  # the caller's event is not touched
    assert client.interact(event()).raw["client"]["requestId"] != sent
