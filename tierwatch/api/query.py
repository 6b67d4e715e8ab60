"""Query parameters the analytics routers share: periods, dimensions, fleet scope.

Bad values become 400 answers whose detail names the parameter and says what
is expected; the clock is read here, at the edge, and nowhere in analytics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import HTTPException, Query, Request

from analytics.config import AnalyticsSettings
from analytics.durations import BadDuration, parse_duration, parse_time
from collector.auth import Principal
from collector.schema import SEGMENT_DIMENSIONS

WindowQuery = Annotated[
    str | None,
    Query(description="The period judged, e.g. 1h, 30m, 1d (default from settings)."),
]
BaselineQuery = Annotated[
    str | None,
    Query(description="The period before the window it is compared with, e.g. 24h."),
]
EndQuery = Annotated[
    str | None,
    Query(description="End of the window, ISO 8601 (default: now); cut to the minute."),
]
ByQuery = Annotated[
    str | None,
    Query(description="Comma-separated segment dimensions: " + ", ".join(SEGMENT_DIMENSIONS) + "."),
]
FleetQuery = Annotated[
    str | None,
    Query(description="Only this fleet (a fleet's read token sees its own fleet only)."),
]


class BadParameter(HTTPException):
    """A query parameter has a value the API cannot use (400)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(status_code=400, detail=f"invalid {name}: {message}")


def analytics_settings(request: Request) -> AnalyticsSettings:
    """The analytics section of the app's settings."""
    return request.app.state.settings.analytics


def duration(name: str, text: str | None, default: str) -> timedelta:
    """A duration parameter, or ``default`` when absent."""
    try:
        return parse_duration(text if text is not None else default)
    except BadDuration:
        raise BadParameter(
            name, f"{text!r} is not a duration; use a number and a unit, e.g. 90s, 15m, 1h, 7d"
        ) from None


def end_time(text: str | None) -> datetime:
    """The ``end`` parameter, or now."""
    if text is None:
        return datetime.now(UTC)
    try:
        return parse_time(text)
    except ValueError:
        raise BadParameter(
            "end", f"{text!r} is not an ISO 8601 time, e.g. 2025-01-31T12:00:00Z"
        ) from None


def dimensions(text: str | None, default: list[str]) -> list[str]:
    """The ``by`` parameter as a list of known dimensions, in the order given."""
    if text is None:
        return list(default)
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in SEGMENT_DIMENSIONS]
    if unknown:
        raise BadParameter(
            "by", f"unknown dimension {unknown[0]!r}; use {', '.join(SEGMENT_DIMENSIONS)}"
        )
    if len(set(names)) != len(names):
        raise BadParameter("by", "a dimension is repeated")
    return names


def fleet_scope(principal: Principal, fleet: str | None) -> str | None:
    """The fleet a request may see: its token's fleet, or the one asked for."""
    if fleet is not None and "\x00" in fleet:
        # PostgreSQL text cannot hold NUL, and no fleet name has one.
        raise BadParameter("fleet", "a fleet name cannot contain NUL characters")
    if principal.fleet is None:
        return fleet
    if fleet is not None and fleet != principal.fleet:
        raise HTTPException(status_code=403, detail=f"this token may not read fleet {fleet!r}")
    return principal.fleet


@dataclass(frozen=True)
class Period:
    """A window and its baseline as asked for, with defaults filled in."""

    end: datetime
    window: timedelta
    baseline: timedelta


def period(
    settings: AnalyticsSettings,
    *,
    window: str | None,
    baseline: str | None,
    end: str | None,
    default_window: str | None = None,
) -> Period:
    """Parse ``window``, ``baseline`` and ``end`` with the settings' defaults."""
    return Period(
        end=end_time(end),
        window=duration("window", window, default_window or settings.default_window),
        baseline=duration("baseline", baseline, settings.default_baseline),
    )
