"""What every callback is handed: the source, the settings, the clock and who is asking.

Built once by :func:`dashboard.app.create_dashboard` and passed to each page's
``register``; nothing in the dashboard reaches for global state instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from analytics.config import AnalyticsSettings
from collector.auth import DEV_PRINCIPAL, Principal
from dashboard.period import TimeRange, time_range
from dashboard.source import Source


def utc_now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Context:
    """The dependencies of the dashboard's callbacks.

    ``principal`` tells who sent the current request (its token's fleet limits
    what is shown); ``endpoint`` is the base URL senders reach this server at.
    """

    source: Source
    analytics: AnalyticsSettings
    dev: bool = False
    clock: Callable[[], datetime] = utc_now
    principal: Callable[[], Principal] = field(default=lambda: DEV_PRINCIPAL)
    endpoint: Callable[[], str] = field(default=lambda: "http://127.0.0.1:4318")

    def fleet(self, chosen: str | None) -> str | None:
        """The fleet to show: the token's own, else the one chosen (``None``: every fleet)."""
        own = self.principal().fleet
        return own if own is not None else (chosen or None)

    def period(self, window: str | None, baseline: str | None) -> TimeRange:
        """The time range the control asks for, ending now."""
        return time_range(window, baseline, now=self.clock(), settings=self.analytics)
