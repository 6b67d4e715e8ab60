"""Error budget burn alerts through the evaluator, delivered to a real loopback receiver."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from analytics.alerting.config import AlertsSettings
from analytics.alerting.delivery import deliver_due
from analytics.alerting.evaluator import Evaluation, evaluate
from analytics.alerting.queries import list_alerts
from analytics.alerting.silences import create_silence, parse_matcher
from analytics.alerting.times import to_ms
from analytics.config import AnalyticsSettings, Objective
from collector.config import PrivacySettings
from tests.analytics.alerting.helpers import alerts_settings
from tests.analytics.alerting.receiver import Receiver
from tests.analytics.objective_store import minute, segment

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
E = int(NOW.timestamp())
OBJECTIVES = [
    Objective.model_validate({"name": name, "task": task, "availability": {"target": 0.99}})
    for name, task in (("fast", "task-a"), ("slow", "task-b"), ("healthy", "task-c"))
]


def _store(engine: Engine) -> None:
    with engine.begin() as conn:
        a, b, c = (segment(conn, fleet="robots", task=t) for t in ("task-a", "task-b", "task-c"))
        # task-a: a quiet history, then half of the requests of two minutes ago failed:
        # every window up to 3 days burns 0.5 / 0.01 = 50
        minute(conn, a, E - 10 * 86_400, requests=100_000, latencies=[100.0] * 100_000)
        minute(conn, a, E - 120, requests=100, latencies=[100.0] * 50)
        # task-b: 2% failed every hour for three days: 3d and 6h burn 2; nothing in 5m
        for hour in range(1, 73):
            minute(conn, b, E - hour * 3600, requests=100, latencies=[100.0] * 98)
        # task-c: all answered
        for hour in range(1, 73):
            minute(conn, c, E - hour * 3600, requests=100, latencies=[100.0] * 100)


def _evaluate(engine: Engine, alerts: AlertsSettings, at: datetime) -> Evaluation | None:
    return evaluate(
        engine,
        alerts,
        analytics=AnalyticsSettings(),
        privacy=PrivacySettings(),
        public_url="",
        holder="server-a",
        clock=lambda: at,
        objectives=OBJECTIVES,
    )


def _deliver(engine: Engine, alerts: AlertsSettings, at: datetime) -> list[str]:
    attempted = deliver_due(
        engine, alerts, holder="server-a", clock=lambda: to_ms(at), rng=random.Random(1)
    )
    return [a.status for a in attempted]


def test_a_fast_burn_pages_a_slow_burn_tickets_a_healthy_objective_is_quiet(
    engine: Engine, receiver: Receiver
) -> None:
    _store(engine)
    alerts = alerts_settings(receiver.url + "/hook", degraded_rule=False)
    result = _evaluate(engine, alerts, NOW)
    assert result is not None
    assert (result.candidates, result.notifications) == (2, 2)
    assert _deliver(engine, alerts, NOW) == ["delivered", "delivered"]
    sent = {b["data"]["rule"]: b["data"] for b in (json.loads(r.body) for r in receiver.requests)}
    assert sorted(sent) == ["objective_page", "objective_ticket"]
    page, ticket = sent["objective_page"], sent["objective_ticket"]
    # the period holds 100,100 requests, 50 failed: 1 - (50 / 100100) / 0.01 of the budget
    assert page["summary"] == (
        "objective fast (availability, task task-a) burns its 28d error budget: "
        "burn rate 1h 50.0, 5m 50.0; budget left 95.0%"
    )
    assert (page["severity"], page["value"]) == ("critical", pytest.approx(50.0))
    assert page["labels"] == {
        "alertname": "objective_page",
        "severity": "critical",
        "objective": "fast",
        "kind": "availability",
        "task": "task-a",
    }
    assert page["annotations"]["burn_rates"] == "5m=50.0, 30m=50.0, 1h=50.0, 6h=50.0, 3d=50.0"
    # 72 hours of 2% failed: 3d and 6h burn 2; the budget of 28 days: 1 - 0.02 / 0.01
    assert ticket["summary"] == (
        "objective slow (availability, task task-b) burns its 28d error budget: "
        "burn rate 3d 2.0, 6h 2.0; budget left -100.0%"
    )
    assert (ticket["severity"], ticket["labels"]["objective"]) == ("warning", "slow")
    # told once: a second pass a minute later sends nothing new
    again = _evaluate(engine, alerts, NOW + timedelta(minutes=1))
    assert again is not None and again.notifications == 0
    with engine.connect() as conn:
        frame = list_alerts(conn, fleet=None)
    assert sorted(zip(frame["rule"], frame["state"], strict=True)) == [
        ("objective_page", "firing"),
        ("objective_ticket", "firing"),
    ]


def test_a_silence_mutes_an_objective_by_its_label(engine: Engine, receiver: Receiver) -> None:
    _store(engine)
    alerts = alerts_settings(receiver.url + "/hook", degraded_rule=False)
    with engine.begin() as conn:
        create_silence(
            conn,
            matchers=[parse_matcher("objective=slow")],
            starts_at=to_ms(NOW),
            ends_at=to_ms(NOW + timedelta(hours=1)),
            created_by="ana",
            comment="known slow burn",
            fleet=None,
            now=to_ms(NOW),
        )
    result = _evaluate(engine, alerts, NOW)
    assert result is not None and result.notifications == 1
    assert _deliver(engine, alerts, NOW) == ["delivered"]
    (body,) = (json.loads(r.body) for r in receiver.requests)
    assert body["data"]["rule"] == "objective_page"


def test_objective_alerts_resolve_when_the_objectives_are_removed(
    engine: Engine, receiver: Receiver
) -> None:
    _store(engine)
    alerts = alerts_settings(receiver.url + "/hook", degraded_rule=False)
    assert _evaluate(engine, alerts, NOW) is not None
    result = evaluate(
        engine,
        alerts,
        analytics=AnalyticsSettings(),
        privacy=PrivacySettings(),
        public_url="",
        holder="server-a",
        clock=lambda: NOW + timedelta(minutes=1),
    )
    assert result is not None
    assert sorted((t.from_state, t.to_state) for t in result.transitions) == [
        ("firing", "resolved"),
        ("firing", "resolved"),
    ]
