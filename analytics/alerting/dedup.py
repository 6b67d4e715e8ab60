"""De-duplication: which notification, if any, an alert needs now (pure).

Operators hear about an alert once when it fires, again every repeat interval
while it keeps firing, and once when it resolves, but only if they were told it
was firing. A muted (silenced) firing alert is not notified; when the silence
ends while it still fires, the firing notification goes out then. Resolutions
are not muted: who was told of the trouble is told it is over.
"""

from __future__ import annotations

from analytics.alerting.states import FIRING, RESOLVED, Alert


def notification_due(alert: Alert, *, now: int, repeat_interval_ms: int, muted: bool) -> str | None:
    """``"firing"``, ``"resolved"`` or ``None``: the notification ``alert`` needs at ``now``."""
    if alert.state == FIRING:
        if muted:
            return None
        if alert.notified_state != FIRING or alert.last_notified_at is None:
            return FIRING
        if now - alert.last_notified_at >= repeat_interval_ms:
            return FIRING
        return None
    if alert.state == RESOLVED and alert.notified_state == FIRING:
        return RESOLVED
    return None
