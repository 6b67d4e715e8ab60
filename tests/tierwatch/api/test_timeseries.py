"""``/api/v1/timeseries`` over data the collector stored."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.analytics.stored_fleet import END_ISO, write_fleet


def test_segment_time_series(client: TestClient, engine: Engine) -> None:
    written = write_fleet(engine)
    response = client.get(
        f"/api/v1/timeseries?tier=device&device_model=pixel-7&window=3h&end={END_ISO}&step=3600"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["key"] == {"tier": "device", "device_model": "pixel-7"}
    starts = [p["start"] for p in body["points"]]
    assert starts == ["2025-01-02T09:00:00Z", "2025-01-02T10:00:00Z", "2025-01-02T11:00:00Z"]
    pixel = [r for r in written.rows if r.device_model == "pixel-7"]
    assert sum(p["metrics"]["attempts"] for p in body["points"]) == len(pixel)
    assert body["points"][-1]["metrics"]["attempts"] == len(written.window(device_model="pixel-7"))
