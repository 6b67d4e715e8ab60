"""The alert state machine, one evaluation at a time, on a clock the test sets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics.alerting.rules import Candidate
from analytics.alerting.states import Alert, advance

T0 = 1_735_819_200_000
FP = "00aa11bb22cc33dd"


def candidate(for_seconds: float, value: float = 0.5) -> Candidate:
    return Candidate(
        rule="high_errors",
        fingerprint=FP,
        fleet="robots",
        severity="warning",
        labels={"alertname": "high_errors", "severity": "warning", "fleet": "robots"},
        summary=f"error rate {value}",
        value=value,
        for_=timedelta(seconds=for_seconds),
    )


def run(for_seconds: float, steps: list[tuple[int, bool]]) -> list[tuple[str | None, str | None]]:
    """Feed (seconds after T0, condition holds) steps; return (state, transition) per step."""
    alert: Alert | None = None
    out = []
    for seconds, holds in steps:
        now = T0 + seconds * 1000
        alert, transition = advance(
            alert, candidate(for_seconds) if holds else None, now=now, evaluator="server-a"
        )
        out.append(
            (
                alert.state if alert else None,
                f"{transition.from_state}->{transition.to_state}" if transition else None,
            )
        )
    return out


@pytest.mark.parametrize(
    ("for_seconds", "steps", "expected"),
    [
        # for=0: fires at once, resolves when the condition stops
        (
            0,
            [(0, True), (30, True), (60, False)],
            [("firing", "None->firing"), ("firing", None), ("resolved", "firing->resolved")],
        ),
        # for=60s: pending until the condition held 60 s
        (
            60,
            [(0, True), (30, True), (60, True)],
            [("pending", "None->pending"), ("pending", None), ("firing", "pending->firing")],
        ),
        # a pending alert that clears never fires: inactive
        (
            60,
            [(0, True), (30, False)],
            [("pending", "None->pending"), ("inactive", "pending->inactive")],
        ),
        # the condition returning after inactive starts the for over
        (
            60,
            [(0, True), (30, False), (40, True), (90, True), (100, True)],
            [
                ("pending", "None->pending"),
                ("inactive", "pending->inactive"),
                ("pending", "inactive->pending"),
                ("pending", None),
                ("firing", "pending->firing"),
            ],
        ),
        # a resolved alert fires again as a new episode
        (
            0,
            [(0, True), (30, False), (60, True)],
            [
                ("firing", "None->firing"),
                ("resolved", "firing->resolved"),
                ("firing", "resolved->firing"),
            ],
        ),
        # nothing happens to an alert that never was
        (0, [(0, False)], [(None, None)]),
        # a resolved alert that stays clear is left alone
        (
            0,
            [(0, True), (30, False), (60, False)],
            [("firing", "None->firing"), ("resolved", "firing->resolved"), ("resolved", None)],
        ),
    ],
)
def test_transitions(
    for_seconds: float, steps: list[tuple[int, bool]], expected: list[tuple[str | None, str | None]]
) -> None:
    assert run(for_seconds, steps) == expected


def test_times_of_an_episode() -> None:
    alert, _ = advance(None, candidate(60), now=T0, evaluator="a")
    assert alert is not None
    assert (alert.active_since, alert.started_at, alert.resolved_at) == (T0, None, None)
    alert, _ = advance(alert, candidate(60, value=0.7), now=T0 + 60_000, evaluator="b")
    assert alert is not None
    assert (alert.active_since, alert.started_at, alert.value) == (T0, T0 + 60_000, 0.7)
    assert (alert.last_evaluated_at, alert.evaluated_by) == (T0 + 60_000, "b")
    alert, _ = advance(alert, candidate(60), now=T0 + 90_000, evaluator="b")
    assert alert is not None
    # still firing: the start stays
    assert alert.started_at == T0 + 60_000
    alert, _ = advance(alert, None, now=T0 + 120_000, evaluator="b")
    assert alert is not None
    assert (alert.state, alert.started_at, alert.resolved_at) == (
        "resolved",
        T0 + 60_000,
        T0 + 120_000,
    )
    # the last summary and value stay with the resolved alert
    assert (alert.summary, alert.value) == ("error rate 0.5", 0.5)
