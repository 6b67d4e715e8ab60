"""Evaluation passes over data written through the real collector, with hooks on loopback.

The server's own loops are off here: each test runs the passes itself, at times
it chooses, and then runs the delivery pass.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from analytics.alerting.delivery import deliver_due
from analytics.alerting.evaluator import Evaluation, evaluate
from analytics.alerting.queries import alert_history, list_alerts, list_deliveries
from analytics.alerting.rules import fingerprint
from analytics.alerting.signing import verify
from analytics.alerting.silences import create_silence, expire_silence, parse_matcher
from analytics.alerting.times import to_ms
from tests.analytics.alerting.conftest import SECRET
from tests.analytics.alerting.receiver import Receiver
from tests.analytics.stored_fleet import END, write_fleet
from tests.conftest import make_settings
from tests.otlp import request, span
from tierwatch.app import create_app
from tierwatch.settings import Settings

PB = {"Content-Type": "application/x-protobuf"}
ERRORS_RULE = {
    "name": "high_errors",
    "metric": "error_rate",
    "match": {"tier": "device"},
    "op": ">",
    "threshold": 0.5,
    "for": "0s",
    "min_attempts": 5,
    "labels": {"team": "mobile"},
}
KEY = {"fleet": "robots", "tier": "device", "task": "photo-tag"}


@dataclass
class Stack:
    """A server app (loops off), its engine and settings, and the hook's receiver."""

    client: TestClient
    engine: Engine
    settings: Settings
    receiver: Receiver
    sent: int = 1  # trace id 0 is invalid in OTLP

    def post(self, count: int, *, error: bool = False, attrs: dict[str, Any] | None = None) -> None:
        # A minute ago by the clock now, not when the suite started: rules look back 15 minutes.
        start_ns = time.time_ns() - 60_000_000_000
        spans = [
            span(self.sent + i, error=error, attrs=attrs, start_ns=start_ns) for i in range(count)
        ]
        self.sent += count
        body = request(spans, {"hybrid.fleet": "robots"}).SerializeToString()
        assert self.client.post("/v1/traces", content=body, headers=PB).status_code == 200

    def evaluate(self, at: datetime, holder: str = "server-a") -> Evaluation | None:
        return evaluate(
            self.engine,
            self.settings.alerts,
            analytics=self.settings.analytics,
            privacy=self.settings.privacy,
            public_url=self.settings.server.public_url,
            holder=holder,
            clock=lambda: at,
        )

    def deliver(self, at: datetime) -> list[str]:
        attempted = deliver_due(
            self.engine,
            self.settings.alerts,
            holder="server-a",
            clock=lambda: to_ms(at),
            rng=random.Random(1),
        )
        return [a.status for a in attempted]


def stack_for(db_url: str, engine: Engine, receiver: Receiver, **overrides: Any) -> Iterator[Stack]:
    settings = make_settings(
        db_url,
        **{
            "alerts.enabled": False,
            "alerts.degraded_rule": False,
            "alerts.rules": [ERRORS_RULE],
            "alerts.hooks": [{"name": "ops", "url": receiver.url + "/hook", "secret": SECRET}],
            # the receiver listens on loopback
            "alerts.allowed_hosts": ["127.0.0.1"],
            **overrides,
        },
    )
    with TestClient(create_app(settings, engine=engine, migrate=False)) as client:
        yield Stack(client=client, engine=engine, settings=settings, receiver=receiver)


@pytest.fixture
def stack(db_url: str, engine: Engine, receiver: Receiver) -> Iterator[Stack]:
    yield from stack_for(db_url, engine, receiver)


def states(stack: Stack) -> list[tuple[str, str]]:
    with stack.engine.connect() as conn:
        frame = list_alerts(conn, fleet=None)
    return list(zip(frame["rule"], frame["state"], strict=True))


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.requests]


