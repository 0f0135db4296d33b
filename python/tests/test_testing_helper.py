"""aep_edge.testing.Emulator and the aep_edge_emulator pytest fixture: the
emulator from the wheel, in this process, on threads."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from aep_edge import EdgeClient, HttpError, TransportError
from aep_edge.testing import Emulator

from conftest import EVENT


def child_pids() -> list:
    try:
        return [int(p) for p in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()]
    except OSError:
        return []


def test_emulator_runs_in_process_and_records(tmp_path: Path) -> None:
    before = child_pids()
    with Emulator() as edge:
        assert edge.url.startswith("http://127.0.0.1:")
        assert child_pids() == before, "no child process"
        with EdgeClient("my-ds", base_url=edge.url) as client:
            r = client.interact(EVENT, request_id="rid-t-1")
        assert r.status == 200 and r.request_id and r.request_id.startswith("rid-t-1")
        (request,) = edge.requests()
        assert request["method"] == "POST" and request["path"] == "/ee/v2/interact"
        assert request["query"]["requestId"] == "rid-t-1"
        assert request["body"]["event"]["xdm"]["eventType"] == EVENT["xdm"]["eventType"]
        assert request["status"] == 200
        edge.reset()
        assert edge.requests() == []
    assert not edge.running
    with pytest.raises(ValueError, match="stopped"):
        edge.requests()


def test_faults_use_the_emulator_fields() -> None:
    with Emulator() as edge, EdgeClient("ds", base_url=edge.url, retry={"maxAttempts": 1}) as client:
        edge.fault({"status": 503, "count": 1, "pathContains": "/interact"})
        with pytest.raises(HttpError) as info:
            client.interact(EVENT)
        assert info.value.status == 503
        edge.fault([{"reset": True}])
        with pytest.raises(TransportError):
            client.interact(EVENT)
        with pytest.raises(ValueError, match="unknown fault key 'stauts'"):
            edge.fault({"stauts": 503})  # type: ignore[typeddict-unknown-key]
        assert [r["status"] for r in edge.requests()] == [503, 0]


def test_options_known_datastreams() -> None:
    with Emulator(datastreams=["ds-1"]) as edge, EdgeClient("ds-2", base_url=edge.url) as client:
        with pytest.raises(HttpError) as info:
            client.interact(EVENT)
        assert info.value.code == "EXEG-0003-400"


def test_stop_joins_the_emulator_threads() -> None:
    before = threading.active_count()
    edge = Emulator()
    with EdgeClient("ds", base_url=edge.url) as client:
        client.interact(EVENT)
    edge.stop()
    edge.stop()  # idempotent
    with pytest.raises(TransportError):
        with EdgeClient("ds", base_url=edge.url, retry={"maxAttempts": 1}) as client:
            client.interact(EVENT)
    assert threading.active_count() == before  # Rust threads are not Python threads either way


# The README's example: a user's function and its test, run by pytest with the
# fixture from the installed plugin (no conftest of ours).
USER_CODE = '''
from aep_edge import EdgeClient

def track_purchase(base_url: str, order_id: str, total: float) -> str:
    with EdgeClient("shop-datastream", base_url=base_url) as client:
        r = client.interact({"xdm": {"eventType": "commerce.purchases",
                                     "commerce": {"order": {"purchaseID": order_id, "priceTotal": total}}}})
        return r.request_id or ""
'''

USER_TEST = '''
from shop import track_purchase

def test_track_purchase_sends_the_order(aep_edge_emulator):
    assert track_purchase(aep_edge_emulator.url, "o-42", 19.99)
    (request,) = aep_edge_emulator.requests()
    assert request["path"] == "/ee/v2/interact"
    order = request["body"]["event"]["xdm"]["commerce"]["order"]
    assert order == {"purchaseID": "o-42", "priceTotal": 19.99}

def test_track_purchase_survives_a_busy_edge(aep_edge_emulator):
    aep_edge_emulator.fault({"status": 503, "retryAfter": "0"})
    assert track_purchase(aep_edge_emulator.url, "o-43", 5.0)
    assert [r["status"] for r in aep_edge_emulator.requests()] == [503, 200]
'''


def test_the_pytest_plugin_gives_users_a_fixture(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(textwrap.dedent(USER_CODE))
    (tmp_path / "test_shop.py").write_text(textwrap.dedent(USER_TEST))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_events_without_identity_need_lenient_identity() -> None:
    anonymous = {"xdm": {"eventType": "web.webpagedetails.pageViews"}}
    with Emulator() as strict, EdgeClient("ds", base_url=strict.url, session="none") as client:
        with pytest.raises(HttpError) as info:
            client.interact(anonymous)
        assert info.value.code == "EXEG-0306-400"
    with Emulator(lenient_identity=True) as lenient, EdgeClient("ds", base_url=lenient.url, session="none") as client:
        assert client.interact(anonymous).status == 200
