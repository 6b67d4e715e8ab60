"""Compaction: closed hours of minute rollups folded into hourly rows, a watermark, re-checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from analytics import compaction
from analytics.compaction import closed_before, compact, stale_hours
from analytics.rollups import HOUR, read_aggregates, read_watermark
from collector.normalise import AttemptRow
from collector.rollup import HISTOGRAM_COLUMNS, SUM_COLUMNS
from collector.schema import HOURLY_ROLLUPS, LATE_HOURS, ROLLUPS
from tests.analytics.attempts import attempt, store

H = HOUR
T0 = int(datetime(2025, 1, 2, 10, tzinfo=UTC).timestamp())  # 10:00
CLOUD = {"tier": "cloud", "device_model": None, "node": "cloud-1"}


@pytest.mark.parametrize(
    ("now", "grace", "expected"),
    [
        (T0 + 2 * H + 299, 300, T0 + H),  # 12:04:59: hour 11 is not closed yet
        (T0 + 2 * H + 300, 300, T0 + 2 * H),  # 12:05:00: hour 11 is closed
        (T0 + 2 * H, 0, T0 + 2 * H),  # no grace: closed as soon as it ends
        (T0 + 2 * H + 1800, 3600, T0 + H),  # a grace longer than the open part of the hour
    ],
)
def test_closed_before(now: int, grace: int, expected: int) -> None:
    assert closed_before(now, grace) == expected


def _rows() -> list[AttemptRow]:
    """Attempts in 10:xx, 11:xx and 12:xx on two segments, served and shadow."""
    return [
        attempt(T0 + 60, latency_ms=100.0, error=True, energy_mj=2.5, input_tokens=7),
        attempt(T0 + 61, latency_ms=200.0, confidence=0.5, quality=0.875, energy_mj=1.5),
        attempt(T0 + 59 * 60, latency_ms=300.0, fallback=True, fallback_reason="timeout"),
        attempt(T0 + 30 * 60, latency_ms=40.0, output_tokens=12, **CLOUD),
        attempt(T0 + 30 * 60, latency_ms=45.0, shadow=True, quality=0.5, **CLOUD),
        attempt(T0 + H + 10, latency_ms=100.0, privacy="sensitive", thermal="serious"),
        attempt(T0 + H + 20 * 60, latency_ms=55.0, attempt=2, **CLOUD),
        attempt(T0 + 2 * H + 5, latency_ms=500.0, network="offline"),
    ]


def _minute_sums(engine: Engine) -> dict[tuple[int, int, bool], dict[str, Any]]:
    """The minute rollups added up per (segment, hour, shadow), histograms merged."""
    out: dict[tuple[int, int, bool], dict[str, Any]] = {}
    with engine.connect() as conn:
        for row in conn.execute(select(ROLLUPS)).mappings():
            key = (row["segment_id"], row["minute"] // H * H, bool(row["shadow"]))
            acc = out.setdefault(
                key, {**dict.fromkeys(SUM_COLUMNS, 0), **{c: {} for c in HISTOGRAM_COLUMNS}}
            )
            for c in SUM_COLUMNS:
                acc[c] += row[c]
            for c in HISTOGRAM_COLUMNS:
                for bucket, n in json.loads(row[c]).items():
                    acc[c][bucket] = acc[c].get(bucket, 0) + n
    return out


def _hourly(engine: Engine) -> dict[tuple[int, int, bool], dict[str, Any]]:
    with engine.connect() as conn:
        return {
            (row["segment_id"], row["hour"], bool(row["shadow"])): {
                **{c: row[c] for c in SUM_COLUMNS},
                **{c: json.loads(row[c]) for c in HISTOGRAM_COLUMNS},
            }
            for row in conn.execute(select(HOURLY_ROLLUPS)).mappings()
        }


def _watermark(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return read_watermark(conn)


def test_nothing_to_compact_in_an_empty_store(engine: Engine) -> None:
    assert compact(engine, now=T0) == 0
    assert _watermark(engine) is None
    assert _hourly(engine) == {}


def test_closed_hours_become_hourly_rows_equal_to_the_minute_sums(engine: Engine) -> None:
    store(engine, _rows(), received=T0 + 2 * H + 60)
    # at 12:10 hours 10 and 11 are closed; 12 is still open
    assert compact(engine, now=T0 + 2 * H + 600) == 2
    assert _watermark(engine) == T0 + 2 * H
    minutes = _minute_sums(engine)
    closed = {k: v for k, v in minutes.items() if k[1] < T0 + 2 * H}
    # device and cloud in 10:xx (cloud served and shadow), device and cloud in 11:xx
    assert sorted((h - T0, shadow) for _, h, shadow in closed) == [
        (0, False),
        (0, False),
        (0, True),
        (3600, False),
        (3600, False),
    ]
    assert _hourly(engine) == closed
    # every column, counts and float sums alike, is the minute rows' sum
    device_10 = next(v for k, v in closed.items() if k[1] == T0 and v["errors"] == 1)
    assert {c: device_10[c] for c in ("attempts", "errors", "fallbacks", "latency_ms_sum")} == {
        "attempts": 3,
        "errors": 1,
        "fallbacks": 1,
        "latency_ms_sum": 600.0,
    }
    assert (device_10["energy_mj_sum"], device_10["input_tokens_sum"]) == (4.0, 7)


def test_the_watermark_advances_and_never_moves_back(engine: Engine) -> None:
    store(engine, _rows(), received=T0 + 2 * H + 60)
    assert compact(engine, now=T0 + H + 600) == 1  # 10:xx
    assert _watermark(engine) == T0 + H
    # the same pass again finds nothing new
    assert compact(engine, now=T0 + H + 600) == 0
    assert _watermark(engine) == T0 + H
    assert compact(engine, now=T0 + 3 * H + 600) == 2  # 11:xx and 12:xx
    assert _watermark(engine) == T0 + 3 * H
    assert _hourly(engine) == _minute_sums(engine)
    # a pass with an earlier clock (a slower server) leaves the watermark where it is
    assert compact(engine, now=T0 + H + 600) == 0
    assert _watermark(engine) == T0 + 3 * H


def test_idle_hours_cost_nothing_and_the_watermark_passes_them(engine: Engine) -> None:
    store(engine, [attempt(T0 + 60), attempt(T0 + 4 * H + 60)], received=T0 + 4 * H + 120)
    # five hours closed at 15:10, only two of them with minute rows
    assert compact(engine, now=T0 + 5 * H + 600) == 2
    assert _watermark(engine) == T0 + 5 * H
    assert sorted(h - T0 for _, h, _ in _hourly(engine)) == [0, 4 * H]


def test_the_first_pass_starts_at_the_first_hour_with_rollups(engine: Engine) -> None:
    # nothing is closed yet: the watermark is not written
    store(engine, [attempt(T0 + 60)], received=T0 + 120)
    assert compact(engine, now=T0 + 600) == 0
    assert _watermark(engine) is None
    assert compact(engine, now=T0 + H + 300) == 1
    assert _watermark(engine) == T0 + H


def test_late_attempts_into_compacted_hours_are_rechecked(engine: Engine) -> None:
    store(engine, _rows(), received=T0 + 2 * H + 60)
    assert compact(engine, now=T0 + 3 * H + 600) == 3
    # an attempt for 11:xx arrives after that hour was compacted
    store(engine, [attempt(T0 + H + 30 * 60, latency_ms=80.0)], received=T0 + 3 * H + 700)
    with engine.connect() as conn:
        assert stale_hours(conn, start=T0, end=T0 + 3 * H) == [T0 + H]
    # the next pass rewrites that hour only, and the hourly rows add up again
    assert compact(engine, now=T0 + 3 * H + 720) == 1
    assert _hourly(engine) == _minute_sums(engine)
    assert _watermark(engine) == T0 + 3 * H
    with engine.connect() as conn:
        assert stale_hours(conn, start=T0, end=T0 + 3 * H) == []
        compacted = read_aggregates(conn, start=T0, end=T0 + 3 * H)
        minutes = read_aggregates(conn, start=T0, end=T0 + 3 * H, use_watermark=False)
    assert compacted.column("attempts").tolist() == minutes.column("attempts").tolist()
    assert int(compacted.column("attempts").sum()) == 8  # 7 served on time, 1 late


def test_a_late_attempt_for_a_new_segment_is_rechecked(engine: Engine) -> None:
    store(engine, _rows(), received=T0 + 2 * H + 60)
    assert compact(engine, now=T0 + 3 * H + 600) == 3
    # a segment first seen late: its hour has minute rows but no hourly row
    late = attempt(T0 + 10 * 60, device_model="galaxy-a14", shadow=True)
    store(engine, [late], received=T0 + 3 * H + 700)
    assert compact(engine, now=T0 + 3 * H + 720) == 1
    assert _hourly(engine) == _minute_sums(engine)


@pytest.mark.parametrize(
    "hours_late",
    [
        1,  # the last compacted hour
        3,  # the earliest hour of the re-check (recheck_hours=3)
    ],
)
def test_the_recheck_covers_the_last_recheck_hours(engine: Engine, hours_late: int) -> None:
    store(engine, [attempt(T0 + h * H + 60) for h in range(5)], received=T0 + 5 * H + 60)
    assert compact(engine, now=T0 + 5 * H + 600, recheck_hours=3) == 5
    late_hour = T0 + (5 - hours_late) * H
    store(engine, [attempt(late_hour + 120)], received=T0 + 5 * H + 700)
    assert compact(engine, now=T0 + 5 * H + 720, recheck_hours=3) == 1
    assert _hourly(engine) == _minute_sums(engine)


def test_attempts_later_than_the_recheck_still_reach_reports(engine: Engine) -> None:
    store(engine, [attempt(T0 + 60)], received=T0 + 120)
    assert compact(engine, now=T0 + 48 * H + 600) == 1
    # a device that was offline for two days sends its buffered attempt for 10:xx
    store(engine, [attempt(T0 + 120)], received=T0 + 48 * H + 700)
    compact(engine, now=T0 + 48 * H + 720)
    with engine.connect() as conn:
        compacted = read_aggregates(conn, start=T0, end=T0 + H)
        minutes = read_aggregates(conn, start=T0, end=T0 + H, use_watermark=False)
    assert minutes.column("attempts").tolist() == [2.0]
    assert compacted.column("attempts").tolist() == [2.0]
    with engine.connect() as conn:
        assert conn.execute(select(LATE_HOURS)).all() == []  # the note is gone once folded


def _notes(engine: Engine) -> list[tuple[int, int]]:
    with engine.connect() as conn:
        return [
            (int(h), int(v))
            for h, v in conn.execute(
                select(LATE_HOURS.c.hour, LATE_HOURS.c.version).order_by(LATE_HOURS.c.hour)
            )
        ]


def test_the_collector_notes_hours_before_the_previous_one(engine: Engine) -> None:
    received = T0 + 3 * H + 700  # 13:11:40
    store(
        engine,
        [
            attempt(T0 + 3 * H + 5),  # 13:00, the current hour: not noted
            attempt(T0 + 2 * H + 5),  # 12:00, the previous hour: the re-check covers it
            attempt(T0 + H + 5),  # 11:00: noted
            attempt(T0 + 20 * 60, shadow=True),  # 10:20, shadow: noted
            attempt(T0 + 40 * 60),  # 10:40, the same hour: one note
        ],
        received=received,
    )
    assert _notes(engine) == [(T0, 1), (T0 + H, 1)]
    store(engine, [attempt(T0 + 50 * 60)], received=received + 1)
    assert _notes(engine) == [(T0, 2), (T0 + H, 1)]


def test_a_note_made_during_a_pass_is_kept_for_the_next(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(engine, [attempt(T0 + 60)], received=T0 + 120)
    assert compact(engine, now=T0 + 48 * H + 600, recheck_hours=2) == 1
    store(engine, [attempt(T0 + 120)], received=T0 + 48 * H + 700)
    assert _notes(engine) == [(T0, 1)]
    # another late attempt is noted after the pass read version 1, before it commits
    with engine.begin() as conn:
        conn.execute(LATE_HOURS.update().values(version=LATE_HOURS.c.version + 1))
    original = compaction._hour_rows

    def rows_then_note(conn: Any, hours: Any) -> list[dict[str, Any]]:
        rows = original(conn, hours)
        store(engine, [attempt(T0 + 180)], received=T0 + 48 * H + 710)
        return rows

    monkeypatch.setattr(compaction, "_hour_rows", rows_then_note)
    assert compact(engine, now=T0 + 48 * H + 720, recheck_hours=2) == 1
    monkeypatch.undo()
    assert _notes(engine) == [(T0, 3)]  # the pass saw version 2; the note made after it stays
    assert compact(engine, now=T0 + 48 * H + 780, recheck_hours=2) == 1
    assert _notes(engine) == []
    assert _hourly(engine) == _minute_sums(engine)
