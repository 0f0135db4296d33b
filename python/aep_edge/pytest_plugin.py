"""The pytest plugin of aep_edge (entry point ``pytest11``): the
``aep_edge_emulator`` fixture, a fresh in-process emulator for each test.

    def test_page_view_is_sent(aep_edge_emulator):
        send_page_view(base_url=aep_edge_emulator.url)
        assert len(aep_edge_emulator.requests()) == 1
"""

from __future__ import annotations

from typing import Iterator

import pytest

from .testing import Emulator

__all__ = ["aep_edge_emulator"]


@pytest.fixture
def aep_edge_emulator() -> Iterator[Emulator]:
    """An :class:`aep_edge.testing.Emulator` that accepts every datastream,
    stopped after the test."""
    with Emulator() as emulator:
        yield emulator
