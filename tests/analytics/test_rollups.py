"""Reading rollups: which table serves which hours, and sums per segment or per time bucket."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import Engine, Table

from analytics.aggregates import Aggregates
from analytics.compaction import compact
from analytics.histograms import confidence_row, latency_row
from analytics.rollups import HOUR, plan, read_aggregates, read_buckets, read_segments
from collector.normalise import AttemptRow
from collector.schema import HOURLY_ROLLUPS, ROLLUPS
from tests.analytics.attempts import attempt, store

H = HOUR
T0 = int(datetime(2025, 1, 2, 10, tzinfo=UTC).timestamp())  # 10:00


@pytest.mark.parametrize(
    ("start", "end", "watermark", "expected"),
    [
        (0, 0, None, []),  # an empty range
        (7200, 3600, 3 * H, []),  # an end before the start
        (0, 2 * H, None, [(ROLLUPS, 0, 2 * H)]),  # nothing compacted yet: all minutes
        (0, 3 * H, 3 * H, [(HOURLY_ROLLUPS, 0, 3 * H)]),  # whole compacted hours
        (H, 2 * H, 10 * H, [(HOURLY_ROLLUPS, H, 2 * H)]),  # exactly one compacted hour
        # the watermark inside the range: hours before it, minutes after
        (0, 3 * H, 2 * H, [(HOURLY_ROLLUPS, 0, 2 * H), (ROLLUPS, 2 * H, 3 * H)]),
        (0, 3 * H, 0, [(ROLLUPS, 0, 3 * H)]),  # watermark at the start: nothing compacted in range
        # partial hours at both edges come from minutes, the whole hours between from hours
        (
            1800,
            3 * H + 600,
            3 * H,
            [(ROLLUPS, 1800, H), (HOURLY_ROLLUPS, H, 3 * H), (ROLLUPS, 3 * H, 3 * H + 600)],
        ),
        # a watermark past the end: the partial last hour still comes from minutes
        (
            1800,
            3 * H + 600,
            10 * H,
            [(ROLLUPS, 1800, H), (HOURLY_ROLLUPS, H, 3 * H), (ROLLUPS, 3 * H, 3 * H + 600)],
        ),
        (1800, 2 * H + 600, H, [(ROLLUPS, 1800, 2 * H + 600)]),  # no whole hour is compacted
        (1800, 3000, 10 * H, [(ROLLUPS, 1800, 3000)]),  # inside one hour
        (1800, 2 * H, 10 * H, [(ROLLUPS, 1800, H), (HOURLY_ROLLUPS, H, 2 * H)]),  # start mid-hour
    ],
)
def test_plan(
    start: int, end: int, watermark: int | None, expected: list[tuple[Table, int, int]]
) -> None:
    assert plan(start, end, watermark) == expected


# A few attempts over three hours: 10:00-13:00, two segments of fleet-a and one of fleet-b.
def _rows() -> list[AttemptRow]:
    cloud = {"tier": "cloud", "device_model": None, "node": "cloud-1"}
    shared = b"\x01" * 16
    return [
        attempt(T0 + 5 * 60, latency_ms=100.0, error=True, trace=shared),
        attempt(T0 + 5 * 60 + 30, latency_ms=200.0, confidence=0.5),
        attempt(T0 + 59 * 60, latency_ms=300.0, quality=0.875),
        attempt(T0 + H, latency_ms=100.0, fallback=True, fallback_reason="low_confidence"),
        attempt(T0 + H + 30 * 60, latency_ms=50.0, **cloud),
        attempt(T0 + H + 30 * 60, latency_ms=60.0, shadow=True, quality=0.5, trace=shared, **cloud),
        attempt(T0 + H + 15 * 60, latency_ms=100.0, fleet="fleet-b"),
        attempt(T0 + 2 * H + 10 * 60, latency_ms=400.0, confidence=0.25),
        attempt(T0 + 2 * H + 40 * 60, latency_ms=60.0, **cloud),
        attempt(T0 + 2 * H + 59 * 60 + 59, latency_ms=70.0, **cloud),
    ]


SEGMENT = {
    ("fleet-a", "device"): "device",
    ("fleet-a", "cloud"): "cloud",
    ("fleet-b", "device"): "fleet-b",
}

# The ranges read, as (start, end) offsets from 10:00.
RANGES = [
    (0, 3 * H),  # all three hours
    (H, 2 * H),  # one whole hour
    (30 * 60, 2 * H + 30 * 60),  # partial hours at both edges
    (59 * 60, H + 60),  # two minutes across an hour boundary
    (2 * H + 59 * 60 + 59, 3 * H),  # the last second only: its minute starts before the range
    (3 * H, 4 * H),  # after every attempt
]


def _expected(
    rows: Iterable[AttemptRow], start: int, end: int, *, shadow: bool = False
) -> dict[str, tuple]:
    """What the rollups of ``[start, end)`` must add up to, per segment, from the rows."""
    out: dict[str, list[AttemptRow]] = {}
    for r in rows:
        minute = r.start_time_unix_nano // 60_000_000_000 * 60
        if start <= minute < end and r.shadow == shadow:
            out.setdefault(SEGMENT[(r.fleet, r.tier)], []).append(r)
    return {name: _summary(group) for name, group in out.items()}


def _summary(rows: list[AttemptRow]) -> tuple:
    return (
        len(rows),
        sum(r.error for r in rows),
        sum(r.fallback for r in rows),
        sum(r.latency_ms for r in rows),
        sum(r.confidence or 0.0 for r in rows),
        sum(r.quality or 0.0 for r in rows),
        latency_row([r.latency_ms for r in rows]).tolist(),
        confidence_row([r.confidence for r in rows if r.confidence is not None]).tolist(),
    )


def _read(aggs: Aggregates, names: dict[int, str]) -> dict[str, tuple]:
    """Per segment name, the same summary from aggregates labelled by segment id."""
    out = {}
    for i, label in enumerate(aggs.labels.tolist()):
        c = {k: aggs.column(k)[i] for k in ("attempts", "errors", "fallbacks")}
        out[names[label]] = (
            int(c["attempts"]),
            int(c["errors"]),
            int(c["fallbacks"]),
            aggs.column("latency_ms_sum")[i],
            aggs.column("confidence_sum")[i],
            aggs.column("quality_sum")[i],
            aggs.latency[i].tolist(),
            aggs.confidence[i].tolist(),
        )
    return out


def _names(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        segments = read_segments(conn)
    return {int(row.Index): SEGMENT[(row.fleet, row.tier)] for row in segments.itertuples()}


def _aggregates(engine: Engine, start: int, end: int, **kwargs: object) -> Aggregates:
    with engine.connect() as conn:
        return read_aggregates(conn, start=T0 + start, end=T0 + end, **kwargs)  # type: ignore[arg-type]


def test_read_aggregates_adds_up_each_segment(engine: Engine) -> None:
    rows = _rows()
    store(engine, rows, received=T0 + 3 * H)
    names = _names(engine)
    for start, end in RANGES:
        expected = _expected(rows, T0 + start, T0 + end)
        assert _read(_aggregates(engine, start, end), names) == expected, (start, end)
    # shadow attempts are read on their own
    assert _read(_aggregates(engine, 0, 3 * H, shadow=True), names) == {
        "cloud": (
            1,
            0,
            0,
            60.0,
            0.75,
            0.5,
            latency_row([60.0]).tolist(),
            confidence_row([0.75]).tolist(),
        )
    }


def test_read_aggregates_narrows_to_a_fleet_or_segments(engine: Engine) -> None:
    rows = _rows()
    store(engine, rows, received=T0 + 3 * H)
    names = _names(engine)
    ids = {name: i for i, name in names.items()}
    everything = _expected(rows, T0, T0 + 3 * H)
    assert set(_read(_aggregates(engine, 0, 3 * H, fleet="fleet-a"), names)) == {"device", "cloud"}
    assert _read(_aggregates(engine, 0, 3 * H, fleet="fleet-b"), names) == {
        "fleet-b": everything["fleet-b"]
    }
    assert _read(_aggregates(engine, 0, 3 * H, segment_ids=[ids["cloud"]]), names) == {
        "cloud": everything["cloud"]
    }
    assert len(_aggregates(engine, 0, 3 * H, segment_ids=[])) == 0
    assert len(_aggregates(engine, 0, 3 * H, fleet="fleet-c")) == 0


@pytest.mark.parametrize(
    "now",
    [
        T0 + 3 * H + 600,  # every hour compacted
        T0 + 2 * H + 600,  # the first two hours compacted, the third still minutes
    ],
)
def test_read_aggregates_is_the_same_after_compaction(engine: Engine, now: int) -> None:
    store(engine, _rows(), received=T0 + 3 * H)
    before = [_aggregates(engine, start, end) for start, end in RANGES]
    assert compact(engine, now=now) > 0
    after = [_aggregates(engine, start, end) for start, end in RANGES]
    for (start, end), b, a in zip(RANGES, before, after, strict=True):
        assert a.labels.tolist() == b.labels.tolist(), (start, end)
        np.testing.assert_array_equal(a.sums, b.sums, err_msg=str((start, end)))
        np.testing.assert_array_equal(a.latency, b.latency, err_msg=str((start, end)))
        np.testing.assert_array_equal(a.confidence, b.confidence, err_msg=str((start, end)))


def _buckets(engine: Engine, start: int, end: int, step: int, **kwargs: object) -> dict[int, int]:
    """Attempts per bucket start, as offsets from 10:00."""
    with engine.connect() as conn:
        aggs = read_buckets(conn, start=T0 + start, end=T0 + end, step=step, **kwargs)  # type: ignore[arg-type]
    return {
        int(label) - T0: int(n)
        for label, n in zip(aggs.labels.tolist(), aggs.column("attempts"), strict=True)
    }


@pytest.mark.parametrize(
    ("start", "end", "step", "expected"),
    [
        # per minute: every minute with served attempts
        (0, 3 * H, 60, {300: 2, 3540: 1, 3600: 1, 4500: 1, 5400: 1, 7800: 1, 9600: 1, 10_740: 1}),
        # per ten minutes
        (0, 3 * H, 600, {0: 2, 3000: 1, 3600: 1, 4200: 1, 5400: 1, 7800: 1, 9600: 1, 10_200: 1}),
        # per hour
        (0, 3 * H, 3600, {0: 3, 3600: 3, 7200: 3}),
        # per two hours: labels are multiples of the step since the epoch (10:00 is one)
        (0, 3 * H, 7200, {0: 6, 7200: 3}),
        # a range starting mid-hour: the first bucket is labelled with its hour, holding 10:30 on
        (30 * 60, 2 * H + 30 * 60, 3600, {0: 1, 3600: 3, 7200: 1}),
    ],
)
def test_read_buckets(
    engine: Engine, start: int, end: int, step: int, expected: dict[int, int]
) -> None:
    store(engine, _rows(), received=T0 + 3 * H)
    assert _buckets(engine, start, end, step) == expected
    assert compact(engine, now=T0 + 3 * H + 600) == 3
    # the same buckets when whole hours come from hourly rows
    assert _buckets(engine, start, end, step) == expected


def test_read_buckets_narrow_to_segments_and_fleets(engine: Engine) -> None:
    store(engine, _rows(), received=T0 + 3 * H)
    ids = {name: i for i, name in _names(engine).items()}
    assert _buckets(engine, 0, 3 * H, 3600, segment_ids=[ids["cloud"]]) == {3600: 1, 7200: 2}
    assert _buckets(engine, 0, 3 * H, 3600, fleet="fleet-b") == {3600: 1}
    assert _buckets(engine, 0, 3 * H, 3600, shadow=True) == {3600: 1}
