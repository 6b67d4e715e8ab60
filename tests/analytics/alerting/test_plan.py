"""One pass planned without a database: rules that fail, rules that were removed, silences."""

from __future__ import annotations

from datetime import timedelta

from analytics.alerting.evaluator import Collected, plan_pass
from analytics.alerting.rules import Candidate
from analytics.alerting.silences import Matcher, Silence
from analytics.alerting.states import Alert

NOW = 1_735_819_200_000
REPEAT = 3_600_000


def firing(fingerprint: str, rule: str) -> Alert:
    return Alert(
        fingerprint=fingerprint,
        rule=rule,
        fleet="robots",
        severity="warning",
        state="firing",
        labels={"alertname": rule, "tier": "device"},
        summary="s",
        value=1.0,
        active_since=NOW - 60_000,
        started_at=NOW - 60_000,
        last_evaluated_at=NOW - 30_000,
        evaluated_by="a",
        notified_state="firing",
        last_notified_at=NOW - 60_000,
    )


def candidate(fingerprint: str, rule: str) -> Candidate:
    return Candidate(
        rule=rule,
        fingerprint=fingerprint,
        fleet="robots",
        severity="warning",
        labels={"alertname": rule, "tier": "device"},
        summary="s",
        value=1.0,
        for_=timedelta(0),
    )


def test_failed_and_removed_rules() -> None:
    current = {
        "f1": firing("f1", "broken"),  # its rule raised an error this pass
        "f2": firing("f2", "removed"),  # its rule is no longer configured
        "f3": firing("f3", "healthy"),  # its rule ran and no longer raises it
    }
    collected = Collected(
        candidates=[], evaluated=frozenset({"healthy"}), configured=frozenset({"broken", "healthy"})
    )
    plan = plan_pass(current, collected, [], now=NOW, evaluator="a", repeat_interval_ms=REPEAT)
    # the failed rule's alert keeps its state; the others resolve, and that is told
    assert sorted((a.fingerprint, a.state) for a in plan.alerts) == [
        ("f2", "resolved"),
        ("f3", "resolved"),
    ]
    assert sorted((a.fingerprint, event) for a, event in plan.notices) == [
        ("f2", "resolved"),
        ("f3", "resolved"),
    ]
    assert plan.new == frozenset()


def test_new_muted_and_notified_alerts() -> None:
    silence = Silence(
        id=7, matchers=(Matcher("alertname", "=", "quiet"),), starts_at=NOW - 1, ends_at=NOW + 1
    )
    collected = Collected(
        candidates=[candidate("n1", "loud"), candidate("n2", "quiet")],
        evaluated=frozenset({"loud", "quiet"}),
        configured=frozenset({"loud", "quiet"}),
    )
    plan = plan_pass({}, collected, [silence], now=NOW, evaluator="a", repeat_interval_ms=REPEAT)
    assert plan.new == frozenset({"n1", "n2"})
    by_fp = {a.fingerprint: a for a in plan.alerts}
    assert (by_fp["n1"].notified_state, by_fp["n1"].last_notified_at, by_fp["n1"].silenced_by) == (
        "firing",
        NOW,
        None,
    )
    assert (by_fp["n2"].notified_state, by_fp["n2"].silenced_by) == (None, 7)
    assert [(a.fingerprint, event) for a, event in plan.notices] == [("n1", "firing")]
    assert [(t.fingerprint, t.from_state, t.to_state) for t in plan.transitions] == [
        ("n1", None, "firing"),
        ("n2", None, "firing"),
    ]
