"""Every exception pickles and unpickles with its attributes."""

from __future__ import annotations

import multiprocessing
import pickle

import pytest

import aep_edge
from aep_edge import EdgeClient, EdgeError, HttpError

from conftest import EVENT, Emulator

CLASSES = [getattr(aep_edge, name) for name in aep_edge.__all__ if name.endswith("Error")]


def test_every_error_class_is_exported() -> None:
    assert len(CLASSES) == 13
    assert all(issubclass(c, EdgeError) for c in CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_pickle_round_trip(cls: type) -> None:
    error = cls(
        "boom",
        kind="http",
        status=503,
        code="EXEG-0000-503",
        problem={"type": "https://ns.adobe.com/aep/errors/EXEG-0000-503", "status": 503},
        retryable=True,
        retry_after=2.5,
        request_id="rid-1",
        attempts=3,
    )
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(error, protocol=protocol))
        assert type(back) is cls
        assert str(back) == "boom" and back.args == ("boom",)
        for attr in ("message", "kind", "status", "code", "problem", "retryable",
                     "retry_after", "request_id", "attempts"):
            assert getattr(back, attr) == getattr(error, attr), attr


def _raise_it(error: Exception) -> None:
    raise error


def test_a_real_error_crosses_a_process_boundary(emulators: dict) -> None:
    known: Emulator = emulators["known"]
    with EdgeClient("unknown", base_url=known.base_url) as c:
        with pytest.raises(HttpError) as info:
            c.interact(EVENT)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        with pytest.raises(HttpError) as again:
            pool.apply(_raise_it, (info.value,))
    assert again.value.code == "EXEG-0003-400"
    assert again.value.status == 400
    assert again.value.request_id == info.value.request_id
