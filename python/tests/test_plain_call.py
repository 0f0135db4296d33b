"""``interact(event)`` without keywords runs end to end in the native layer
(python/src/plain_call.rs); with any keyword it takes the Python path. Both
must be the same call: the same bytes sent, the same errors in the same
words, the same kind of response, the same log records."""

from __future__ import annotations

import datetime
import logging
import pickle
import uuid
from typing import Any, Dict, List, Tuple

import pytest

from aep_edge import EdgeClient, InteractResponse, RequestError

from conftest import EVENT, Attributes, Emulator


# The source event's identity (the emulator asks for a primary one).
XDM: Dict[str, Any] = {"identityMap": EVENT["xdm"]["identityMap"], "eventType": "t"}


class EventDict(dict):  # type: ignore[type-arg]
    """A dict subclass: not the plain dict the native layer checks for."""


def both_ways(client: EdgeClient, event: Any) -> List[Tuple[str, str]]:
    """What ``interact(event)`` and ``interact(event, request_id=...)`` did:
    (exception type or "ok", message or status) for each."""
    outcomes = []
    for keywords in ({}, {"request_id": "rid-keyword-path"}):
        try:
            outcomes.append(("ok", str(client.interact(event, **keywords).status)))
        except Exception as e:  # compared below
            outcomes.append((type(e).__name__, str(e)))
    return outcomes


def sent_bodies(emulator: Emulator) -> List[Dict[str, Any]]:
    bodies = []
    for request in emulator.requests():
        body = request["body"]
        # Filled in per call: a new id, and the time when the event has none.
        body["event"]["xdm"].pop("_id", None)
        body["event"]["xdm"].pop("timestamp", None)
        bodies.append(body)
    return bodies


@pytest.mark.parametrize(
    "event",
    [
        EVENT,
        Attributes({"xdm": Attributes(XDM), "data": Attributes({"k": [1, 2.5, None]})}),
        EventDict(xdm=XDM),
        {"xdm": XDM, "data": {"s": "é \"q\" \\ \n 😀", "f": 1.0, "big": 2**64 - 1}},
    ],
    ids=["dict", "mapping", "dict-subclass", "odd-values"],
)
def test_the_plain_call_sends_what_the_keyword_path_sends(
    emulator: Emulator, event: Any
) -> None:
    with EdgeClient("ds-test", base_url=emulator.base_url, session="none") as c:
        assert both_ways(c, event) == [("ok", "200"), ("ok", "200")]
    plain, keyword = sent_bodies(emulator)
    assert plain == keyword


@pytest.mark.parametrize(
    "event",
    [
        {"event": EVENT},
        Attributes({"event": EVENT}),
        EventDict(event=EVENT),
        {"xdm": {"when": datetime.datetime(2024, 1, 1)}},
        {"xdm": {}, "data": Attributes({1: "x"})},
        {"data": {"f": float("nan")}},
        {"data": {"i": 2**64}},
        {"data": {"s": "\ud800"}},
        [EVENT],
        "not an event",
        None,
    ],
    ids=["c-shape", "c-shape-mapping", "c-shape-subclass", "datetime", "int-key", "nan", "big-int",
         "surrogate", "list", "str", "none"],
)
def test_the_plain_call_raises_what_the_keyword_path_raises(
    client: EdgeClient, emulator: Emulator, event: Any
) -> None:
    plain, keyword = both_ways(client, event)
    assert plain[0] != "ok", plain
    assert plain == keyword
    assert emulator.requests() == []


def test_a_refused_call_is_told_in_python_words(client: EdgeClient) -> None:
    with pytest.raises(RequestError, match=r"interact\(\) takes the event itself"):
        client.interact({"event": EVENT})
    with pytest.raises(TypeError, match=r"^event\.xdm\.when: a date .*isoformat"):
        client.interact({"xdm": {"when": datetime.date(2024, 1, 1)}})


def test_the_plain_call_returns_an_interact_response(client: EdgeClient) -> None:
    r = client.interact(EVENT)
    assert type(r) is InteractResponse
    assert r.status == 200 and r.attempts == 1
    sent = r.raw["client"]["requestId"]
    assert uuid.UUID(sent).version == 4
    assert r.request_id and r.handles
    copy = pickle.loads(pickle.dumps(r))
    assert type(copy) is InteractResponse and copy.raw == r.raw
    r.extra = "settable"  # type: ignore[attr-defined]
    assert r.extra == "settable"  # type: ignore[attr-defined]


def test_the_plain_call_follows_the_log_level(
    client: EdgeClient, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("aep_edge")
    saved = logger.level
    try:
        logger.setLevel(logging.ERROR)
        client.interact(EVENT)
        caplog.set_level(logging.DEBUG, logger="aep_edge")
        r = client.interact(EVENT)
        records = [x for x in caplog.records if x.name == "aep_edge"]
        assert records, "the level set between two calls was not followed"
        assert {getattr(x, "request_id") for x in records} == {r.raw["client"]["requestId"]}
    finally:
        logger.setLevel(saved)


def test_a_closed_client_refuses_the_plain_call(client: EdgeClient) -> None:
    client.close()
    both = both_ways(client, EVENT)
    assert both[0][0] == "ClientClosedError" and both[0] == both[1]


def test_interact_keeps_its_signature_and_argument_errors(client: EdgeClient) -> None:
    # interact(event) skips the keyword defaults (_client._without_keywords);
    # what Python shows of interact, and its argument errors, stay interact's.
    import inspect
    import typing

    params = inspect.signature(EdgeClient.interact).parameters
    assert list(params)[:2] == ["self", "event"]
    keywords = list(params.values())[2:]
    assert [p.name for p in keywords] == ["query", "meta", "request_id", "state", "datastream_id", "timeout",
                                          "total_timeout", "headers", "location_hint"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is None for p in keywords)
    assert typing.get_type_hints(EdgeClient.interact)["return"] is InteractResponse
    assert EdgeClient.interact.__name__ == "interact" and "/ee/v2/interact" in (EdgeClient.interact.__doc__ or "")
    calls = [
        (lambda: client.interact(), "interact() missing 1 required positional argument: 'event'"),  # type: ignore[call-arg]
        (lambda: client.interact(EVENT, None), "interact() takes 2 positional arguments but 3 were given"),  # type: ignore[misc]
        (lambda: client.interact(EVENT, nope=1), "interact() got an unexpected keyword argument 'nope'"),  # type: ignore[call-arg]
        (lambda: client.interact(EVENT, event=EVENT), "interact() got multiple values for argument 'event'"),  # type: ignore[misc]
    ]
    for call, words in calls:
        with pytest.raises(TypeError) as info:
            call()
        assert str(info.value).endswith(words), (str(info.value), words)
    assert client.interact(event=EVENT).status == 200
    assert client.interact(EVENT, query=None).status == 200
