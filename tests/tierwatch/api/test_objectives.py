"""``GET /api/v1/objectives`` on request rollups written into the store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from analytics.config import Objective
from collector.assemble import assemble
from collector.auth import issue_token
from tests.analytics.objective_store import minute, segment
from tests.conftest import make_settings
from tests.otlp import request, span
from tierwatch.app import create_app

END = "2025-03-10T12:00:00Z"
E = 1_741_608_000  # END in Unix seconds
OBJECTIVES = [
    Objective.model_validate(
        {
            "name": "tag-fast",
            "task": "photo-tag",
            "latency": {"threshold_ms": 300, "target": 0.9},
            "availability": {"target": 0.99},
            "period": "1d",
        }
    ),
    Objective.model_validate(
        {"name": "tag-robots", "task": "photo-tag", "fleet": "robots", "quality": {"floor": 0.8}}
    ),
]


def _client(db_url: str, engine: Engine, *, dev: bool) -> Iterator[TestClient]:
    settings = make_settings(
        db_url, dev=dev, **{"alerts.enabled": False, "server.prune_interval_seconds": 0}
    )
    settings = settings.model_copy(update={"objectives": OBJECTIVES})
    with engine.begin() as conn:
        robots = segment(conn, fleet="robots", task="photo-tag")
        # 100 requests at noon minus one hour: 90 answered (80 fast, 10 slow), 4 qualities
        minute(conn, robots, E - 3600, requests=100, latencies=[100.0] * 80 + [900.0] * 10,
               qualities=[0.9, 0.9, 0.7, 0.7])  # fmt: skip
    with TestClient(create_app(settings, engine=engine, migrate=False)) as client:
        yield client


@pytest.fixture
def objectives_client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    yield from _client(db_url, engine, dev=True)


def test_one_row_per_objective_kind(objectives_client: TestClient) -> None:
    answer = objectives_client.get("/api/v1/objectives", params={"end": "2025-03-10T12:00:30Z"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["end"] == END
    latency, availability, quality = body["objectives"]
    assert latency == {
        "name": "tag-fast",
        "task": "photo-tag",
        "fleet": None,
        "kind": "latency",
        "target": 0.9,
        "period": "1d",
        "sli": pytest.approx(80 / 90),
        "budget_remaining": pytest.approx(1 - (10 / 90) / 0.1),
        # the last hour holds them all; five and thirty minutes hold none
        "burn_rates": {
            "5m": None,
            "30m": None,
            "1h": pytest.approx(10 / 90 / 0.1),
            "6h": pytest.approx(10 / 90 / 0.1),
            "3d": pytest.approx(10 / 90 / 0.1),
        },
        "status": "degraded",  # the budget is overspent
        "alert": "ticket",  # 3d and 6h burn 1.11
        "requests": 90,
        "threshold_ms": 300.0,
        "alert_windows": ["3d", "6h"],
    }
    assert (availability["kind"], availability["sli"], availability["requests"]) == (
        "availability", 0.9, 100
    )  # fmt: skip
    assert availability["budget_remaining"] == pytest.approx(1 - 0.1 / 0.01)
    assert (quality["name"], quality["kind"], quality["target"], quality["period"]) == (
        "tag-robots", "quality", 0.8, "28d"
    )  # fmt: skip
    assert quality["sli"] == pytest.approx(0.8)
    assert quality["budget_remaining"] == pytest.approx(0.0, abs=1e-12)
    assert quality["status"] == "degraded"


def test_a_bad_end_is_a_400(objectives_client: TestClient) -> None:
    answer = objectives_client.get("/api/v1/objectives", params={"end": "noon"})
    assert answer.status_code == 400


def test_a_fleet_token_sees_its_fleet_objectives(db_url: str, engine: Engine) -> None:
    _, robots = issue_token(engine, fleet="robots", role="read")
    _, ingest = issue_token(engine, fleet="robots", role="ingest")
    for client in _client(db_url, engine, dev=False):
        assert client.get("/api/v1/objectives").status_code == 401
        no_read = {"Authorization": f"Bearer {ingest}"}
        assert client.get("/api/v1/objectives", headers=no_read).status_code == 403
        answer = client.get(
            "/api/v1/objectives", params={"end": END}, headers={"Authorization": f"Bearer {robots}"}
        )
        assert [(o["name"], o["kind"]) for o in answer.json()["objectives"]] == [
            ("tag-robots", "quality")
        ]


MINUTE_NS = 60_000_000_000
# A minute boundary ten minutes ago: the collector refuses spans too far in the past or future.
T0 = (time.time_ns() // MINUTE_NS - 10) * MINUTE_NS


def _attempt(n: int, trace: int, *, at_ms: float, latency_ms: float, **attrs: Any) -> Any:
    return span(
        n,
        trace=trace,
        start_ns=T0 + int(at_ms * 1_000_000),
        latency_ms=latency_ms,
        error=attrs.pop("error", False),
        attrs={"hybrid.tier": "device", "hybrid.attempt": 1, **attrs},
    )


def test_objectives_from_traces_through_ingest_and_assembly(db_url: str, engine: Engine) -> None:
    objective = Objective.model_validate(
        {
            "name": "tag",
            "task": "photo-tag",
            "latency": {"threshold_ms": 300, "target": 0.9},
            "availability": {"target": 0.9},
            "quality": {"floor": 0.5},
            "period": "1d",
        }
    )
    # The test assembles at once itself: the server's own pass is off.
    overrides = {"alerts.enabled": False, "collector.assembly_interval_seconds": 0}
    settings = make_settings(db_url, **overrides)
    settings = settings.model_copy(update={"objectives": [objective]})
    cloud = {"hybrid.tier": "cloud", "hybrid.attempt": 2}
    fell_back = {"hybrid.fallback": True, "hybrid.fallback.reason": "low_confidence"}
    failed = {"error": True, "hybrid.fallback": True, "hybrid.fallback.reason": "error"}
    spans = [
        # 1: the device fell back, the cloud answered: 250 ms end to end, quality 0.75
        _attempt(1, 1, at_ms=0, latency_ms=40, **fell_back),
        _attempt(2, 1, at_ms=50, latency_ms=200, **cloud, **{"hybrid.quality": 0.75}),
        # 2: the device answered in 30 ms, quality 0.9
        _attempt(3, 2, at_ms=0, latency_ms=30, **{"hybrid.quality": 0.9}),
        # 3: both tiers failed: not answered
        _attempt(4, 3, at_ms=0, latency_ms=20, **failed),
        _attempt(5, 3, at_ms=30, latency_ms=20, **cloud, error=True),
        # 4: the device answered in 500 ms, quality unknown
        _attempt(6, 4, at_ms=0, latency_ms=500),
    ]
    body = request(spans, {"hybrid.fleet": "robots"}).SerializeToString()
    with TestClient(create_app(settings, engine=engine, migrate=False)) as client:
        headers = {"Content-Type": "application/x-protobuf"}
        assert client.post("/v1/traces", content=body, headers=headers).status_code == 200
        assemble(engine, now_ns=time.time_ns())
        end = datetime.fromtimestamp(T0 / 1e9 + 300, tz=UTC).isoformat()
        rows = client.get("/api/v1/objectives", params={"end": end}).json()["objectives"]
    got = {r["kind"]: (r["requests"], r["sli"]) for r in rows}
    # latency: 2 of 3 answered within 300 ms; availability: 3 of 4 answered;
    # quality: the mean of 0.75 and 0.9
    assert got == {
        "latency": (3, pytest.approx(2 / 3)),
        "availability": (4, 0.75),
        "quality": (2, pytest.approx(0.825)),
    }
