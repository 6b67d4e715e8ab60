"""Expire alerting's history: ended alerts with their events, finished deliveries, silences, leases.

Firing and pending alerts are never deleted, nor is a delivery still ``pending``
(or an alert that has one). Times are Unix milliseconds, horizons days; 0 days
keeps the rows forever. Deletions run in slices (:func:`delete_in_slices`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, exists, func, select

from analytics.alerting.states import INACTIVE, RESOLVED
from collector.db import WRITE
from collector.retention import BATCH, delete_in_slices
from collector.schema import ALERT_EVENTS, ALERTS, DELIVERIES, LEASES, SILENCES

MS_PER_DAY = 86_400_000
PENDING_DELIVERY = "pending"


@dataclass(frozen=True)
class ExpiredAlerts:
    """Rows one expiry of ended alerts deleted, per table."""

    alerts: int
    alert_events: int
    deliveries: int


def expire_alerts(engine: Engine, *, now_ms: int, days: int, batch: int = 500) -> ExpiredAlerts:
    """Delete alerts that ended more than ``days`` ago, their events and finished deliveries.

    An alert has ended when it is ``resolved`` (since ``resolved_at``) or
    ``inactive`` (since its last evaluation). Then finished deliveries (delivered,
    failed or dead) written more than ``days`` ago are deleted too, whatever their
    alert's state; pending ones stay.
    """
    if days <= 0:
        return ExpiredAlerts(0, 0, 0)
    cutoff = now_ms - days * MS_PER_DAY
    ended = and_(
        ALERTS.c.state.in_((RESOLVED, INACTIVE)),
        func.coalesce(ALERTS.c.resolved_at, ALERTS.c.last_evaluated_at) < cutoff,
        ~exists().where(
            DELIVERIES.c.fingerprint == ALERTS.c.fingerprint,
            DELIVERIES.c.status == PENDING_DELIVERY,
        ),
    )
    chosen = select(ALERTS.c.fingerprint).where(ended).limit(batch)
    alerts = events = deliveries = 0
    while True:
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                fingerprints = [str(f) for (f,) in conn.execute(chosen)]
                if fingerprints:
                    # Re-checked in each statement: the evaluator may have revived one.
                    still = select(ALERTS.c.fingerprint).where(
                        ALERTS.c.fingerprint.in_(fingerprints), ended
                    )
                    deliveries += conn.execute(
                        delete(DELIVERIES).where(
                            DELIVERIES.c.fingerprint.in_(still),
                            DELIVERIES.c.status != PENDING_DELIVERY,
                        )
                    ).rowcount
                    events += conn.execute(
                        delete(ALERT_EVENTS).where(ALERT_EVENTS.c.fingerprint.in_(still))
                    ).rowcount
                    alerts += conn.execute(
                        delete(ALERTS).where(ALERTS.c.fingerprint.in_(fingerprints), ended)
                    ).rowcount
        if len(fingerprints) < batch:
            break
    deliveries += delete_in_slices(
        engine,
        DELIVERIES,
        and_(DELIVERIES.c.status != PENDING_DELIVERY, DELIVERIES.c.created_at < cutoff),
        batch=BATCH,
    )
    return ExpiredAlerts(alerts=alerts, alert_events=events, deliveries=deliveries)


def expire_silences(engine: Engine, *, now_ms: int, days: int) -> int:
    """Delete silences that ended more than ``days`` ago; return how many."""
    if days <= 0:
        return 0
    return delete_in_slices(engine, SILENCES, SILENCES.c.ends_at < now_ms - days * MS_PER_DAY)


def expire_leases(engine: Engine, *, now_ms: int, days: int) -> int:
    """Delete leases that expired more than ``days`` ago (nobody took them since)."""
    if days <= 0:
        return 0
    return delete_in_slices(engine, LEASES, LEASES.c.expires_at < now_ms - days * MS_PER_DAY)
