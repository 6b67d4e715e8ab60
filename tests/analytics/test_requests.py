"""Request rollups read per segment, per time bucket and per group, with exact figures."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from analytics.config import AnalyticsSettings
from analytics.health import health_report
from analytics.histograms import LATENCY_OFFSET, LATENCY_VALUES
from analytics.requests import (
    read_request_aggregates,
    read_request_buckets,
    request_report,
)
from collector import buckets
from collector.assemble import assemble
from collector.normalise import Normaliser
from collector.schema import SEGMENTS
from collector.store import Store
from tests.otlp import request, span

MINUTE_NS = 60_000_000_000
# The start of the hour before the last: the requests below fall in its first minutes.
T0 = (time.time_ns() // (60 * MINUTE_NS) - 2) * 60 * MINUTE_NS
T0_S = T0 // 1_000_000_000


def _attempt(n: int, trace: int, start_ns: int, latency_ms: float, **attrs: Any) -> Any:
    return span(n, trace=trace, start_ns=start_ns, latency_ms=latency_ms, attrs=attrs)


def _write(engine: Engine) -> None:
    """Four requests of task photo-tag (three start on the device) and one of ocr."""
    spans = [
        # answered on the device in 20 ms, quality 0.5
        _attempt(1, 1, T0, 20.0, **{"hybrid.attempt": 1, "hybrid.quality": 0.5}),
        # fell back on the device, answered by the cloud: 10 ms later for 290 ms, quality 1.0
        _attempt(
            2,
            2,
            T0 + 5_000_000_000,
            30.0,
            **{"hybrid.attempt": 1, "hybrid.fallback": True, "hybrid.fallback.reason": "timeout"},
        ),
        _attempt(
            3,
            2,
            T0 + 5_040_000_000,
            260.0,
            **{"hybrid.attempt": 2, "hybrid.tier": "cloud", "hybrid.quality": 1.0},
        ),
        # failed on the device, a minute later, and nothing else tried
        _attempt(4, 3, T0 + MINUTE_NS, 15.0, **{"hybrid.attempt": 1, "hybrid.fallback": True}),
        # started on the edge, answered there in 80 ms
        _attempt(5, 4, T0 + MINUTE_NS, 80.0, **{"hybrid.attempt": 1, "hybrid.tier": "edge"}),
        # another task, answered on the device in 20 ms
        _attempt(6, 5, T0, 20.0, **{"hybrid.attempt": 1, "hybrid.task": "ocr"}),
    ]
    batch = Normaliser().normalise(request(spans), fleet="f", now_ns=time.time_ns())
    Store(engine).write(batch, received_ns=time.time_ns())
    assemble(engine, now_ns=time.time_ns())


def _dense(*latencies: float) -> dict[int, int]:
    out: dict[int, int] = {}
    for value in latencies:
        out[buckets.latency_bucket(value)] = out.get(buckets.latency_bucket(value), 0) + 1
    return out


def _sparse(row: np.ndarray) -> dict[int, int]:
    return {int(j + LATENCY_OFFSET): int(row[j]) for j in np.nonzero(row)[0]}


def test_per_segment_and_per_bucket(engine: Engine) -> None:
    _write(engine)
    with engine.connect() as conn:
        ids: dict[str, int] = {
            f"{task}/{tier}": id_
            for task, tier, id_ in conn.execute(
                select(SEGMENTS.c.task, SEGMENTS.c.tier, SEGMENTS.c.id)
            )
        }
        per_segment = read_request_aggregates(
            conn, start=T0_S, end=T0_S + 3600, key={"task": "photo-tag"}
        )
        buckets_ = read_request_buckets(conn, start=T0_S, end=T0_S + 3600, step=60)
        hourly = read_request_buckets(conn, start=T0_S, end=T0_S + 3600, step=3600)
        later = read_request_aggregates(conn, start=T0_S + 60, end=T0_S + 120)
    # the cloud attempt's segment holds no request: its request started on the device
    assert per_segment.labels.tolist() == sorted([ids["photo-tag/device"], ids["photo-tag/edge"]])
    device = per_segment.labels.tolist().index(ids["photo-tag/device"])
    counts = {
        name: int(per_segment.column(name)[device])
        for name in ("requests", "answered", "failed", "escalated", "served_cloud", "attempts_sum")
    }
    assert counts == {
        "requests": 3,
        "answered": 2,
        "failed": 1,
        "escalated": 1,
        "served_cloud": 1,
        "attempts_sum": 4,
    }
    assert _sparse(per_segment.latency[device]) == _dense(20.0, 300.0)
    assert per_segment.column("latency_ms_sum")[device] == 320.0
    assert per_segment.column("quality_sum")[device] == 1.5
    # per minute: three requests started in the first, two in the second
    assert buckets_.labels.tolist() == [T0_S, T0_S + 60]
    assert buckets_.column("requests").tolist() == [3.0, 2.0]
    assert hourly.labels.tolist() == [T0_S] and hourly.column("answered").tolist() == [4.0]
    assert later.column("requests").sum() == 2.0


def test_report_per_task_and_first_tier(engine: Engine) -> None:
    _write(engine)
    start = datetime.fromtimestamp(T0_S, UTC)
    with engine.connect() as conn:
        report = request_report(
            conn,
            start=start,
            end=datetime.fromtimestamp(T0_S + 3600, UTC),
            by=["task", "tier"],
            key={"fleet": "f"},
        )
        other_fleet = request_report(
            conn,
            start=start,
            end=datetime.fromtimestamp(T0_S + 3600, UTC),
            by=["task"],
            key={"fleet": "g"},
        )
    assert other_fleet.groups == []
    assert [g.key for g in report.groups] == [
        {"task": "ocr", "tier": "device"},
        {"task": "photo-tag", "tier": "device"},
        {"task": "photo-tag", "tier": "edge"},
    ]
    device = report.groups[1]
    assert (device.requests, device.answered, device.failed, device.escalated) == (3, 2, 1, 1)
    assert (device.served_device, device.served_edge, device.served_cloud) == (1, 0, 1)
    assert device.answered_share == 2 / 3 and device.failed_share == 1 / 3
    assert device.cloud_escalation_rate == 1 / 3 and device.served_cloud_share == 1 / 3
    assert device.attempts_per_request == 4 / 3 and device.tiers_per_request == 4 / 3
    # of two answered requests, every quantile's rank q * (n - 1) is below 1: the lower one
    low = LATENCY_VALUES[buckets.latency_bucket(20.0) - LATENCY_OFFSET]
    assert (device.latency_p50_ms, device.latency_p95_ms, device.latency_p99_ms) == (
        low,
        low,
        low,
    )
    assert device.latency_mean_ms == 160.0 and device.quality_mean == 0.75
    edge = report.groups[2]
    assert (edge.requests, edge.answered, edge.served_edge_share, edge.quality_mean) == (
        1,
        1,
        1.0,
        None,
    )


def test_requests_api(engine: Engine, client: TestClient) -> None:
    _write(engine)
    end = datetime.fromtimestamp(T0_S + 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = client.get(f"/api/v1/requests?window=1h&end={end}&by=task")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window"] == {
        "start": datetime.fromtimestamp(T0_S, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": end,
    }
    assert body["by"] == ["task"]
    photo = body["groups"][1]
    assert photo["key"] == {"task": "photo-tag"}
    assert (photo["requests"], photo["answered"], photo["failed"], photo["escalated"]) == (
        4,
        3,
        1,
        1,
    )
    assert photo["served_edge_share"] == 0.25
    # 20, 80 and 300 ms end to end: p50 (rank 1) and p95 (rank 1.9) are both 80 ms's bucket
    middle = LATENCY_VALUES[buckets.latency_bucket(80.0) - LATENCY_OFFSET]
    assert (photo["latency_p50_ms"], photo["latency_p95_ms"]) == (middle, middle)
    assert photo["latency_mean_ms"] == 400.0 / 3
    # a dimension the API does not know is refused with the parameter's name
    bad = client.get("/api/v1/requests?by=colour")
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("invalid by: unknown dimension 'colour'")


def test_the_health_report_speaks_of_the_requests_each_segment_started(engine: Engine) -> None:
    _write(engine)
    with engine.connect() as conn:
        report = health_report(
            conn,
            end=datetime.fromtimestamp(T0_S + 3600, UTC),
            window=timedelta(hours=1),
            baseline=None,
            by=["task", "tier"],
            fleet="f",
            settings=AnalyticsSettings(),
        )
    started = {(s.key["task"], s.key["tier"]): s.requests for s in report.segments}
    # the cloud attempt's segment started no request: it holds none
    assert sorted(started) == [
        ("ocr", "device"), ("photo-tag", "cloud"), ("photo-tag", "device"), ("photo-tag", "edge")
    ]  # fmt: skip
    assert started[("photo-tag", "cloud")] is None
    device = started[("photo-tag", "device")]
    assert device is not None
    assert (device.requests, device.answered, device.escalated, device.latency_mean_ms) == (
        3, 2, 1, 160.0
    )  # fmt: skip
    edge = started[("photo-tag", "edge")]
    assert edge is not None and (edge.requests, edge.served_edge) == (1, 1)
