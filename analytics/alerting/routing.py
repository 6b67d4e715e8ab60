"""Routing: which configured hooks an alert's notifications go to (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from analytics.alerting.config import HookSettings


def hooks_for(hooks: Sequence[HookSettings], *, fleet: str, severity: str) -> list[HookSettings]:
    """The hooks that take alerts of ``fleet`` and ``severity`` (empty filters take all)."""
    return [
        hook
        for hook in hooks
        if (not hook.fleets or fleet in hook.fleets)
        and (not hook.severities or severity in hook.severities)
    ]
