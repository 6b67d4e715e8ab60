"""Alerting's state as the server's own metrics read it: alerts, deliveries, the outbox.

Read from the database at scrape time, so that every server process tells the
same numbers, whichever of them evaluates or delivers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from collector.schema import ALERTS, DELIVERIES


@dataclass(frozen=True)
class AlertingGauges:
    """Alerts by state, notifications by hook and delivery status, and the outbox's backlog."""

    alerts_by_state: dict[str, int]
    #: (hook, status) -> notifications; status is pending, delivered, failed or dead.
    deliveries: dict[tuple[str, str], int]
    #: Notifications still to deliver.
    outbox_depth: int
    #: Age of the oldest notification still to deliver, seconds; 0 when there is none.
    outbox_oldest_age_seconds: float


def read_gauges(engine: Engine, *, now_ms: int) -> AlertingGauges:
    """The gauges as the database holds them at ``now_ms`` (Unix milliseconds)."""
    with engine.connect() as conn:
        states = conn.execute(select(ALERTS.c.state, func.count()).group_by(ALERTS.c.state)).all()
        deliveries = conn.execute(
            select(DELIVERIES.c.hook, DELIVERIES.c.status, func.count()).group_by(
                DELIVERIES.c.hook, DELIVERIES.c.status
            )
        ).all()
        depth, oldest = conn.execute(
            select(func.count(), func.min(DELIVERIES.c.created_at)).where(
                DELIVERIES.c.status == "pending"
            )
        ).one()
    return AlertingGauges(
        alerts_by_state={state: int(n) for state, n in states},
        deliveries={(hook, status): int(n) for hook, status, n in deliveries},
        outbox_depth=int(depth),
        outbox_oldest_age_seconds=max(0.0, (now_ms - oldest) / 1000) if oldest else 0.0,
    )
