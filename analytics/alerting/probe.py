"""Test notifications: one made-up alert sent to one hook now, through the outbox.

The test goes the way real notifications go (a ``deliveries`` row, signed, the
same formats), and its first attempt is made at once so the caller sees the
answer; when that attempt fails with a retryable error the delivery workers go on
retrying it like any other.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sqlalchemy import Engine

from analytics.alerting import outbox
from analytics.alerting.config import AlertsSettings
from analytics.alerting.delivery import Attempted, Send, deliver_due
from analytics.alerting.payloads import Notice, render
from analytics.alerting.sender import send
from analytics.alerting.signing import new_webhook_id
from collector.db import WRITE

TEST_RULE = "tierwatch_test"


class UnknownHook(LookupError):
    """No hook of that name is configured under [[alerts.hooks]]."""


def send_test_notification(
    engine: Engine,
    alerts: AlertsSettings,
    *,
    public_url: str,
    hook_name: str,
    fleet: str | None,
    holder: str,
    clock: Callable[[], int],
    rng: random.Random | None = None,
    sender: Send = send,
) -> Attempted:
    """Write a test notification for ``hook_name`` and make its first attempt now."""
    hook = alerts.hook(hook_name)
    if hook is None:
        known = ", ".join(h.name for h in alerts.hooks) or "none configured"
        raise UnknownHook(f"unknown hook {hook_name!r} (hooks: {known})")
    now = clock()
    notice = Notice(
        event="test",
        fingerprint="test",
        rule=TEST_RULE,
        severity="info",
        fleet=fleet,
        labels={"alertname": TEST_RULE, "severity": "info"},
        summary=f"Test notification from tierwatch to hook {hook.name}",
        value=None,
        started_at=now,
        resolved_at=None,
        at=now,
    )
    body = render(hook.kind, notice, receiver=hook.name, external_url=public_url)
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            delivery_id = outbox.enqueue(
                conn,
                webhook_id=new_webhook_id(),
                hook=hook.name,
                kind=hook.kind,
                event="test",
                body=body,
                fingerprint=None,
                fleet=fleet,
                now=now,
            )
    attempted = deliver_due(
        engine,
        alerts,
        holder=holder,
        clock=clock,
        rng=rng or random.Random(),
        ids=[delivery_id],
        sender=sender,
    )
    return attempted[0]