def test_fires_then_resolves_with_one_notification_each(stack: Stack) -> None:
    t0 = datetime.now(UTC)
    stack.post(10, error=True)
    result = stack.evaluate(t0)
    assert result is not None
    assert [(t.from_state, t.to_state) for t in result.transitions] == [(None, "firing")]
    assert result.notifications == 1
    assert states(stack) == [("high_errors", "firing")]
    assert stack.deliver(t0) == ["delivered"]
    (firing,) = bodies(stack.receiver)
    fp = fingerprint("high_errors", KEY)
    assert firing["type"] == "alert.firing"
    assert firing["data"]["fingerprint"] == fp
    assert firing["data"]["labels"] == {
        "team": "mobile",
        "alertname": "high_errors",
        "severity": "warning",
        **KEY,
    }
    assert firing["data"]["summary"] == (
        "error rate 100.0% > 50.0% in fleet=robots tier=device task=photo-tag over the last 15m (10 attempts)"
    )
    seen = stack.receiver.requests[0]
    assert (
        verify(SECRET, seen.headers, seen.body, now=int(seen.headers["webhook-timestamp"]))
        == seen.webhook_id
    )
    # still firing: nothing new
    again = stack.evaluate(t0 + timedelta(seconds=30))
    assert again is not None and (again.transitions, again.notifications) == ([], 0)
    # recovery: 40 good attempts bring the error rate to 20%
    stack.post(40)
    result = stack.evaluate(t0 + timedelta(seconds=60))
    assert result is not None
    assert [(t.from_state, t.to_state) for t in result.transitions] == [("firing", "resolved")]
    assert stack.deliver(t0 + timedelta(seconds=60)) == ["delivered"]
    resolved = bodies(stack.receiver)[1]
    assert (resolved["type"], resolved["data"]["fingerprint"]) == ("alert.resolved", fp)
    assert resolved["data"]["resolved_at"] is not None
    assert len({r.webhook_id for r in stack.receiver.requests}) == 2
    # and nothing after that
    assert stack.evaluate(t0 + timedelta(seconds=90)) == Evaluation(
        candidates=0, transitions=[], notifications=0
    )
    assert stack.deliver(t0 + timedelta(seconds=90)) == []
    with stack.engine.connect() as conn:
        history = alert_history(conn, fleet="robots", fingerprint=fp)
        deliveries = list_deliveries(conn, fleet="robots")
    assert list(zip(history["from_state"], history["to_state"], strict=True)) == [
        ("firing", "resolved"),
        (None, "firing"),
    ]
    assert list(
        zip(deliveries["event"], deliveries["status"], deliveries["attempts"], strict=True)
    ) == [
        ("resolved", "delivered", 1),
        ("firing", "delivered", 1),
    ]


def test_for_duration_holds_the_alert_pending(
    db_url: str, engine: Engine, receiver: Receiver
) -> None:
    rule = {**ERRORS_RULE, "for": "2m"}
    for stack in stack_for(db_url, engine, receiver, **{"alerts.rules": [rule]}):
        t0 = datetime.now(UTC)
        stack.post(10, error=True)
        steps = []
        for seconds in (0, 60, 119, 120):
            result = stack.evaluate(t0 + timedelta(seconds=seconds))
            assert result is not None
            steps.append((seconds, states(stack)[0][1], result.notifications))
        assert steps == [
            (0, "pending", 0),
            (60, "pending", 0),
            (119, "pending", 0),
            (120, "firing", 1),
        ]


def test_silence_suppresses_until_it_is_expired(stack: Stack) -> None:
    t0 = datetime.now(UTC)
    with stack.engine.begin() as conn:
        silence_id = create_silence(
            conn,
            matchers=[parse_matcher("tier=device"), parse_matcher("alertname=~high_.*")],
            starts_at=to_ms(t0),
            ends_at=to_ms(t0 + timedelta(hours=1)),
            created_by="ana",
            comment="known incident",
            fleet=None,
            now=to_ms(t0),
        )
    stack.post(10, error=True)
    result = stack.evaluate(t0)
    assert result is not None and result.notifications == 0
    with stack.engine.connect() as conn:
        frame = list_alerts(conn, fleet=None)
    assert (frame.loc[0, "state"], frame.loc[0, "silenced_by"]) == ("firing", silence_id)
    assert stack.deliver(t0) == []
    assert stack.receiver.requests == []
    with stack.engine.begin() as conn:
        assert expire_silence(
            conn, silence_id=silence_id, fleet=None, now=to_ms(t0 + timedelta(seconds=30))
        )
    # the silence is over and the alert still fires: operators hear of it now
    result = stack.evaluate(t0 + timedelta(seconds=31))
    assert result is not None and result.notifications == 1
    assert stack.deliver(t0 + timedelta(seconds=31)) == ["delivered"]
    assert [b["type"] for b in bodies(stack.receiver)] == ["alert.firing"]


def test_repeat_interval(db_url: str, engine: Engine, receiver: Receiver) -> None:
    # a day-long window keeps the attempts in view for the whole test
    rule = {**ERRORS_RULE, "window": "1d"}
    overrides = {"alerts.repeat_interval": "1h", "alerts.rules": [rule]}
    for stack in stack_for(db_url, engine, receiver, **overrides):
        t0 = datetime.now(UTC)
        stack.post(10, error=True)
        counts = []
        for minutes in (0, 59, 60, 61, 120):
            result = stack.evaluate(t0 + timedelta(minutes=minutes))
            assert result is not None
            counts.append(result.notifications)
        assert counts == [1, 0, 1, 0, 1]


