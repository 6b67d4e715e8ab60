"""Query parameters the read routers share, and the report query read from them.

Bad values become 400 answers whose detail names the parameter and says what
is expected; the clock is read here, at the edge, and nowhere in analytics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import HTTPException, Query

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
#: Each parameter a report query can be read from, by name.
REPORT_PARAMETERS: dict[str, object] = {
    "window": WindowQuery,
    "baseline": BaselineQuery,
    "end": EndQuery,
    "by": ByQuery,
    "fleet": FleetQuery,
    **{
        dimension: Annotated[
            str | None, Query(description=f"Only this {dimension.replace('_', ' ')}.")
        ]
        for dimension in SEGMENT_DIMENSIONS
        if dimension != "fleet"
    },
}


class BadParameter(HTTPException):
    """A query parameter has a value the API cannot use (400)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(status_code=400, detail=f"invalid {name}: {message}")


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
class ReportQuery:
    """What a read request asks about: a period, its baseline, a grouping and the segments.

    The window is ``[end - window, end)`` and the baseline the ``baseline`` long
    period right before it; ``asked_baseline`` is the baseline the request named
    (``None``: the health report uses the best baseline the history allows);
    ``key`` holds the dimension values asked for, the fleet limited to the
    reader's token.
    """

    end: datetime
    window: timedelta
    baseline: timedelta
    by: list[str]
    key: dict[str, str]
    asked_baseline: timedelta | None = None

    @property
    def start(self) -> datetime:
        """Start of the window."""
        return self.end - self.window

    @property
    def baseline_start(self) -> datetime:
        """Start of the baseline."""
        return self.start - self.baseline

    @property
    def fleet(self) -> str | None:
        """The fleet asked about (``None``: all)."""
        return self.key.get("fleet")


def report_query(
    principal: Principal,
    settings: AnalyticsSettings,
    given: Mapping[str, str | None],
    *,
    default_window: str | None = None,
) -> ReportQuery:
    """The report query from the parameters ``given`` (absent ones take the settings' defaults).

    Checked in this order: ``end``, ``window``, ``baseline``, ``by``, then the fleet.
    """
    end = end_time(given.get("end"))
    window = duration("window", given.get("window"), default_window or settings.default_window)
    baseline = duration("baseline", given.get("baseline"), settings.default_baseline)
    by = dimensions(given.get("by"), settings.default_by)
    values = {**given, "fleet": fleet_scope(principal, given.get("fleet"))}
    key = {d: v for d in SEGMENT_DIMENSIONS if (v := values.get(d)) is not None}
    asked = baseline if given.get("baseline") is not None else None
    return ReportQuery(
        end=end, window=window, baseline=baseline, by=by, key=key, asked_baseline=asked
    )
