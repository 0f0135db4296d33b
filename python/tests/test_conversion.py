"""Forgiving conversion (design.md §4.1): any Mapping and non-str Sequence
converts; dataclasses and pydantic models are told what to call; the C
request shape given as an event is refused."""

from __future__ import annotations

import collections
import dataclasses
import types
from typing import Any, Dict

import pydantic
import pytest

from aep_edge import EdgeClient, RequestError

from conftest import EVENT, Attributes, Emulator


def sent_event(emulator: Emulator) -> Dict[str, Any]:
    (request,) = emulator.requests()
    return request["body"]["event"]  # type: ignore[no-any-return]


def test_any_mapping_and_sequence_converts(client: EdgeClient, emulator: Emulator) -> None:
    event = types.MappingProxyType(
        {
            "xdm": Attributes({"eventType": "commerce.productViews", "tags": collections.UserList(["a", "b"])}),
            "data": collections.OrderedDict(prices=(1, 2.5), nested=collections.ChainMap({"k": "v"})),
        }
    )
    assert client.interact(event).status == 200
    sent = sent_event(emulator)
    assert sent["xdm"]["eventType"] == "commerce.productViews"
    assert sent["xdm"]["tags"] == ["a", "b"]
    assert sent["data"] == {"prices": [1, 2.5], "nested": {"k": "v"}}


def test_mapping_keys_must_be_str(client: EdgeClient, emulator: Emulator) -> None:
    with pytest.raises(TypeError, match=r"^event\.data: the key 1 is a int"):
        client.interact({"xdm": {}, "data": Attributes({1: "x"})})  # type: ignore[dict-item]
    assert emulator.requests() == []


def test_text_and_bytes_are_not_sequences(client: EdgeClient, emulator: Emulator) -> None:
    with pytest.raises(TypeError, match=r"^event\.data\.raw: a bytearray"):
        client.interact({"data": {"raw": bytearray(b"ab")}})
    client.interact({"data": {"s": "text"}})
    assert sent_event(emulator)["data"] == {"s": "text"}


@dataclasses.dataclass
class Product:
    sku: str


class Order(pydantic.BaseModel):
    id: str


def test_dataclass_is_told_to_use_asdict(client: EdgeClient, emulator: Emulator) -> None:
    with pytest.raises(TypeError, match=r"^event\.data\.product: a Product .*dataclasses\.asdict"):
        client.interact({"data": {"product": Product("s-1")}})
    assert emulator.requests() == []


def test_pydantic_model_is_told_to_use_model_dump(client: EdgeClient, emulator: Emulator) -> None:
    with pytest.raises(TypeError, match=r"^event\.data\.order: a Order .*model_dump"):
        client.interact({"data": {"order": Order(id="o-1")}})
    with pytest.raises(TypeError, match=r"model_dump"):
        client.interact(Order(id="o-2"))  # type: ignore[arg-type]
    assert emulator.requests() == []


def test_the_c_request_shape_is_refused_with_the_fix(client: EdgeClient, emulator: Emulator) -> None:
    with pytest.raises(RequestError, match=r"interact\(\) takes the event itself.*request\['event'\]"):
        client.interact({"event": EVENT, "query": {}})
    with pytest.raises(RequestError, match=r"events\[1\] is the C request shape"):
        client.collect([EVENT, {"event": EVENT}])
    with pytest.raises(RequestError, match=r"pass request\['events'\]"):
        client.collect({"events": [EVENT]})  # type: ignore[arg-type]
    assert emulator.requests() == []


def test_the_request_text_keeps_every_value(client: EdgeClient, emulator: Emulator) -> None:
    # The blocking calls write the request as JSON text straight from the
    # Python objects: escapes, floats that look like ints, the 64-bit edges.
    data = {
        "quote\"back\\slash": "line\nfeed\ttab\r\x00\x1f\x7f\b\f é 😀 \u2028",
        "floats": [1.0, -0.0, 0.1, 1e300, -2.5e-300, 1e16, 123456789.125],
        "ints": [0, -1, 2**63 - 1, -(2**63), 2**64 - 1, True, False, None],
        "nested": ({"a": []}, {}, [[]]),
        "": "empty key",
    }
    assert client.interact({"xdm": {"eventType": "t"}, "data": data}).status == 200
    sent = sent_event(emulator)["data"]
    assert sent == {**data, "nested": [{"a": []}, {}, [[]]]}
    assert [type(x) for x in sent["floats"]] == [float] * 7
    assert [type(x) for x in sent["ints"][:5]] == [int] * 5
    assert list(sent) == list(data)



def test_every_escape_is_found_at_every_position(client: EdgeClient, emulator: Emulator) -> None:
    # The writer scans strings eight bytes at a time: each byte JSON escapes
    # (and its neighbours 0x1f/0x20, 0x21/0x23, 0x5b/0x5d), at every offset of
    # a chunk and of the tail, beside multi-byte UTF-8.
    specials = ['"', "\\", "\x00", "\x1f", "\x7f", " ", "!", "#", "[", "]", "\n", "é", "😀"]
    data = {f"k{c}{i}": "a" * i + c + "b" * (16 - i) + "é" * (i % 3) for c in specials for i in range(17)}
    assert client.interact({"xdm": {"eventType": "t"}, "data": data}).status == 200
    assert sent_event(emulator)["data"] == data


def test_keys_are_written_the_same_call_after_call(client: EdgeClient, emulator: Emulator) -> None:
    # The writer keeps the JSON text of keys it met (python/src/key_cache.rs):
    # the same objects, equal text in new objects (json.loads), escapes, long
    # keys, more keys than it keeps, and a conversion nested in another
    # (a Mapping whose methods convert too) all give the same bytes each time.
    import json

    class Converting(Attributes):
        def __getitem__(self, key: str) -> Any:
            aep_edge_native.to_json({"inner \"key\"": [key]})
            return super().__getitem__(key)

    from aep_edge import _native as aep_edge_native

    data: Dict[str, Any] = {
        "plain": 1,
        "quote\"back\\slash\nline\x01": "v",
        "é 😀": True,
        "long " * 40: None,
        "nested": {f"k{i}\t": i for i in range(700)},
        "mapping": Converting({"inner \"key\"": "x", "plain": 2}),
    }
    expected = {**data, "mapping": {"inner \"key\"": "x", "plain": 2}}
    for copy in (False, False, True, True):
        emulator.reset()
        sent = json.loads(json.dumps(data, default=dict)) if copy else data
        if copy:
            sent["mapping"] = Converting(sent["mapping"])
        assert client.interact({"xdm": {"eventType": "t"}, "data": sent}).status == 200
        assert sent_event(emulator)["data"] == expected
