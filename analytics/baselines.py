"""Which periods a report compares its window with: the calendar, the period before, a reference.

Pure. A window is compared with the same hours of earlier days (and of the same
weekday in earlier weeks) when the store holds them, so that a segment's usual
rhythm over the day is its baseline; the period right before the window serves
segments with too little history and reports given an explicit baseline. Without
an explicit baseline that period is also read in slices of the window's length
(:func:`preceding_slices`), so that how much the hours before the window differ
among themselves (night and day) counts as noise while history is short. Drift
compares the window with a long-ago reference: the same hours a week earlier by
default, or the same hours of each day of a period pinned per fleet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from analytics.durations import from_unix, to_unix
from analytics.times import Time

DAY = 86_400
#: The period before the window is cut into at most this many slices.
MAX_SLICES = 24
#: Reference periods pinned per fleet are read for at most this many days.
MAX_REFERENCE_DAYS = 28

BaselineKind = Literal["seasonal", "preceding", "reference"]


@dataclass(frozen=True)
class Period:
    """A half-open UTC range ``[start, end)``."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        """How long the period is."""
        return int((self.end - self.start).total_seconds())

    def shifted(self, seconds: int) -> Period:
        """The same period ``seconds`` earlier."""
        return Period(
            self.start - timedelta(seconds=seconds), self.end - timedelta(seconds=seconds)
        )


@dataclass(frozen=True)
class Baseline:
    """What a window was compared with: its kind and the periods it spans."""

    kind: BaselineKind
    start: Time
    end: Time


@dataclass(frozen=True)
class Plan:
    """The periods one report reads.

    ``days`` are the same hours of earlier days and weeks, newest first (empty
    when the window is longer than a day); ``preceding`` is the period right
    before the window; ``explicit`` says the report was given its baseline, so
    every change is judged against ``preceding``; ``reference`` are the drift
    reference periods by fleet (``None``: the default for every other fleet);
    ``slices`` cut ``preceding`` into pieces, newest first (empty with an
    explicit baseline).
    """

    window: Period
    preceding: Period
    explicit: bool
    days: tuple[Period, ...]
    reference: Mapping[str | None, tuple[Period, ...]]
    slices: tuple[Period, ...] = ()


def cut_to_minute(end: datetime) -> datetime:
    """``end`` cut to the whole minute, so the minute still filling up is never judged."""
    return from_unix(to_unix(end) // 60 * 60)


def plan_report(
    end: datetime,
    *,
    window: timedelta,
    baseline: timedelta | None,
    default_baseline: timedelta,
    seasonal_days: int,
    seasonal_weeks: int,
    drift_after: timedelta | None,
    pinned: Mapping[str, tuple[datetime, datetime]] | None = None,
) -> Plan:
    """The periods a report ending at ``end`` reads.

    ``baseline`` given makes the report judge every change against the period of
    that length before the window; without it the calendar is used where the
    store holds it (see :func:`seasonal_periods`) and ``default_baseline`` serves
    the rest. ``drift_after`` places the default drift reference (``None``: no
    drift); ``pinned`` maps fleets to reference periods of their own.
    """
    window_s = int(window.total_seconds())
    before_s = int((baseline or default_baseline).total_seconds())
    if window_s < 60 or before_s < 60:
        raise ValueError("window and baseline must be at least one minute")
    stop = cut_to_minute(end)
    judged = Period(stop - timedelta(seconds=window_s), stop)
    preceding = Period(judged.start - timedelta(seconds=before_s), judged.start)
    days = seasonal_periods(judged, days=seasonal_days, weeks=seasonal_weeks)
    reference: dict[str | None, tuple[Period, ...]] = {}
    if drift_after is not None and window_s <= DAY:
        reference[None] = (on_earlier_day(judged, int(drift_after.total_seconds())),)
    for fleet, (start, stop_at) in (pinned or {}).items():
        reference[fleet] = pinned_periods(judged, start, stop_at)
    slices = () if baseline is not None else preceding_slices(judged, preceding)
    return Plan(judged, preceding, baseline is not None, days, reference, slices)


def preceding_slices(window: Period, preceding: Period) -> tuple[Period, ...]:
    """``preceding`` cut into slices as long as the window, newest first.

    At most :data:`MAX_SLICES`: a short window gets longer slices (whole minutes).
    What is left at the start of ``preceding`` is not read as a slice.
    """
    length = max(window.seconds, preceding.seconds // MAX_SLICES // 60 * 60)
    count = min(preceding.seconds // length, MAX_SLICES)
    return tuple(
        Period(
            preceding.end - timedelta(seconds=(i + 1) * length),
            preceding.end - timedelta(seconds=i * length),
        )
        for i in range(count)
    )


def on_earlier_day(window: Period, seconds: int) -> Period:
    """The window's hours ``seconds`` earlier, to the nearest whole hour when it lasts whole hours.

    Earlier days are compared by their hour of day; a window of whole hours then
    reads only hourly rollups for them (a report ending at 16:37 compares with
    16:00 to 17:00 of earlier days), which is what keeps a report over weeks fast.
    """
    shifted = window.shifted(seconds)
    if window.seconds % 3600:
        return shifted
    start = from_unix((to_unix(shifted.start) + 1800) // 3600 * 3600)
    return Period(start, start + timedelta(seconds=window.seconds))


def seasonal_periods(window: Period, *, days: int, weeks: int) -> tuple[Period, ...]:
    """The same hours on each of ``days`` earlier days, then the same weekday of ``weeks`` weeks.

    None when the window is longer than a day (its hours would overlap).
    """
    if window.seconds > DAY:
        return ()
    offsets = [d * DAY for d in range(1, days + 1)]
    offsets += [w * 7 * DAY for w in range(1, weeks + 1) if w * 7 > days]
    return tuple(on_earlier_day(window, offset) for offset in offsets)


def pinned_periods(window: Period, start: datetime, end: datetime) -> tuple[Period, ...]:
    """The window's hours on every day of a pinned reference ``[start, end)`` (at most 28)."""
    out = []
    if window.seconds > DAY:
        return (Period(start, end),)
    for d in range(1, 10_000):
        shifted = on_earlier_day(window, d * DAY)
        if shifted.end <= start:
            break
        if shifted.start >= start and shifted.end <= end:
            out.append(shifted)
        if len(out) >= MAX_REFERENCE_DAYS:
            break
    return tuple(out)


def span(kind: BaselineKind, periods: tuple[Period, ...] | list[Period]) -> Baseline:
    """The :class:`Baseline` that covers ``periods``."""
    return Baseline(kind, min(p.start for p in periods), max(p.end for p in periods))
