"""``/api/v1/advice`` over attempts the collector stored and the advice pass folded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from analytics.config import Objective
from collector.auth import create_token
from tests.analytics.advice_fleet import END_ISO, PRICES, write_advice_fleet
from tests.conftest import make_settings
from tierwatch.app import create_app

ADVICE = f"/api/v1/advice?task=photo-tag&end={END_ISO}"


def _client(
    db_url: str, engine: Engine, *, dev: bool = True, objectives: list[Objective] | None = None
) -> TestClient:
    # The fleet's hour is older than the advice rollups' horizon: no pruning pass meanwhile.
    settings = make_settings(db_url, dev=dev, **{"server.prune_interval_seconds": 0})
    settings = settings.model_copy(update={"costs": PRICES, "objectives": objectives or []})
    return TestClient(create_app(settings, engine=engine, migrate=False))


@pytest.fixture
def advised(db_url: str, engine: Engine) -> Iterator[TestClient]:
    write_advice_fleet(engine)
    with _client(db_url, engine) as client:
        yield client


def test_advice(advised: TestClient) -> None:
    response = advised.get(ADVICE + "&quality_floor=0.6")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["task"], body["fleet"], body["tier"], body["models"]) == (
        "photo-tag", None, "device", ["tagger"]
    )  # fmt: skip
    assert (body["attempts"], body["hours"], body["forced_share"]) == (40, 1, 0.0)
    assert body["window"] == {"start": "2024-12-26T13:00:00Z", "end": "2025-01-02T13:00:00Z"}
    assert body["goals"] == {"quality_floor": 0.6, "latency": None, "from_objectives": []}
    assert len(body["curve"]) == 101
    current = body["current"]
    assert current == body["curve"][26]
    assert current["threshold"] == 0.26
    assert (current["local_share"], current["cloud_escalation_rate"]) == (0.75, 0.25)
    assert current["quality"] == pytest.approx(0.9)
    # 10 cloud calls at 0.5 in 40 requests
    assert current["cost_per_1k"] == pytest.approx(125.0)
    assert current["energy_mj_per_request"] == pytest.approx(40.0)
    assert (current["coverage"], current["labelled"], current["meets_goals"]) == (
        "measured", 40, True
    )  # fmt: skip
    assert set(current) == {
        "threshold", "local_share", "local_share_low", "local_share_high",
        "cloud_escalation_rate", "cloud_escalation_rate_low", "cloud_escalation_rate_high",
        "quality", "quality_low", "quality_high", "latency_p95_ms", "latency_p95_ms_low",
        "latency_p95_ms_high", "latency_within", "cost_per_1k", "cost_per_1k_low",
        "cost_per_1k_high", "energy_mj_per_request", "coverage", "labelled", "pooled_share",
        "unlabelled_share", "meets_goals",
    }  # fmt: skip
    # 0.00 to 0.25 serve everything locally (quality 0.75, free); 0.25 is nearest today's
    assert body["recommended"] == body["curve"][25]
    assert body["recommended"]["cost_per_1k"] == 0.0
    assert body["reason"] == (
        "threshold 0.25 is the cheapest that meets quality floor 0.6: 0 per 1,000 requests "
        "against 125 at the current 0.26, predicted quality 0.750"
    )
    assert "no price for tier device: its attempts are counted as free" in body["notes"]


def test_a_latency_objective(advised: TestClient) -> None:
    # 80% within 500 ms: at most 20% may escalate (1,100 ms)
    body = advised.get(ADVICE + "&latency_ms=500&latency_target=0.8").json()
    assert body["goals"]["latency"] == {"threshold_ms": 500.0, "target": 0.8}
    assert body["goals"]["from_objectives"] == []
    assert body["current"]["latency_within"] == 0.75
    assert body["current"]["meets_goals"] is False
    assert body["recommended"]["threshold"] == 0.25


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        # the task is required
        ("/api/v1/advice", 400, "invalid task: required, e.g. task=photo-tag"),
        # a task nobody ran locally
        ("/api/v1/advice?task=doc-scan", 404,
         "no local attempts with a confidence for task 'doc-scan' in the window's folded hours"),
        # the cloud has no threshold to replay
        (ADVICE + "&tier=cloud", 400, "invalid tier: 'cloud' is not a local tier; use device or edge"),
        # out of range
        (ADVICE + "&quality_floor=2", 422, None),
        (ADVICE + "&window=soon", 400,
         "invalid window: 'soon' is not a duration; use a number and a unit, e.g. 90s, 15m, 1h, 7d"),
    ],
)  # fmt: skip
def test_bad_questions(advised: TestClient, query: str, status: int, detail: str | None) -> None:
    response = advised.get(query)
    assert response.status_code == status, response.text
    if detail is not None:
        assert response.json()["detail"] == detail


def test_a_fleet_token_sees_its_fleet(db_url: str, engine: Engine) -> None:
    write_advice_fleet(engine, fleet="fleet-a")
    other = create_token(engine, fleet="fleet-b", role="read")
    mine = create_token(engine, fleet="fleet-a", role="read")
    with _client(db_url, engine, dev=False) as client:
        theirs = client.get(ADVICE, headers={"Authorization": f"Bearer {other}"})
        assert theirs.status_code == 404
        forbidden = client.get(
            ADVICE + "&fleet=fleet-a", headers={"Authorization": f"Bearer {other}"}
        )
        assert forbidden.status_code == 403
        ok = client.get(ADVICE, headers={"Authorization": f"Bearer {mine}"})
        assert ok.status_code == 200
        assert ok.json()["fleet"] == "fleet-a"
        assert client.get(ADVICE).status_code == 401


def test_goals_left_out_come_from_the_tasks_objectives(db_url: str, engine: Engine) -> None:
    write_advice_fleet(engine)
    objectives = [
        Objective(name="tag-quality", task="photo-tag", quality={"floor": 0.6}),
        Objective(name="tag-fast", task="photo-tag", latency={"threshold_ms": 500, "target": 0.8}),
        Objective(name="other", task="voice", quality={"floor": 0.99}),
    ]
    with _client(db_url, engine, objectives=objectives) as client:
        body = client.get(ADVICE).json()
        assert body["goals"] == {
            "quality_floor": 0.6,
            "latency": {"threshold_ms": 500.0, "target": 0.8},
            "from_objectives": ["quality", "latency"],
        }
        assert body["recommended"]["threshold"] == 0.25
        # a floor in the request wins over the objective's; the latency still comes from it
        asked = client.get(ADVICE + "&quality_floor=0.95").json()
        assert asked["goals"]["quality_floor"] == 0.95
        assert asked["goals"]["from_objectives"] == ["latency"]
        assert asked["recommended"] is None
