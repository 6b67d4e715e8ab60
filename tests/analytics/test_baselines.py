"""Baselines: which periods a report compares its window with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.baselines import (
    MAX_REFERENCE_DAYS,
    Baseline,
    Period,
    cut_to_minute,
    pinned_periods,
    plan_report,
    seasonal_periods,
    span,
)

END = datetime(2025, 1, 30, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WINDOW = Period(END - HOUR, END)


def _plan(end: datetime = END, **overrides: object):
    args: dict[str, object] = {
        "window": HOUR,
        "baseline": None,
        "default_baseline": timedelta(hours=24),
        "seasonal_days": 7,
        "seasonal_weeks": 4,
        "drift_after": timedelta(days=7),
        "pinned": None,
    }
    args.update(overrides)
    return plan_report(end, **args)  # type: ignore[arg-type]


def _days_back(periods: tuple[Period, ...], window: Period = WINDOW) -> list[float]:
    """How many days before ``window`` each period lies."""
    return [(window.start - p.start) / DAY for p in periods]


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (datetime(2025, 1, 30, 12, 0, tzinfo=UTC), END),  # already whole
        (datetime(2025, 1, 30, 12, 0, 45, tzinfo=UTC), END),  # seconds dropped
        (datetime(2025, 1, 30, 12, 0, 59, 999_999, tzinfo=UTC), END),  # never rounded up
        (datetime(2025, 1, 30, 12, 1, tzinfo=UTC), END + timedelta(minutes=1)),  # next minute
    ],
)
def test_cut_to_minute(end: datetime, expected: datetime) -> None:
    assert cut_to_minute(end) == expected


def test_window_and_preceding_end_at_the_minute_cut() -> None:
    plan = _plan(END + timedelta(seconds=42), window=timedelta(minutes=90))
    # the minute still filling up is never judged
    assert plan.window == Period(END - timedelta(minutes=90), END)
    # the preceding period is default_baseline long, right before the window
    assert plan.preceding == Period(END - timedelta(minutes=90) - DAY, END - timedelta(minutes=90))
    assert plan.explicit is False


def test_an_explicit_baseline_is_the_preceding_period() -> None:
    plan = _plan(baseline=timedelta(hours=2))
    assert plan.preceding == Period(END - 3 * HOUR, END - HOUR)
    assert plan.explicit is True
    # the calendar is still planned; the judge decides not to use it
    assert len(plan.days) == 10


@pytest.mark.parametrize(
    ("days", "weeks", "expected"),
    [
        (7, 4, [1, 2, 3, 4, 5, 6, 7, 14, 21, 28]),  # the defaults: a week of days, weeks 2..4
        (7, 1, [1, 2, 3, 4, 5, 6, 7]),  # one week is already covered by the days
        (14, 4, [*range(1, 15), 21, 28]),  # days past a week: week 2 is not read twice
        (0, 0, []),  # no calendar at all
        (2, 0, [1, 2]),  # days only
    ],
)
def test_seasonal_periods(days: int, weeks: int, expected: list[int]) -> None:
    periods = _plan(seasonal_days=days, seasonal_weeks=weeks).days
    assert _days_back(periods) == expected
    # each is the window's hours on that day, newest first
    assert all(p.seconds == 3600 for p in periods)


@pytest.mark.parametrize(
    ("days", "weeks", "expected"),
    [
        (3, 4, [1, 2, 3, 7, 14, 21, 28]),  # a few days, then the same weekday of 4 weeks
        (0, 1, [7]),  # weeks only: last week's same weekday
    ],
)
def test_seasonal_weeks_with_fewer_than_seven_days(
    days: int, weeks: int, expected: list[int]
) -> None:
    assert _days_back(seasonal_periods(WINDOW, days=days, weeks=weeks)) == expected


@pytest.mark.parametrize(
    ("window", "days"),
    [
        (DAY, 10),  # a whole day still has earlier days
        (DAY + timedelta(minutes=1), 0),  # longer than a day: the hours would overlap
        (timedelta(days=7), 0),  # a week
    ],
)
def test_no_seasonal_days_for_windows_longer_than_a_day(window: timedelta, days: int) -> None:
    assert len(_plan(window=window).days) == days


@pytest.mark.parametrize(
    ("window", "drift_after", "expected"),
    [
        (HOUR, timedelta(days=7), {None: (WINDOW.shifted(7 * 86_400),)}),  # a week earlier
        (HOUR, timedelta(days=3), {None: (WINDOW.shifted(3 * 86_400),)}),  # configurable
        (HOUR, None, {}),  # drift turned off
        (2 * DAY, timedelta(days=7), {}),  # no default reference for windows over a day
    ],
)
def test_default_drift_reference(
    window: timedelta, drift_after: timedelta | None, expected: dict
) -> None:
    assert dict(_plan(window=window, drift_after=drift_after).reference) == expected


def test_drift_reference_is_the_same_hours_seven_days_earlier() -> None:
    (reference,) = _plan().reference[None]
    assert reference == Period(
        datetime(2025, 1, 23, 11, tzinfo=UTC), datetime(2025, 1, 23, 12, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("start", "end", "days_back"),
    [
        # ten days that end 30 days before the window: the window's hours on each
        (END - timedelta(days=40), END - timedelta(days=30), list(range(30, 40))),
        # sixty days up to the window: clipped to the 28 nearest
        (END - timedelta(days=60), END - HOUR, list(range(1, MAX_REFERENCE_DAYS + 1))),
        # a reference that starts mid-way through the window's hours skips that day
        (END - timedelta(days=3, minutes=30), END - HOUR, [1, 2]),
        # a reference later than the window holds none of its earlier days
        (END + DAY, END + 3 * DAY, []),
    ],
)
def test_pinned_periods(start: datetime, end: datetime, days_back: list[int]) -> None:
    periods = pinned_periods(WINDOW, start, end)
    assert _days_back(periods) == days_back
    assert all(start <= p.start and p.end <= end for p in periods)


def test_pinned_reference_for_a_window_longer_than_a_day_is_the_whole_period() -> None:
    start, end = END - timedelta(days=40), END - timedelta(days=30)
    window = Period(END - 2 * DAY, END)
    assert pinned_periods(window, start, end) == (Period(start, end),)


def test_pinned_references_per_fleet_sit_beside_the_default() -> None:
    pinned = {
        "robots-eu": (END - timedelta(days=40), END - timedelta(days=30)),
        "phones": (END - timedelta(days=60), END - HOUR),
    }
    plan = _plan(pinned=pinned)
    assert set(plan.reference) == {None, "robots-eu", "phones"}
    assert _days_back(plan.reference["robots-eu"]) == list(range(30, 40))
    assert len(plan.reference["phones"]) == MAX_REFERENCE_DAYS
    # with drift off, pinned fleets keep their reference
    assert set(_plan(pinned=pinned, drift_after=None).reference) == {"robots-eu", "phones"}


@pytest.mark.parametrize(
    ("window", "baseline", "default_baseline"),
    [
        (timedelta(seconds=59), None, DAY),  # a window under a minute
        (HOUR, timedelta(seconds=30), DAY),  # an explicit baseline under a minute
        (HOUR, None, timedelta(seconds=1)),  # a default baseline under a minute
    ],
)
def test_periods_shorter_than_a_minute_are_refused(
    window: timedelta, baseline: timedelta | None, default_baseline: timedelta
) -> None:
    with pytest.raises(ValueError, match=r"^window and baseline must be at least one minute$"):
        _plan(window=window, baseline=baseline, default_baseline=default_baseline)


def test_period_seconds_and_shift() -> None:
    assert WINDOW.seconds == 3600
    assert WINDOW.shifted(86_400) == Period(END - HOUR - DAY, END - DAY)


def test_span_covers_every_period() -> None:
    periods = (WINDOW.shifted(86_400), WINDOW.shifted(3 * 86_400), WINDOW.shifted(2 * 86_400))
    assert span("seasonal", periods) == Baseline("seasonal", END - HOUR - 3 * DAY, END - DAY)
