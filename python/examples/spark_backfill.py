"""Backfill or export events beyond one machine: PySpark delivers rows to the
Edge Network, one EdgeClient per partition.

Each partition builds its own client from a small picklable config (a client
holds connections and threads, so it is never pickled), packs its rows into
``collect`` batches under the Edge Network's 64 KB body limit, and yields one
outcome per row: ``(event_id, "delivered" | "rejected", error or None)``.

    spark = SparkSession.builder.master("local[2]").getOrCreate()
    events = spark.createDataFrame(rows)                     # a column "event" holding JSON
    outcomes = backfill(events.rdd.map(lambda row: json.loads(row.event)),
                        EdgeSettings("YOUR_DATASTREAM_ID", org_id=..., access_token=..., api_key=...))
    outcomes.filter(lambda o: o[1] != "delivered").saveAsTextFile("rejected/")

Ship this module to the executors with ``spark.sparkContext.addPyFile(__file__)``
(or install it with your job's package).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from aep_edge import EdgeClient, EdgeError, TokenAuth

Outcome = Tuple[str, str, Optional[str]]
"""``(event_id, "delivered" | "rejected", error message or None)``."""

# The Edge Network refuses bodies over 64 KB; the client adds `timestamp`
# (and `_id` when absent) to every event, so leave room for them.
BATCH_BYTES = 60_000
PER_EVENT_OVERHEAD = 96


@dataclasses.dataclass(frozen=True)
class EdgeSettings:
    """What an executor needs to build its client: plain values, so it pickles."""

    datastream_id: str
    base_url: Optional[str] = None
    org_id: Optional[str] = None
    access_token: Optional[str] = None
    api_key: Optional[str] = None
    total_timeout: float = 60.0

    def client(self) -> EdgeClient:
        auth = TokenAuth(self.access_token, self.api_key) if self.access_token and self.api_key else None
        # session="none": a backfill is not one visitor; no state is kept.
        return EdgeClient(
            self.datastream_id,
            base_url=self.base_url,
            org_id=self.org_id,
            auth=auth,
            session="none",
            total_timeout=self.total_timeout,
        )


def batches(events: Iterable[Dict[str, Any]], limit: int = BATCH_BYTES) -> Iterator[List[Dict[str, Any]]]:
    """Groups events into lists whose encoded ``{"events": [...]}`` stays under ``limit`` bytes."""
    batch: List[Dict[str, Any]] = []
    size = len('{"events":[]}')
    for event in events:
        cost = len(json.dumps(event, separators=(",", ":"))) + PER_EVENT_OVERHEAD
        if batch and size + cost > limit:
            yield batch
            batch, size = [], len('{"events":[]}')
        batch.append(event)
        size += cost
    if batch:
        yield batch


def event_id(event: Dict[str, Any]) -> str:
    return str(event["xdm"]["_id"])


def deliver_partition(settings: EdgeSettings, events: Iterable[Dict[str, Any]]) -> Iterator[Outcome]:
    """The ``mapPartitions`` function: one client, batches, one outcome per row.
    Every event must carry ``xdm._id`` (the id that makes a re-run safe to dedupe)."""
    with settings.client() as client:
        for batch in batches(events):
            try:
                client.collect(batch)
            except EdgeError as e:
                for event in batch:
                    yield event_id(event), "rejected", f"{type(e).__name__}: {e}"
            else:
                for event in batch:
                    yield event_id(event), "delivered", None


def backfill(rdd: Any, settings: EdgeSettings) -> Any:
    """``rdd`` of event dicts → ``rdd`` of :data:`Outcome`."""
    return rdd.mapPartitions(lambda events: deliver_partition(settings, events))
