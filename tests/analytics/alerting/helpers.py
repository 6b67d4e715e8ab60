"""Small builders shared by the alerting tests."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, insert, select

from analytics.alerting import outbox
from analytics.alerting.config import AlertsSettings, HookSettings
from collector.schema import ALERTS, DELIVERIES
from tests.analytics.alerting.conftest import SECRET


def alerts_settings(url: str, *, kind: str = "webhook", **overrides: Any) -> AlertsSettings:
    """Alerting settings with one hook ``ops`` at ``url`` and fast retries."""
    hook = HookSettings(name="ops", kind=kind, url=url, secret=SECRET, timeout_seconds=2)
    values: dict[str, Any] = {
        "hooks": [hook],
        "backoff_initial_seconds": 1.0,
        "backoff_max_seconds": 8.0,
        "claim_seconds": 5.0,
        # the receivers of these tests listen on loopback
        "allowed_hosts": ["127.0.0.1"],
        **overrides,
    }
    return AlertsSettings(**values)


def add_alert(engine: Engine, fingerprint: str, *, now: int, fleet: str = "robots") -> None:
    """An alert row for notifications to refer to."""
    with engine.begin() as conn:
        conn.execute(
            insert(ALERTS).values(
                fingerprint=fingerprint,
                rule="r",
                fleet=fleet,
                severity="warning",
                state="firing",
                labels="{}",
                annotations="{}",
                summary="s",
                active_since=now,
                started_at=now,
                last_evaluated_at=now,
                evaluated_by="test",
            )
        )


def enqueue(
    engine: Engine,
    *,
    now: int,
    body: dict[str, Any] | None = None,
    event: str = "firing",
    fingerprint: str | None = None,
    hook: str = "ops",
    webhook_id: str | None = None,
) -> int:
    """A notification row for hook ``ops``, due at ``now``."""
    with engine.begin() as conn:
        return outbox.enqueue(
            conn,
            webhook_id=webhook_id or f"msg_{now}_{event}_{fingerprint}",
            hook=hook,
            kind="webhook",
            event=event,
            body=json.dumps(body or {"event": event, "fingerprint": fingerprint}),
            fingerprint=fingerprint,
            fleet="robots" if fingerprint else None,
            now=now,
        )


def delivery(engine: Engine, delivery_id: int) -> dict[str, Any]:
    """A deliveries row as a dict."""
    with engine.connect() as conn:
        row = (
            conn.execute(select(DELIVERIES).where(DELIVERIES.c.id == delivery_id)).mappings().one()
        )
    return dict(row)
