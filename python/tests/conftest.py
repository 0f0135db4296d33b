"""Fixtures: emulators started once per session from $AEP_EDGE_EMULATOR.

The suite runs against the INSTALLED aep_edge (run-tests.sh builds and
installs the wheel); importing it from the source tree is refused below.
"""

from __future__ import annotations

import collections.abc
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

import aep_edge

SOURCE_TREE = Path(__file__).resolve().parents[1]

# The event used by every demo and doc (the product's source document).
EVENT: Dict[str, Any] = {
    "xdm": {
        "identityMap": {
            "Email_LC_SHA256": [
                {
                    "id": "0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b",
                    "primary": True,
                }
            ]
        },
        "eventType": "web.webpagedetails.pageViews",
        "web": {
            "webPageDetails": {
                "URL": "https://alloystore.dev/",
                "name": "home-demo-Home Page",
            }
        },
        "timestamp": "2021-08-09T14:09:20.859Z",
    },
    "data": {"prop1": "custom value"},
}

KNOWN_DATASTREAM = "ds-known"
ORG_ID = "53A16ACB5CC1D3760A495C99@AdobeOrg"
STATIC_TOKEN = "static-test-token-s3cr3t"
OAUTH_CLIENT = "oauth-client-1"
OAUTH_SECRET = "oauth-s3cr3t-value"


class Attributes(collections.abc.Mapping):  # type: ignore[type-arg]
    """A user's own read-only mapping."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def pytest_configure(config: Any) -> None:
    installed = Path(aep_edge.__file__).resolve()
    if SOURCE_TREE in installed.parents:
        raise pytest.UsageError(
            f"aep_edge was imported from the source tree ({installed}); "
            "run the tests against the installed wheel (python/run-tests.sh)"
        )


def emulator_binary() -> str:
    path = os.environ.get("AEP_EDGE_EMULATOR")
    if not path:
        target = os.environ.get("CARGO_TARGET_DIR") or str(SOURCE_TREE.parent / "target")
        path = str(Path(target) / "release" / "aep-edge-emulator")
    if not Path(path).is_file():
        raise pytest.UsageError(
            f"emulator binary not found at {path}: build it with "
            "`cargo build --release -p aep-edge-emulator` and set AEP_EDGE_EMULATOR"
        )
    return path


class Emulator:
    """One emulator process and its control endpoints."""

    def __init__(self, *flags: str) -> None:
        self.process = subprocess.Popen(
            [emulator_binary(), "--port", "0", "--exit-on-stdin-eof", *flags],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"the emulator printed {line!r} instead of its base URL")
        self.base_url = line

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def fault(self, **fault: Any) -> None:
        self._call("POST", "/__emulator/faults", fault)

    def requests(self) -> List[Dict[str, Any]]:
        return [
            r for r in self._call("GET", "/__emulator/requests") if "/ee/" in r.get("path", "")
        ]

    def reset(self) -> None:
        self._call("POST", "/__emulator/reset", {})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="session")
def emulators() -> Iterator[Dict[str, Emulator]]:
    started: Dict[str, Emulator] = {}
    try:
        started["open"] = Emulator()
        started["known"] = Emulator("--datastream", KNOWN_DATASTREAM)
        started["auth"] = Emulator(
            "--require-auth", "--validate-tokens", "--static-token", STATIC_TOKEN, "--org-id", ORG_ID,
            "--ims-client", f"{OAUTH_CLIENT}:{OAUTH_SECRET}",
        )
        yield started
    finally:
        for emulator in started.values():
            emulator.stop()


@pytest.fixture
def emulator(emulators: Dict[str, Emulator]) -> Emulator:
    """The plain emulator, reset before the test."""
    e = emulators["open"]
    e.reset()
    return e


@pytest.fixture
def client(emulator: Emulator) -> Iterator[aep_edge.EdgeClient]:
    c = aep_edge.EdgeClient(
        "ds-test",
        base_url=emulator.base_url,
        timeout=5.0,
        retry={"baseDelayMs": 10, "maxDelayMs": 1000},
    )
    yield c
    c.close()


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def event(**overrides: Any) -> Dict[str, Any]:
    e = json.loads(json.dumps(EVENT))
    e.update(overrides)
    return e


def wait_for(predicate: Any, timeout: float = 5.0) -> Optional[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    return None
