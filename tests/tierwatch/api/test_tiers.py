"""``/api/v1/tiers`` over data the collector stored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.analytics.stored_fleet import END_ISO, END_S, write_fleet


def test_tier_comparison(client: TestClient, engine: Engine) -> None:
    written = write_fleet(engine)
    response = client.get(f"/api/v1/tiers?window=1h&end={END_ISO}")
    assert response.status_code == 200, response.text
    comparisons = {c["tier"]: c for c in response.json()["comparisons"]}
    assert set(comparisons) == {"device", "edge"}
    device = comparisons["device"]
    assert (device["fleet"], device["task"]) == ("fleet-a", "photo-tag")
    assert device["local"]["attempts"] == len(written.window(tier="device"))
    shadows = [
        r for r in written.rows if r.shadow and r.start_time_unix_nano >= (END_S - 3600) * 10**9
    ]
    assert device["shadow"]["pairs"] == len(shadows)
    assert device["shadow"]["mean"] == pytest.approx(0.9)
    metrics = {d["metric"]: d for d in device["differences"]}
    assert set(metrics) == {
        "latency_p50_ms",
        "latency_p95_ms",
        "fallback_rate",
        "error_rate",
        "quality_mean",
    }
    latency = metrics["latency_p95_ms"]
    assert latency["ci_low"] <= latency["difference"] <= latency["ci_high"]
