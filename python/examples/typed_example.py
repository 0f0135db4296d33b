"""A typed program using aep_edge the way an application does.

The test suite checks it with ``mypy --strict`` and ``pyright`` in strict
mode (python/tests/test_typing.py); it also runs against the emulator.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Dict, List, Optional

from aep_edge import (
    ClientFacts,
    EdgeClient,
    EdgeError,
    Event,
    Handle,
    HttpError,
    InteractResponse,
    LocationHint,
    Problem,
    PropositionPayload,
    RetrySettings,
    SessionMode,
    SessionView,
    StateEntries,
    StoreEntry,
    TokenAuth,
)
from aep_edge.testing import Emulator, FaultSpec, RecordedRequest

RETRY: RetrySettings = {"maxAttempts": 2, "baseDelayMs": 10}
MODE: SessionMode = "none"


def page_view(url: str, visitor_id: str = "visitor-1") -> Event:
    return {
        "xdm": {
            "eventType": "web.webpagedetails.pageViews",
            "identityMap": {"FPID": [{"id": visitor_id, "primary": True}]},
            "web": {"webPageDetails": {"URL": url}},
        }
    }


def offers(r: InteractResponse) -> List[str]:
    contents: List[str] = []
    handles: List[Handle[List[PropositionPayload]]] = r.handles_of_type("personalization:decisions")
    for handle in handles:
        for proposition in handle.payload:
            scope: Optional[str] = proposition.get("scope")
            for item in proposition.get("items", []):
                contents.append(f"{scope}: {item.get('data', {}).get('content')}")
    return contents


def visit(client: EdgeClient, visitor: Dict[str, StateEntries], visitor_id: str) -> List[str]:
    try:
        r = client.interact(
            page_view("https://example.com/", visitor_id),
            state=visitor.get(visitor_id),
            query={"personalization": {"decisionScopes": ["home"]}},
            timeout=2.0,
            total_timeout=5.0,
        )
    except HttpError as e:
        problem: Optional[Problem] = e.problem
        after: Optional[float] = e.retry_after
        print("refused", e.status, e.code, problem and problem.get("title"), after, file=sys.stderr)
        return []
    except EdgeError as e:
        print(type(e).__name__, e.kind, e.request_id, file=sys.stderr)
        return []
    entries: List[StoreEntry] = r.state_entries
    if entries:
        visitor[visitor_id] = entries
    hints: List[LocationHint] = r.location_hints
    facts: ClientFacts = r.raw["client"]
    print(r.status, facts.get("attempts"), [h.get("hint") for h in hints])
    return offers(r)


async def visit_async(client: EdgeClient) -> int:
    r = await client.interact_async(page_view("https://example.com/async"))
    return r.status


def main() -> None:
    with Emulator() as edge:
        visitors: Dict[str, StateEntries] = {}
        with EdgeClient("ds", base_url=edge.url, session=MODE, retry=RETRY, tls_roots="bundled") as client:
            print(visit(client, visitors, "v-1"))
            print(visit(client, visitors, "v-1"))
            print(asyncio.run(visit_async(client)))
            session: SessionView = client.session
            print(session.get("session"))
            fault: FaultSpec = {"status": 503, "count": 2, "retryAfter": "0"}
            edge.fault(fault)
            print(visit(client, visitors, "v-2"))
        recorded: List[RecordedRequest] = edge.requests()
        print(len(recorded), recorded[0]["path"])
        auth = TokenAuth("token", "api-key")
        print(repr(auth))


if __name__ == "__main__":
    main()
