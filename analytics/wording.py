"""Findings in words: one line that names the metric, both values, the change and the evidence.

Pure. Every text is built from the metric vocabulary, so a metric reads the same
in the report, the alerts and the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from analytics.vocabulary import format_p, format_value, label


def change_text(change: float | None) -> str:
    """``+51%``, ``-13%``, or ``new`` for a move from zero."""
    return "new" if change is None else f"{change * 100:+.0f}%"


def ago(delta: timedelta) -> str:
    """How long ago a reference lies, as people say it: ``a week ago``, ``3 days ago``."""
    days = delta.total_seconds() / 86_400
    if days == 7:
        return "a week ago"
    if days % 7 == 0:
        return f"{int(days // 7)} weeks ago"
    if days == 1:
        return "a day ago"
    if days == int(days):
        return f"{int(days)} days ago"
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hours ago"


def comparison_text(
    metric: str,
    window_value: float | None,
    expected: float | None,
    *,
    against: str,
    change: float | None,
    p_adjusted: float,
    subject: Mapping[str, str] | None = None,
) -> str:
    """``p95 latency 212 ms vs 140 ms usual at this hour (+51%), p<0.001``.

    With a ``subject`` (a sub-segment of the segment) it leads: ``node=edge-2 p95 latency …``.
    """
    who = " ".join(f"{k}={v}" for k, v in (subject or {}).items())
    return (
        (f"{who} " if who else "") + f"{label(metric)} {format_value(metric, window_value)} vs "
        f"{format_value(metric, expected)} {against} ({change_text(change)}), "
        f"{format_p(p_adjusted)}"
    )


#: What a change was compared with, by baseline kind (canaries name their version).
AGAINST = {"seasonal": "usual at this hour", "preceding": "baseline"}


def silence_text(
    observed: float,
    expected: float,
    *,
    since: datetime | None,
    subject: Mapping[str, str] | None = None,
) -> str:
    """``silent since 14:05; 0 attempts vs about 1,200 usual`` (or far below usual)."""
    who = " ".join(f"{k}={v}" for k, v in (subject or {}).items())
    prefix = f"{who} " if who else ""
    counts = f"{observed:,.0f} attempts vs about {_about(expected):,} usual"
    if observed == 0:
        when = f" since {since:%H:%M}" if since is not None else ""
        return f"{prefix}silent{when}; {counts}"
    when = f" since {since:%H:%M}" if since is not None else ""
    change = change_text(observed / expected - 1)
    return f"{prefix}far below its usual traffic{when}; {counts} ({change})"


def _about(value: float) -> int:
    """``value`` rounded to two significant digits: 1,234 is about 1,200."""
    if value < 100:
        return round(value)
    digits = len(str(int(value))) - 2
    return int(round(value, -digits))