def test_privacy_violation_rule(db_url: str, engine: Engine, receiver: Receiver) -> None:
    for stack in stack_for(db_url, engine, receiver, **{"alerts.rules": []}):
        stack.post(3, attrs={"hybrid.tier": "cloud", "hybrid.privacy": "sensitive"})
        result = stack.evaluate(datetime.now(UTC))
        assert result is not None and result.notifications == 1
        with stack.engine.connect() as conn:
            frame = list_alerts(conn, fleet="robots")
        assert frame[["rule", "state", "severity", "value"]].values.tolist() == [
            ["privacy_violation", "firing", "critical", 3.0]
        ]
        assert frame.loc[0, "summary"] == (
            "3 privacy violations in fleet=robots tier=cloud task=photo-tag in the last 15m: "
            "sensitive data ran on a tier the fleet's policy forbids"
        )


def test_degraded_segment_rule(db_url: str, engine: Engine, receiver: Receiver) -> None:
    overrides = {
        "alerts.rules": [],
        "alerts.degraded_rule": True,
        "alerts.degraded_for": "0s",
        "alerts.baseline": "2h",
        "alerts.hooks": [
            {"name": "am", "kind": "alertmanager", "url": receiver.url, "resend_interval": "1m"}
        ],
    }
    for stack in stack_for(db_url, engine, receiver, **overrides):
        write_fleet(engine)
        result = stack.evaluate(END)
        assert result is not None and result.notifications == 1
        assert states(stack) == [("segment_degraded", "firing")]
        assert stack.deliver(END) == ["delivered"]
        (seen,) = receiver.requests
        assert seen.path == "/api/v2/alerts"
        (alert,) = json.loads(seen.body)
        key = {"fleet": "fleet-a", "tier": "device", "task": "photo-tag"}
        fp = fingerprint("segment_degraded", key)
        assert alert["labels"] == {
            "alertname": "segment_degraded",
            "severity": "critical",
            **key,
            "tierwatch_rule": "segment_degraded",
            "tierwatch_fingerprint": fp,
        }
        # ahead by three resend intervals
        assert (alert["startsAt"], alert["endsAt"]) == (
            "2025-01-02T12:00:00.000Z",
            "2025-01-02T12:03:00.000Z",
        )
        assert alert["annotations"]["summary"].startswith(
            "fleet=fleet-a tier=device task=photo-tag is degraded: "
        )
        assert (
            "error rate 8.3% vs 2.7% baseline (+210%), p<0.001"
            in alert["annotations"]["description"]
        )
        # within the resend interval nothing is sent; after it the alert goes again
        steps = []
        for seconds in (30, 60, 90, 120):
            at = END + timedelta(seconds=seconds)
            result = stack.evaluate(at)
            assert result is not None
            steps.append((seconds, result.notifications, stack.deliver(at)))
        assert steps == [
            (30, 0, []),
            (60, 1, ["delivered"]),
            (90, 0, []),
            (120, 1, ["delivered"]),
        ]
        (last,) = json.loads(receiver.requests[-1].body)
        assert (last["startsAt"], last["endsAt"]) == (
            "2025-01-02T12:00:00.000Z",
            "2025-01-02T12:05:00.000Z",
        )
        with stack.engine.connect() as conn:
            deliveries = list_deliveries(conn, fleet="fleet-a")
        assert (
            deliveries[["event", "kind", "fingerprint"]].values.tolist()
            == [["batch", "alertmanager", None]] * 3
        )


def test_hooks_take_their_fleets_and_severities(
    db_url: str, engine: Engine, receiver: Receiver
) -> None:
    hooks = [
        {"name": "robots", "url": receiver.url + "/robots", "secret": SECRET, "fleets": ["robots"]},
        {
            "name": "cameras",
            "url": receiver.url + "/cameras",
            "secret": SECRET,
            "fleets": ["cameras"],
        },
        {
            "name": "pager",
            "url": receiver.url + "/pager",
            "secret": SECRET,
            "severities": ["critical"],
        },
    ]
    for stack in stack_for(db_url, engine, receiver, **{"alerts.hooks": hooks}):
        stack.post(10, error=True)
        result = stack.evaluate(datetime.now(UTC))
        assert result is not None and result.notifications == 1
        with stack.engine.connect() as conn:
            assert list_deliveries(conn, fleet=None)["hook"].tolist() == ["robots"]
