"""Alert states: pending → firing → resolved, with ``for`` durations (pure, clock passed in).

Like Prometheus: when a rule's condition becomes true the alert is ``pending``; once
it has held for the rule's ``for`` duration it is ``firing`` (at once when ``for``
is zero); when the condition stops a firing alert is ``resolved`` and a pending one
``inactive`` (it never fired, so nobody is told). A resolved or inactive alert whose
condition returns starts a new episode. Times are Unix milliseconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from analytics.alerting.rules import Candidate

PENDING = "pending"
FIRING = "firing"
RESOLVED = "resolved"
INACTIVE = "inactive"
ACTIVE_STATES = (PENDING, FIRING)


@dataclass(frozen=True)
class Alert:
    """An alert as stored in ``alerts`` (times in Unix milliseconds)."""

    fingerprint: str
    rule: str
    fleet: str
    severity: str
    state: str
    labels: dict[str, str]
    summary: str
    value: float | None
    active_since: int
    last_evaluated_at: int
    evaluated_by: str
    started_at: int | None = None
    resolved_at: int | None = None
    notified_state: str | None = None
    last_notified_at: int | None = None
    silenced_by: int | None = None
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Transition:
    """A change of state, for the alert's history."""

    fingerprint: str
    fleet: str
    at: int
    from_state: str | None
    to_state: str
    value: float | None
    summary: str


def advance(
    current: Alert | None, candidate: Candidate | None, *, now: int, evaluator: str
) -> tuple[Alert | None, Transition | None]:
    """The alert after one evaluation at ``now``, and the transition if its state changed.

    ``candidate`` is what the rule raises now for this fingerprint (``None``: the
    condition does not hold). An alert that was never active and is not now stays
    ``None``; a resolved or inactive alert that stays so is returned unchanged.
    """
    if candidate is not None:
        return _active(current, candidate, now=now, evaluator=evaluator)
    if current is None or current.state not in ACTIVE_STATES:
        return current, None
    to_state = RESOLVED if current.state == FIRING else INACTIVE
    updated = dataclasses.replace(
        current,
        state=to_state,
        resolved_at=now if to_state == RESOLVED else None,
        last_evaluated_at=now,
        evaluated_by=evaluator,
    )
    return updated, _transition(current, updated, now)


def _active(
    current: Alert | None, candidate: Candidate, *, now: int, evaluator: str
) -> tuple[Alert, Transition | None]:
    for_ms = int(candidate.for_.total_seconds() * 1000)
    new_episode = current is None or current.state not in ACTIVE_STATES
    active_since = now if new_episode or current is None else current.active_since
    held = now - active_since >= for_ms
    started_at: int | None = None
    state = PENDING
    if held:
        state = FIRING
        still_firing = current is not None and current.state == FIRING
        started_at = current.started_at if current is not None and still_firing else now
    updated = Alert(
        fingerprint=candidate.fingerprint,
        rule=candidate.rule,
        fleet=candidate.fleet,
        severity=candidate.severity,
        state=state,
        labels=dict(candidate.labels),
        annotations=dict(candidate.annotations),
        summary=candidate.summary,
        value=candidate.value,
        active_since=active_since,
        started_at=started_at,
        resolved_at=None,
        last_evaluated_at=now,
        evaluated_by=evaluator,
        notified_state=current.notified_state if current is not None else None,
        last_notified_at=current.last_notified_at if current is not None else None,
        silenced_by=current.silenced_by if current is not None else None,
    )
    if current is not None and current.state == state:
        return updated, None
    return updated, _transition(current, updated, now)


def _transition(before: Alert | None, after: Alert, now: int) -> Transition:
    return Transition(
        fingerprint=after.fingerprint,
        fleet=after.fleet,
        at=now,
        from_state=before.state if before is not None else None,
        to_state=after.state,
        value=after.value,
        summary=after.summary,
    )
