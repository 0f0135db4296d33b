"""``interact(event)`` writes the body it sends while it converts the event
(python/src/event_body.rs), instead of text for the core to scan again. It
must be byte for byte what the core's text path makes of the same event, and
tell the core the same about its identity: checked here on a few thousand
generated events, and on the cases the rules name."""

from __future__ import annotations

import random
import re
from typing import Any, Optional, Tuple

import pytest

from aep_edge import _native

from conftest import EVENT, Attributes

# What the client fills in: a new UUID v4 as `_id`, the time as `timestamp`.
GENERATED = re.compile(
    rb'"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"'
    rb'|"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"'
)


def blanked(body: bytes) -> bytes:
    return GENERATED.sub(b'"<generated>"', body)


def both(event: Any) -> Tuple[Optional[Tuple[bytes, bool]], Any]:
    shaped, reference = _native._event_bodies(event)
    if shaped is not None:
        assert not isinstance(reference, str), f"the core refused what was shaped: {reference}"
        body, own = shaped
        assert (blanked(body), own) == (blanked(reference[0]), reference[1]), event
    return shaped, reference


KEYS = ["xdm", "data", "_id", "timestamp", "identityMap", "ECID", "FPID", "Email",
        "id", "primary", "web", "a", "é", 'q"uote', "back\\slash", "line\nbreak", "", "😀"]
STRINGS = ["", "x", "custom value", 'q"uote', "back\\slash", "tab\tnl\n\r\b\f", "\x00\x1f\x7f",
           "é ü 😀 \u2028", "0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b", "null"]
FLOATS = [0.0, -0.0, 0.1, 1.0, -2.5, 1e300, 1e-7, 5e-324, 1.7976931348623157e308,
          123456789012345680000.0, 1e15, 1e16, 1e21, 0.000015, 3.141592653589793]
INTS = [0, 1, -1, 2**31, -(2**63), 2**63 - 1, 2**64 - 1, 10**15]


def value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth > 0 and roll < 0.30:
        return obj(rng, depth - 1)
    if depth > 0 and roll < 0.45:
        return [value(rng, depth - 1) for _ in range(rng.randrange(4))]
    return rng.choice([None, True, False, rng.choice(INTS), rng.choice(FLOATS), rng.choice(STRINGS)])


class Key(str):
    """A str subclass: a key the key cache does not keep (written from its text)."""


def key(rng: random.Random) -> str:
    name = rng.choice(KEYS)
    return Key(name) if rng.random() < 0.2 else name


def obj(rng: random.Random, depth: int) -> Any:
    made = {key(rng): value(rng, depth) for _ in range(rng.randrange(5))}
    return dict(made) if rng.random() < 0.95 else Attributes(made)


def event(rng: random.Random) -> Any:
    """An event: mostly shaped as real ones are (an xdm with an identityMap,
    data), with the watched keys given odd values now and then."""
    out = dict(obj(rng, 2))
    if rng.random() < 0.8:
        xdm = obj(rng, 3) if rng.random() < 0.9 else value(rng, 1)
        if isinstance(xdm, dict):
            for name in ("_id", "timestamp"):
                if rng.random() < 0.3:
                    xdm[Key(name) if rng.random() < 0.3 else name] = rng.choice([None, "given", 7, {"x": 1}])
            if rng.random() < 0.6:
                xdm["identityMap"] = {
                    key(rng) if rng.random() < 0.2 else rng.choice(["ECID", "FPID", "Email"]): rng.choice(
                        [[], [{"id": "1"}], [None], "ecid", {"id": "1"}, [[]]]
                    )
                    for _ in range(rng.randrange(3))
                }
        out["xdm"] = xdm
    if rng.random() < 0.3:
        out["data"] = obj(rng, 2) if rng.random() < 0.9 else value(rng, 1)
    return out if rng.random() < 0.95 else Attributes(out)


def test_generated_events_are_written_as_the_core_writes_them() -> None:
    rng = random.Random(20261201)
    shaped = 0
    runs = 3000
    for _ in range(runs):
        if both(event(rng))[0] is not None:
            shaped += 1
    # Most take the shaped path (the rest are declined: odd xdm or data,
    # Mappings), so the comparison above is not vacuous.
    assert shaped > runs * 0.6


@pytest.mark.parametrize(
    "event, own_identity",
    [
        (EVENT, False),
        ({}, False),
        ({"xdm": {}}, False),
        ({"data": {"k": 1}}, False),
        ({"xdm": {"_id": None, "timestamp": None, "k": 1}}, False),
        ({"xdm": {"_id": "mine", "timestamp": "2020-01-01T00:00:00Z"}}, False),
        ({"xdm": {"identityMap": {"ECID": [{"id": "1"}]}}}, True),
        ({"xdm": {"identityMap": {"FPID": [{"id": "1"}]}}}, True),
        ({"xdm": {"identityMap": {"ECID": []}}}, False),
        ({"xdm": {"identityMap": {"ECID": {"id": "1"}}}}, False),
        ({"xdm": {"identityMap": [{"ECID": [1]}]}}, False),
        ({"xdm": {"identityMap": {"Email": [{"id": "1"}]}, "x": {"ECID": [1]}}}, False),
        ({"xdm": {"web": {"identityMap": {"ECID": [1]}}}}, False),
        ({"data": {"xdm": {"identityMap": {"ECID": [1]}}}}, False),
    ],
)
def test_the_rules_are_the_cores(event: Any, own_identity: bool) -> None:
    shaped, reference = both(event)
    assert shaped is not None
    assert shaped[1] is own_identity


def nested(levels: int) -> Any:
    inner: Any = 1
    for _ in range(levels):
        inner = {"n": inner}
    return inner


@pytest.mark.parametrize(
    "event",
    [
        [1],
        "text",
        None,
        {"xdm": None},
        {"xdm": [1]},
        {"data": "text"},
        {"data": None},
        Attributes({"xdm": {}}),
        {"xdm": Attributes({"a": 1})},
        {"data": nested(40)},
        {"data": {"big": "x" * (1024 * 1024)}},
    ],
    ids=["list", "str", "none", "null-xdm", "list-xdm", "str-data", "null-data", "mapping",
         "mapping-xdm", "deep", "over-1-MiB"],
)
def test_what_the_rules_do_not_cover_takes_the_text_path(event: Any) -> None:
    shaped, _ = both(event)
    assert shaped is None


def test_conversion_errors_are_raised_before_anything_else() -> None:
    with pytest.raises(TypeError, match=r"^event\.data\.when: a datetime"):
        import datetime

        _native._event_bodies({"xdm": {}, "data": {"when": datetime.datetime(2024, 1, 1)}})
