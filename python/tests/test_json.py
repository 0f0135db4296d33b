"""Strict JSON conversion: TypeError naming the path, before anything is sent."""

from __future__ import annotations

import datetime
import decimal
import math
from typing import Any

import pytest

from aep_edge import EdgeClient

from conftest import EVENT, Emulator, event


class Custom:
    pass


@pytest.mark.parametrize(
    "bad, path, words",
    [
        ({"xdm": {"foo": [1, 2, math.nan]}}, "event.xdm.foo[2]", "NaN"),
        ({"xdm": {"foo": math.inf}}, "event.xdm.foo", "inf"),
        ({"xdm": {"foo": -math.inf}}, "event.xdm.foo", "-inf"),
        ({"xdm": {"when": datetime.datetime(2021, 8, 9)}}, "event.xdm.when", "datetime"),
        ({"data": {"tags": {"a", "b"}}}, "event.data.tags", "set"),
        ({"data": {"raw": b"bytes"}}, "event.data.raw", "bytes"),
        ({"data": {"obj": Custom()}}, "event.data.obj", "Custom"),
        ({"data": {"price": decimal.Decimal("1.5")}}, "event.data.price", "Decimal"),
        ({"data": {1: "int key"}}, "event.data", "key"),
        ({"data": {"n": 2**64}}, "event.data.n", "64-bit"),
        ({"data": {"n": -(2**63) - 1}}, "event.data.n", "64-bit"),
        ({"data": {"list": [{"ok": 1}, {"bad": {"deep": [None, object()]}}]}},
         "event.data.list[1].bad.deep[1]", "object"),
        ({"data": {"odd key": [math.nan]}}, 'event.data["odd key"][0]', "NaN"),
    ],
)
def test_type_error_names_the_path(
    client: EdgeClient, emulator: Emulator, bad: Any, path: str, words: str
) -> None:
    with pytest.raises(TypeError) as info:
        client.interact(bad)
    message = str(info.value)
    assert message.startswith(path + ":"), message
    assert words in message
    assert emulator.requests() == []


def test_paths_in_collect_query_meta_and_state(client: EdgeClient, emulator: Emulator) -> None:
    with pytest.raises(TypeError, match=r"^events\[1\]\.xdm\.x:"):
        client.collect([event(), {"xdm": {"x": {1, 2}}}])
    with pytest.raises(TypeError, match=r"^query\.personalization:"):
        client.interact(EVENT, query={"personalization": math.nan})
    with pytest.raises(TypeError, match=r"^meta\.m\[0\]:"):
        client.interact(EVENT, meta={"m": [object()]})
    with pytest.raises(TypeError, match=r"^state=\[0\]\.value:"):  # the keyword, as the core names it
        client.interact(EVENT, state=[{"key": "k", "value": b"v"}])
    assert emulator.requests() == []


def test_cycles_are_refused(client: EdgeClient) -> None:
    loop: Any = {}
    loop["self"] = loop
    with pytest.raises(TypeError, match="nested deeper"):
        client.interact({"data": loop})


def test_values_keep_their_json_types(client: EdgeClient, emulator: Emulator) -> None:
    data = {
        "t": True,
        "f": False,
        "one": 1,
        "float": 1.5,
        "none": None,
        "big": 2**64 - 1,
        "neg": -(2**63),
        "tuple": (1, "a"),
        "unicode": "héllo ✓",
    }
    client.interact({"xdm": {}, "data": data})
    (sent,) = emulator.requests()
    got = sent["body"]["event"]["data"]
    assert got["t"] is True and got["f"] is False
    assert got["one"] == 1 and not isinstance(got["one"], bool)
    assert got["float"] == 1.5 and got["none"] is None
    assert got["big"] == 2**64 - 1 and got["neg"] == -(2**63)
    assert got["tuple"] == [1, "a"]
    assert got["unicode"] == "héllo ✓"


def test_config_values_are_checked_too() -> None:
    with pytest.raises(TypeError, match=r"^config\.timeouts\.requestMs:"):
        EdgeClient.from_config({"datastreamId": "x", "timeouts": {"requestMs": math.nan}})
