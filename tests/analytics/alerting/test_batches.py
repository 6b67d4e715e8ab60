"""Alertmanager batches: who is in them, their endsAt, when they are sent again, and the outbox.

The planning is pure (alerts in, batches out); the outbox part runs on the
real database: batches of one hook and fleet go out in order, and a newer one
supersedes those still waiting.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sqlalchemy import Engine, select

from analytics.alerting import outbox
from analytics.alerting.batches import Batch, batches_due, horizon_ms
from analytics.alerting.config import AlertsSettings, HookSettings
from analytics.alerting.evaluator import enqueue_batch
from analytics.alerting.states import Alert
from collector.db import WRITE
from collector.schema import DELIVERIES
from tests.analytics.alerting.conftest import SECRET
from tests.analytics.alerting.helpers import add_alert, delivery

NOW = 1_735_819_200_000
MINUTE = 60_000
DAY = 24 * 60 * MINUTE
AM = HookSettings(name="am", kind="alertmanager", url="https://am.example.com")
WEBHOOK = HookSettings(name="ops", url="https://hooks.example.com", secret=SECRET)


def alert(fingerprint: str, *, fleet: str = "robots", state: str = "firing", **kw: Any) -> Alert:
    values: dict[str, Any] = {
        "fingerprint": fingerprint,
        "rule": "high_errors",
        "fleet": fleet,
        "severity": "warning",
        "state": state,
        "labels": {"alertname": "high_errors", "severity": "warning", "fleet": fleet},
        "summary": "s",
        "value": 1.0,
        "active_since": NOW - 10 * MINUTE,
        "started_at": NOW - 10 * MINUTE,
        "last_evaluated_at": NOW,
        "evaluated_by": "a",
        "notified_state": state,
        "last_notified_at": NOW - 10 * MINUTE,
        **kw,
    }
    return Alert(**values)


def due(
    hooks: list[HookSettings],
    *,
    firing: list[Alert] = (),  # type: ignore[assignment]
    resolved: list[Alert] = (),  # type: ignore[assignment]
    changed: list[Alert] = (),  # type: ignore[assignment]
    last_sent: dict[tuple[str, str], int] | None = None,
    now: int = NOW,
) -> list[tuple[str, str, list[tuple[str, int]]]]:
    batches = batches_due(
        hooks,
        firing=list(firing),
        resolved=list(resolved),
        changed=list(changed),
        last_sent=last_sent or {},
        now=now,
        evaluation_interval_seconds=30,
    )
    return [(b.hook.name, b.fleet, [(a.fingerprint, e) for a, e in b.alerts]) for b in batches]


def test_horizon_is_three_resend_intervals_and_never_shorter_than_passes() -> None:
    assert horizon_ms(AM, 30) == 3 * MINUTE
    slow = HookSettings(
        name="am", kind="alertmanager", url="https://a.example", resend_interval="5s"
    )
    # passes every 30 s write the batches, so the horizon follows them
    assert horizon_ms(slow, 30) == 90_000


def test_firing_alerts_of_a_fleet_go_in_one_batch_with_ends_ahead() -> None:
    firing = [alert("f2"), alert("f1"), alert("c1", fleet="cameras")]
    # one batch per fleet, alerts in fingerprint order; webhook hooks get none
    assert due([AM, WEBHOOK], firing=firing, changed=firing) == [
        ("am", "cameras", [("c1", NOW + 3 * MINUTE)]),
        ("am", "robots", [("f1", NOW + 3 * MINUTE), ("f2", NOW + 3 * MINUTE)]),
    ]


def test_resent_every_resend_interval() -> None:
    firing = [alert("f1")]
    steps = []
    for seconds in (0, 30, 59, 60, 90):
        last = {("am", "robots"): NOW}
        steps.append(
            (seconds, bool(due([AM], firing=firing, last_sent=last, now=NOW + seconds * 1000)))
        )
    assert steps == [(0, False), (30, False), (59, False), (60, True), (90, True)]
    # a change in the fleet sends at once
    assert due([AM], firing=firing, changed=firing, last_sent={("am", "robots"): NOW}) == [
        ("am", "robots", [("f1", NOW + 3 * MINUTE)])
    ]
    # never sent before: sent now
    assert due([AM], firing=firing) == [("am", "robots", [("f1", NOW + 3 * MINUTE)])]


def test_resolved_alerts_carry_their_end_for_one_horizon() -> None:
    resolved = alert("f1", state="resolved", resolved_at=NOW - MINUTE)
    assert due([AM], resolved=[resolved], last_sent={("am", "robots"): NOW - MINUTE}) == [
        ("am", "robots", [("f1", NOW - MINUTE)])
    ]
    # three minutes after the resolution it is left out, and with nothing else no batch is sent
    later = NOW + 2 * MINUTE + 1
    assert due([AM], resolved=[resolved], now=later) == []


def test_only_the_hooks_fleets_and_severities() -> None:
    robots_only = HookSettings(
        name="am", kind="alertmanager", url="https://a.example", fleets=["robots"]
    )
    critical = HookSettings(
        name="pager", kind="alertmanager", url="https://p.example", severities=["critical"]
    )
    firing = [alert("f1"), alert("c1", fleet="cameras")]
    assert due([robots_only, critical], firing=firing) == [
        ("am", "robots", [("f1", NOW + 3 * MINUTE)])
    ]


def test_plan_leaves_out_muted_and_untold_alerts() -> None:
    from analytics.alerting.evaluator import Collected, plan_batches, plan_pass

    told = alert("f1")
    muted = dataclasses.replace(alert("f2"), silenced_by=7)
    untold = dataclasses.replace(alert("f3"), notified_state=None, last_notified_at=None)
    current = {a.fingerprint: a for a in (told, muted, untold)}
    collected = Collected(candidates=[], evaluated=frozenset(), configured=frozenset({"x"}))
    # the rule high_errors is no longer configured: all three resolve
    plan = plan_pass(current, collected, [], now=NOW, evaluator="a", repeat_interval_ms=MINUTE)
    alerts = AlertsSettings(hooks=[AM])
    (batch,) = plan_batches(alerts, plan, resolved=[], last_sent={}, now=NOW)
    # told of f1 and f2 firing (f2 muted later), so told of their resolution; f3 never told
    assert [(a.fingerprint, a.state, e) for a, e in batch.alerts] == [
        ("f1", "resolved", NOW),
        ("f2", "resolved", NOW),
    ]


def _enqueue(engine: Engine, now: int, fingerprints: list[str]) -> int:
    batch = Batch(
        hook=AM, fleet="robots", alerts=[(alert(f), now + 3 * MINUTE) for f in fingerprints]
    )
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            return enqueue_batch(conn, batch, now=now, external_url="", keep_ms=DAY)


def test_a_newer_batch_supersedes_the_waiting_ones(engine: Engine) -> None:
    for fp in ("f1", "f2"):
        add_alert(engine, fp, now=NOW)
    first = _enqueue(engine, NOW, ["f1"])
    # the first is being sent: it is left alone and the next waits behind it
    (claimed,) = outbox.claim(engine, holder="a", now=NOW, claim_ms=MINUTE, limit=10)
    assert claimed.id == first
    second = _enqueue(engine, NOW + MINUTE // 2, ["f1", "f2"])
    assert outbox.claim(engine, holder="b", now=NOW + 31_000, claim_ms=5000, limit=10) == []
    assert delivery(engine, first)["status"] == "pending"
    # the first fails and waits for a retry; a third batch supersedes it and the second
    outbox.record(
        engine,
        delivery_id=first,
        holder="a",
        status=outbox.PENDING,
        now=NOW + 32_000,
        status_code=503,
        error="HTTP 503",
        next_attempt_at=NOW + 40_000,
    )
    third = _enqueue(engine, NOW + MINUTE, ["f1", "f2"])
    statuses = [
        (delivery(engine, i)["status"], delivery(engine, i)["last_error"])
        for i in (first, second, third)
    ]
    assert statuses == [
        ("superseded", f"superseded by delivery {third}"),
        ("superseded", f"superseded by delivery {third}"),
        ("pending", None),
    ]
    (taken,) = outbox.claim(engine, holder="b", now=NOW + MINUTE, claim_ms=5000, limit=10)
    assert taken.id == third
    body = json.loads(taken.body)
    assert [a["labels"]["tierwatch_fingerprint"] for a in body] == ["f1", "f2"]
    with engine.connect() as conn:
        assert outbox.last_batches(conn) == {("am", "robots"): NOW + MINUTE}
    # a day later, finished batches older than the day are deleted; the waiting one stays
    outbox.record(
        engine,
        delivery_id=third,
        holder="b",
        status=outbox.DELIVERED,
        now=NOW + MINUTE,
        status_code=200,
        error=None,
    )
    fourth = _enqueue(engine, NOW + DAY + MINUTE + 1, ["f1"])
    fifth = _enqueue(engine, NOW + DAY + 2 * MINUTE, ["f1"])
    with engine.connect() as conn:
        left = conn.execute(select(DELIVERIES.c.id, DELIVERIES.c.status)).all()
    assert sorted(tuple(r) for r in left) == [(fourth, "superseded"), (fifth, "pending")]
