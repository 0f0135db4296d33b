"""PySpark bulk delivery (examples/spark_backfill.py): 10 000 events from
local[2] executors to the in-process emulator; every _id arrives once."""

from __future__ import annotations

import collections
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from pyspark.sql import SparkSession

from aep_edge.testing import Emulator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "spark_backfill.py"
sys.path.insert(0, str(EXAMPLE.parent))

import spark_backfill  # noqa: E402

EVENTS = 10_000


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("aep-edge-backfill-test")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    session.sparkContext.addPyFile(str(EXAMPLE))
    try:
        yield session
    finally:
        session.stop()


def make_event(i: int) -> Dict[str, Any]:
    return {
        "xdm": {
            "_id": f"backfill-{i:05d}",
            "eventType": "commerce.purchases",
            "identityMap": {"FPID": [{"id": f"customer-{i % 97}", "primary": True}]},
            "timestamp": "2024-01-01T00:00:00.000Z",
            "commerce": {"order": {"purchaseID": f"order-{i}", "priceTotal": i / 100}},
        },
        "data": {"row": i},
    }


def collected_ids(edge: Emulator) -> List[str]:
    ids: List[str] = []
    for request in edge.requests():
        assert request["path"] == "/ee/v2/collect", request["path"]
        assert len(json.dumps(request["body"]).encode()) < 64 * 1024
        ids.extend(event["xdm"]["_id"] for event in request["body"]["events"])
    return ids


def test_ten_thousand_events_arrive_once_each(spark: SparkSession) -> None:
    with Emulator() as edge:
        settings = spark_backfill.EdgeSettings("backfill-ds", base_url=edge.url)
        rows = spark.sparkContext.parallelize([make_event(i) for i in range(EVENTS)], 4)
        outcomes = spark_backfill.backfill(rows, settings).collect()

        assert len(outcomes) == EVENTS
        assert collections.Counter(o[1] for o in outcomes) == {"delivered": EVENTS}
        ids = collected_ids(edge)
        duplicates = [i for i, n in collections.Counter(ids).items() if n > 1]
        assert duplicates == []
        assert set(ids) == {f"backfill-{i:05d}" for i in range(EVENTS)}
        assert len(edge.requests()) >= EVENTS // 500  # batched, not one request per row


def test_rejected_batches_are_reported_per_row(spark: SparkSession) -> None:
    with Emulator(datastreams=["another-ds"]) as edge:
        settings = spark_backfill.EdgeSettings("backfill-ds", base_url=edge.url)
        rows = spark.sparkContext.parallelize([make_event(i) for i in range(200)], 2)
        outcomes = spark_backfill.backfill(rows, settings).collect()
        assert len(outcomes) == 200
        assert {o[1] for o in outcomes} == {"rejected"}
        assert all("EXEG-0003-400" in (o[2] or "") for o in outcomes)
