"""Alertmanager batches: which alerts each Alertmanager hook is sent in a pass (pure).

Alertmanager treats an alert as active until its ``endsAt``; a client keeps an
alert active by sending it again before then, and Alertmanager resolves it on
its own when the client stops (so a dead tierwatch does not leave alerts
firing forever). So an Alertmanager hook is not told once per state change
like the other kinds: in a pass where anything changed for it, or where its
``resend_interval`` has passed since its last batch, it gets one batch per
fleet holding

- every firing alert it takes that operators were told of (not muted), with
  ``endsAt`` three intervals ahead (the interval being the longer of
  ``resend_interval`` and the evaluation interval, since batches are written by
  passes), and
- every alert it takes that resolved within that horizon, with its real ``endsAt``.

A resolution is sent in every batch for one horizon: if a batch is superseded
before it was delivered, the next one still carries it; and if Alertmanager is
unreachable for longer, the alert's last ``endsAt`` has passed by then and
Alertmanager has resolved it already.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analytics.alerting.config import HookSettings
from analytics.alerting.routing import hooks_for
from analytics.alerting.states import Alert

#: ``endsAt`` of a firing alert is this many resend intervals ahead.
HORIZON_INTERVALS = 3


@dataclass(frozen=True)
class Batch:
    """The alerts one Alertmanager hook is sent for one fleet, with each one's ``endsAt``."""

    hook: HookSettings
    fleet: str
    alerts: list[tuple[Alert, int]]


def resend_ms(hook: HookSettings, evaluation_interval_seconds: float) -> int:
    """How often ``hook`` is sent its firing alerts: passes write batches, so no more often."""
    return round(max(hook.resend_interval_seconds, evaluation_interval_seconds) * 1000)


def horizon_ms(hook: HookSettings, evaluation_interval_seconds: float) -> int:
    """How far ahead of a batch a firing alert's ``endsAt`` lies."""
    return HORIZON_INTERVALS * resend_ms(hook, evaluation_interval_seconds)


def batches_due(
    hooks: Sequence[HookSettings],
    *,
    firing: Sequence[Alert],
    resolved: Sequence[Alert],
    changed: Sequence[Alert],
    last_sent: Mapping[tuple[str, str], int],
    now: int,
    evaluation_interval_seconds: float,
) -> list[Batch]:
    """The batches to write at ``now``, one per Alertmanager hook and fleet that needs one.

    ``firing`` are the alerts firing and told now, ``resolved`` those told of
    their resolution (recently), ``changed`` those notified in this pass, and
    ``last_sent`` when each (hook, fleet) was last written a batch.
    """
    out: list[Batch] = []
    for hook in hooks:
        if hook.kind != "alertmanager":
            continue
        horizon = horizon_ms(hook, evaluation_interval_seconds)

        def takes(alert: Alert, hook: HookSettings = hook) -> bool:
            return bool(hooks_for([hook], fleet=alert.fleet, severity=alert.severity))

        fleets = sorted({a.fleet for a in [*firing, *resolved]})
        for fleet in fleets:
            members = [(a, now + horizon) for a in firing if a.fleet == fleet and takes(a)] + [
                (a, a.resolved_at)
                for a in resolved
                if a.fleet == fleet
                and a.resolved_at is not None
                and a.resolved_at >= now - horizon
                and takes(a)
            ]
            if not members:
                continue
            told = any(a.fleet == fleet and takes(a) for a in changed)
            last = last_sent.get((hook.name, fleet))
            due = last is None or now - last >= resend_ms(hook, evaluation_interval_seconds)
            if told or due:
                members.sort(key=lambda item: item[0].fingerprint)
                out.append(Batch(hook=hook, fleet=fleet, alerts=members))
    return out
