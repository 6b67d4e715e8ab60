"""``/api/v1/costs`` over a fleet the collector stored, priced with ``[[costs]]``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collector.auth import create_token
from tests.analytics.priced_fleet import END_ISO, PRICES, write_priced_fleet
from tests.conftest import make_settings
from tierwatch.app import create_app

COSTS = f"/api/v1/costs?window=2h&end={END_ISO}"


def _client(db_url: str, engine: Engine, *, dev: bool = True) -> TestClient:
    settings = make_settings(db_url, dev=dev).model_copy(update={"costs": PRICES})
    return TestClient(create_app(settings, engine=engine, migrate=False))


@pytest.fixture
def priced(db_url: str, engine: Engine) -> Iterator[TestClient]:
    write_priced_fleet(engine)
    with _client(db_url, engine) as client:
        yield client


def test_costs(priced: TestClient) -> None:
    response = priced.get(COSTS + "&bucket=1h")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window"] == {"start": "2025-01-02T10:00:00Z", "end": "2025-01-02T12:00:00Z"}
    assert body["bucket"] == "1h"
    (fleet,) = body["fleets"]
    assert fleet["fleet"] == "fleet-a"
    assert fleet["unpriced"] == [] and fleet["notes"] == []
    tag_cloud = fleet["lines"][4]
    assert tag_cloud == {
        "task": "tag",
        "tier": "cloud",
        "requests": 0,
        "attempts": 1,
        "shadow_attempts": 1,
        "cost": pytest.approx(0.008, rel=1e-12),
        "cost_per_1k_requests": pytest.approx(2.0, rel=1e-12),
        "escalation_share": pytest.approx(0.625, rel=1e-12),
        "wasted_share": pytest.approx(0.375, rel=1e-12),
        "shadow_share": pytest.approx(0.375, rel=1e-12),
        "energy_mj_per_request": None,
    }
    total = fleet["total"]
    assert (total["task"], total["tier"], total["requests"]) == (None, None, 9)
    assert total["cost"] == pytest.approx(1.019, rel=1e-12)
    assert [b["start"] for b in fleet["buckets"]] == [
        "2025-01-02T10:00:00Z",
        "2025-01-02T11:00:00Z",
    ]
    assert fleet["buckets"][1]["total"]["cost"] == pytest.approx(0.501, rel=1e-12)
    assert fleet["driver"] == (
        "chat on the edge tier costs the most: 0.8750 of 1.0190 (86%), 57% on answers not served."
    )


def test_the_default_window_is_a_week_in_day_buckets(priced: TestClient) -> None:
    body = priced.get(f"/api/v1/costs?end={END_ISO}").json()
    assert body["window"] == {"start": "2024-12-26T12:00:00Z", "end": "2025-01-02T12:00:00Z"}
    assert body["bucket"] == "1d"
    assert [b["start"] for b in body["fleets"][0]["buckets"]] == ["2025-01-02T00:00:00Z"]


def test_unpriced_tiers_are_null(db_url: str, engine: Engine) -> None:
    write_priced_fleet(engine)
    with TestClient(create_app(make_settings(db_url), engine=engine, migrate=False)) as client:
        (fleet,) = client.get(COSTS).json()["fleets"]
    assert fleet["total"]["cost"] is None
    assert fleet["unpriced"] == ["device", "edge", "cloud"]
    assert fleet["driver"] is None


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        # buckets are whole hours, so node-hours never straddle two
        ("bucket=90m", "invalid bucket: '90m' is not a whole number of hours, e.g. 1h or 1d"),
        ("bucket=soon", "invalid bucket: 'soon' is not a duration; use a number and a unit, "
                        "e.g. 90s, 15m, 1h, 7d"),
        ("window=x", "invalid window: 'x' is not a duration; use a number and a unit, "
                     "e.g. 90s, 15m, 1h, 7d"),
    ],
)  # fmt: skip
def test_bad_parameters_are_400(priced: TestClient, query: str, detail: str) -> None:
    response = priced.get(f"{COSTS}&{query}")
    assert response.status_code == 400
    assert response.json() == {"detail": detail}


def test_a_fleet_token_sees_its_own_fleet_only(db_url: str, engine: Engine) -> None:
    write_priced_fleet(engine)
    other = create_token(engine, fleet="fleet-b", role="read")
    ingest = create_token(engine, fleet="fleet-a", role="ingest")
    mine = create_token(engine, fleet="fleet-a", role="read")
    with _client(db_url, engine, dev=False) as client:
        assert client.get(COSTS).status_code == 401
        assert client.get(COSTS, headers=_bearer(ingest)).status_code == 403
        assert client.get(COSTS, headers=_bearer(other)).json()["fleets"] == []
        forbidden = client.get(COSTS + "&fleet=fleet-a", headers=_bearer(other))
        assert forbidden.status_code == 403
        assert forbidden.json() == {"detail": "this token may not read fleet 'fleet-a'"}
        own = client.get(COSTS, headers=_bearer(mine)).json()
        assert [f["fleet"] for f in own["fleets"]] == ["fleet-a"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
