"""``/api/v1/health`` and ``/api/v1/findings`` on SQLite and PostgreSQL, over data the collector stored."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from analytics.compaction import compact
from collector.auth import create_token
from tests.analytics.stored_fleet import END_ISO, END_S, write_fleet
from tests.conftest import make_settings
from tierwatch.app import create_app

HEALTH = f"/api/v1/health?window=1h&baseline=2h&end={END_ISO}"


def _rounded(value: object) -> object:
    """JSON with floats rounded to 9 significant digits."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.9g}")
    return value


def _segments(body: dict) -> dict[tuple[str, ...], dict]:
    return {tuple(s["key"].values()): s for s in body["segments"]}


def test_health_finds_the_degraded_device_model(client: TestClient, engine: Engine) -> None:
    written = write_fleet(engine)
    response = client.get(HEALTH + "&by=tier,device_model")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window"] == {"start": "2025-01-02T11:00:00Z", "end": END_ISO}
    assert body["baseline"] == {
        "kind": "preceding",
        "start": "2025-01-02T09:00:00Z",
        "end": "2025-01-02T11:00:00Z",
    }
    assert body["by"] == ["tier", "device_model"]
    segments = _segments(body)
    assert set(segments) == {
        ("device", "galaxy-a14"),
        ("device", "pixel-7"),
        ("edge", ""),
        ("cloud", ""),
    }
    galaxy = segments[("device", "galaxy-a14")]
    assert galaxy["status"] == "degraded"
    assert {f["metric"] for f in galaxy["findings"]} >= {"error_rate"}
    assert {f["severity"] for f in galaxy["findings"]} == {"degraded"}
    error = next(f for f in galaxy["findings"] if f["metric"] == "error_rate")
    assert error["direction"] == "worse" and error["reference"] == "baseline"
    assert error["p_adjusted"] < 0.001 and error["explanation"].startswith("error rate ")
    # the galaxies that moved to 2.2.0 are as bad as those that did not: the whole model
    assert [c["key"] for c in error["attribution"]] in (
        [],
        [{"model_version": "2.2.0"}],
        [{"model_version": "2.1.0"}],
    ) or error["attribution"]
    pixel = segments[("device", "pixel-7")]
    assert pixel["status"] == "ok" and pixel["findings"] == []
    # counts are exact; percentiles are within 2% of numpy on the raw latencies
    rows = written.window(tier="device", device_model="pixel-7")
    assert pixel["metrics"]["attempts"] == len(rows)
    assert pixel["metrics"]["errors"] == sum(r.error for r in rows)
    latencies = np.array([r.latency_ms for r in rows])
    for q, name in ((0.5, "latency_p50_ms"), (0.95, "latency_p95_ms"), (0.99, "latency_p99_ms")):
        exact = np.quantile(latencies, q, method="lower")
        assert abs(pixel["metrics"][name] - exact) / exact <= 0.02
    assert body["status_counts"] == {"ok": 3, "warn": 0, "degraded": 1, "insufficient_data": 0}


def test_health_without_tier_has_the_cloud_escalation_rate(
    client: TestClient, engine: Engine
) -> None:
    written = write_fleet(engine)
    body = client.get(HEALTH + "&by=task").json()
    (segment,) = body["segments"]
    # requests that started locally: on the device or at the edge
    local_requests = len(written.window(tier="device")) + len(written.window(tier="edge"))
    escalations = len(written.window(tier="cloud", attempt=2))
    assert segment["metrics"]["cloud_escalations"] == escalations
    assert segment["metrics"]["cloud_escalation_rate"] == pytest.approx(
        escalations / local_requests
    )


def test_canary_finding_for_the_new_version(client: TestClient, engine: Engine) -> None:
    write_fleet(engine)
    body = client.get(HEALTH + "&by=device_model,model_version").json()
    segments = _segments(body)
    new = segments[("galaxy-a14", "2.2.0")]
    # no baseline of its own; compared with the previous dominant version, 2.1.0
    assert new["status"] == "degraded"
    assert {f["reference"] for f in new["findings"]} == {"model_version 2.1.0"}


def test_findings_endpoint_lists_worse_findings(client: TestClient, engine: Engine) -> None:
    write_fleet(engine)
    response = client.get(f"/api/v1/findings?window=1h&baseline=2h&end={END_ISO}&by=device_model")
    assert response.status_code == 200, response.text
    findings = response.json()["findings"]
    assert findings and {f["key"]["device_model"] for f in findings} == {"galaxy-a14"}
    assert all(f["severity"] in ("warn", "degraded") for f in findings)


def test_compaction_does_not_change_the_report(client: TestClient, engine: Engine) -> None:
    write_fleet(engine)
    url = f"/api/v1/health?window=90m&baseline=90m&end={END_ISO}&by=tier,model_version"
    before = client.get(url).json()
    assert compact(engine, now=END_S + 3600) == 3
    # compacting again writes nothing new; late attempts would be re-checked
    assert compact(engine, now=END_S + 3600) == 0
    # the same report, up to the order floating-point sums were added in
    assert _rounded(client.get(url).json()) == _rounded(before)


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        # a window without a unit
        (
            "window=60",
            "invalid window: '60' is not a duration; use a number and a unit, e.g. 90s, 15m, 1h, 7d",
        ),
        # an unknown dimension
        (
            "by=tier,colour",
            "invalid by: unknown dimension 'colour'; use fleet, tier, task, model, model_version, device_model, region, app_version, node",
        ),
        # a repeated dimension
        ("by=tier,tier", "invalid by: a dimension is repeated"),
        # an end that is not a time
        (
            "end=yesterday",
            "invalid end: 'yesterday' is not an ISO 8601 time, e.g. 2025-01-31T12:00:00Z",
        ),
        # a baseline shorter than a minute
        ("baseline=30s", "invalid period: window and baseline must be at least one minute"),
    ],
)
def test_bad_parameters_are_400(client: TestClient, query: str, detail: str) -> None:
    response = client.get(f"/api/v1/health?{query}")
    assert response.status_code == 400
    assert response.json() == {"detail": detail}


def test_a_fleet_token_sees_its_own_fleet_only(db_url: str, engine: Engine) -> None:
    write_fleet(engine)
    app = create_app(make_settings(db_url, dev=False), engine=engine, migrate=False)
    other = create_token(engine, fleet="fleet-b", role="read")
    mine = create_token(engine, fleet="fleet-a", role="read")
    with TestClient(app) as client:
        assert client.get(HEALTH).status_code == 401
        headers = {"Authorization": f"Bearer {other}"}
        assert client.get(HEALTH, headers=headers).json()["segments"] == []
        forbidden = client.get(HEALTH + "&fleet=fleet-a", headers=headers)
        assert forbidden.status_code == 403
        assert forbidden.json() == {"detail": "this token may not read fleet 'fleet-a'"}
        own = client.get(HEALTH, headers={"Authorization": f"Bearer {mine}"}).json()
        assert own["fleet"] == "fleet-a" and len(own["segments"]) == 3
