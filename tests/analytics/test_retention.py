"""Rollup retention: minute rows of old compacted hours go, hourly rows after them, answers stay."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from analytics.compaction import compact
from analytics.retention import expire_hourly_rollups, expire_minute_rollups
from analytics.rollups import HOUR, plan, read_aggregates, read_buckets, read_minute_floor
from collector.schema import HOURLY_ROLLUPS, LATE_HOURS, ROLLUPS
from tests.analytics.attempts import attempt, store

DAY = 86_400
NOW = int(datetime(2025, 3, 1, 12, tzinfo=UTC).timestamp())


def _minute_hours(engine: Engine) -> list[int]:
    hour = (ROLLUPS.c.minute // HOUR) * HOUR
    with engine.connect() as conn:
        return [int(h) for (h,) in conn.execute(select(hour).group_by(hour).order_by(hour))]


def _hourly_hours(engine: Engine) -> list[int]:
    hour = HOURLY_ROLLUPS.c.hour
    with engine.connect() as conn:
        return [int(h) for (h,) in conn.execute(select(hour).group_by(hour).order_by(hour))]


def _seed(engine: Engine) -> list[int]:
    """Two attempts in each of the hours 20, 15, 13 and 1 days (and 2 h) before NOW; compacted."""
    hours = [NOW - d * DAY for d in (20, 15, 13, 1)] + [NOW - 2 * HOUR]
    for h in hours:
        store(engine, [attempt(h + 60), attempt(h + 1800, latency_ms=300.0)], received=NOW)
    compact(engine, now=NOW, grace_seconds=300, recheck_hours=24)
    return hours


@pytest.mark.parametrize(
    ("start", "end", "watermark", "floor", "expected"),
    [
        # no floor: partial hours from minute rows, whole ones from hourly
        (
            1800,
            3 * HOUR + 60,
            10 * HOUR,
            None,
            [("r", 1800, HOUR), ("h", HOUR, 3 * HOUR), ("r", 3 * HOUR, 3 * HOUR + 60)],
        ),
        # a period before the floor moves back to whole hours
        (1800, 3 * HOUR + 60, 10 * HOUR, 5 * HOUR, [("h", 0, 3 * HOUR)]),
        # a period across the floor: its start moves back, its end stays
        (
            1800,
            6 * HOUR + 60,
            10 * HOUR,
            5 * HOUR,
            [("h", 0, 6 * HOUR), ("r", 6 * HOUR, 6 * HOUR + 60)],
        ),
        # shorter than an hour, within one hour before the floor: nothing to read
        (1800, 3000, 10 * HOUR, 5 * HOUR, []),
    ],
)
def test_plan_before_the_floor(
    start: int, end: int, watermark: int, floor: int | None, expected: list[tuple[str, int, int]]
) -> None:
    parts = [
        ("h" if table is HOURLY_ROLLUPS else "r", lo, hi)
        for table, lo, hi in plan(start, end, watermark, floor)
    ]
    assert parts == expected


def test_minute_rows_older_than_the_horizon_go_and_hourly_rows_stay(engine: Engine) -> None:
    hours = _seed(engine)
    assert _minute_hours(engine) == hours
    removed = expire_minute_rollups(engine, now=NOW, days=14, hourly_days=400, recheck_hours=24)
    assert removed == 4  # two minute rows in each of the hours 20 and 15 days back
    assert _minute_hours(engine) == hours[2:]
    assert _hourly_hours(engine) == hours
    with engine.connect() as conn:
        assert read_minute_floor(conn) == (NOW - 14 * DAY) // HOUR * HOUR
    # a second pass finds nothing more
    assert expire_minute_rollups(engine, now=NOW, days=14, hourly_days=400) == 0


def test_reports_over_whole_hours_are_the_same_after_pruning(engine: Engine) -> None:
    _seed(engine)
    periods = [
        (NOW - 21 * DAY, NOW - 14 * DAY),  # only pruned hours
        (NOW - 21 * DAY, NOW),  # across the floor, into minute rows not compacted yet
        (NOW - 16 * DAY, NOW - 15 * DAY + HOUR),
    ]
    with engine.connect() as conn:
        before = [read_aggregates(conn, start=s, end=e) for s, e in periods]
        series = read_buckets(conn, start=NOW - 21 * DAY, end=NOW, step=DAY)
    expire_minute_rollups(engine, now=NOW, days=14, hourly_days=400)
    with engine.connect() as conn:
        after = [read_aggregates(conn, start=s, end=e) for s, e in periods]
        series_after = read_buckets(conn, start=NOW - 21 * DAY, end=NOW, step=DAY)
    for a, b in [*zip(before, after, strict=True), (series, series_after)]:
        assert np.array_equal(a.labels, b.labels)
        assert np.array_equal(a.sums, b.sums)
        assert np.array_equal(a.latency, b.latency)


def test_a_period_in_pruned_hours_is_read_by_whole_hours(engine: Engine) -> None:
    hours = _seed(engine)
    expire_minute_rollups(engine, now=NOW, days=14, hourly_days=400)
    with engine.connect() as conn:
        # 20 days back, 00:30 to 01:30 of the hour: read as the whole hour it starts in
        moved = read_aggregates(conn, start=hours[0] + 1800, end=hours[0] + HOUR + 1800)
    assert moved.sums[:, 0].sum() == 2


def test_minute_rows_of_noted_and_rechecked_hours_stay(engine: Engine) -> None:
    hours = _seed(engine)
    # a device sends an attempt of the hour 20 days back late: noted, not compacted yet
    store(engine, [attempt(hours[0] + 120)], received=NOW)
    with engine.connect() as conn:
        assert [h for (h,) in conn.execute(select(LATE_HOURS.c.hour))] == [hours[0]]
    # the floor stops before the noted hour; nothing is deleted
    assert expire_minute_rollups(engine, now=NOW, days=14, hourly_days=400) == 0
    assert _minute_hours(engine) == hours
    # compaction rewrites it; the next pass deletes it
    compact(engine, now=NOW, grace_seconds=300, recheck_hours=24)
    assert expire_minute_rollups(engine, now=NOW, days=14, hourly_days=400) == 5
    # the re-checked hours (24 before the watermark) stay even with a horizon of one day
    assert expire_minute_rollups(engine, now=NOW, days=1, hourly_days=400, recheck_hours=24) == 2
    assert _minute_hours(engine) == hours[3:]


def test_late_attempts_for_a_pruned_hour_are_added_to_its_hourly_rows(engine: Engine) -> None:
    hours = _seed(engine)
    expire_minute_rollups(engine, now=NOW, days=14, hourly_days=400)
    store(engine, [attempt(hours[0] + 120, latency_ms=50.0)], received=NOW)
    compact(engine, now=NOW, grace_seconds=300, recheck_hours=24)
    with engine.connect() as conn:
        total = conn.execute(
            select(func.sum(HOURLY_ROLLUPS.c.attempts)).where(HOURLY_ROLLUPS.c.hour == hours[0])
        ).scalar_one()
        late_rows = conn.execute(
            select(func.count()).select_from(ROLLUPS).where(ROLLUPS.c.minute < hours[1])
        ).scalar_one()
        notes = conn.execute(select(func.count()).select_from(LATE_HOURS)).scalar_one()
    assert (total, late_rows, notes) == (3, 0, 0)
    # a second compaction pass changes nothing
    compact(engine, now=NOW, grace_seconds=300, recheck_hours=24)
    with engine.connect() as conn:
        again = read_aggregates(conn, start=hours[0], end=hours[0] + HOUR)
    assert again.sums[:, 0].sum() == 3


def test_hourly_rows_older_than_their_horizon_go(engine: Engine) -> None:
    hours = _seed(engine)
    # hourly rows go only where minute rows are gone: none before the first minute pass
    assert expire_hourly_rollups(engine, now=NOW, days=14) == 0
    expire_minute_rollups(engine, now=NOW, days=14, hourly_days=14)
    assert expire_hourly_rollups(engine, now=NOW, days=14) == 2  # one row in each of two hours
    assert _hourly_hours(engine) == hours[2:]


def test_zero_keeps_rollups_forever(engine: Engine) -> None:
    hours = _seed(engine)
    assert expire_minute_rollups(engine, now=NOW, days=0, hourly_days=0) == 0
    assert expire_hourly_rollups(engine, now=NOW, days=0) == 0
    assert _minute_hours(engine) == hours
