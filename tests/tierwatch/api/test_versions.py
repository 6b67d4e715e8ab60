"""``/api/v1/versions`` and ``/api/v1/versions/series`` over data the collector stored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.analytics.stored_fleet import END_ISO, write_fleet


def test_version_drift(client: TestClient, engine: Engine) -> None:
    write_fleet(engine)
    response = client.get(f"/api/v1/versions?window=1h&baseline=2h&end={END_ISO}")
    assert response.status_code == 200, response.text
    (drift,) = response.json()["models"]
    assert (drift["fleet"], drift["model"]) == ("fleet-a", "tagger")
    assert drift["newest_version"] == "2.2.0"
    assert drift["dominant_version"] == "2.1.0"
    assert drift["live_versions"] == 2
    assert drift["active_devices"] == 20
    assert drift["skew"] == pytest.approx(15 / 20)
    assert [(v["version"], v["devices"]) for v in drift["versions"]] == [
        ("2.2.0", 5),
        ("2.1.0", 15),
    ]
    (canary,) = drift["canaries"]
    assert (canary["version"], canary["reference_version"]) == ("2.2.0", "2.1.0")
    assert canary["status"] == "degraded"

    series = client.get(
        f"/api/v1/versions/series?fleet=fleet-a&model=tagger&window=3h&end={END_ISO}&step=3600"
    )
    assert series.status_code == 200, series.text
    points = [(p["start"], p["version"], p["devices"]) for p in series.json()["points"]]
    assert points == [
        ("2025-01-02T09:00:00Z", "2.1.0", 20),
        ("2025-01-02T10:00:00Z", "2.1.0", 20),
        ("2025-01-02T11:00:00Z", "2.1.0", 15),
        ("2025-01-02T11:00:00Z", "2.2.0", 5),
    ]
