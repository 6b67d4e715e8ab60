"""Health reports over stores of many segments: read per group in SQL, bounded, and said so."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from analytics import health, units
from analytics.config import AnalyticsSettings
from analytics.health import health_report
from collector.cardinality import OVERFLOW
from collector.rollup import SUM_COLUMNS
from collector.schema import ROLLUPS, SEGMENTS, VALUE_OVERFLOW
from tests.conftest import make_settings
from tierwatch.app import create_app

END = int(time.time()) // 3600 * 3600
SEGMENTS_STORED = 300


def _fill(engine: Engine, count: int = SEGMENTS_STORED) -> int:
    """``count`` device segments, each its own task; segment i has i + 1 attempts a minute."""
    keys = [
        {
            "fleet": "acme",
            "tier": "device" if i % 2 else "edge",
            "task": f"task-{i:03d}",
            "model": "m",
            "model_version": "1",
            "device_model": f"build-{i}",
            "region": "",
            "app_version": "",
            "node": "",
        }
        for i in range(count)
    ]
    rows = []
    for i in range(count):
        for minute in (END - 1800, END - 7200):
            row: dict[str, Any] = dict.fromkeys(SUM_COLUMNS, 0)
            row.update(
                segment_id=i + 1,
                minute=minute,
                shadow=False,
                attempts=i + 1,
                requests=i + 1,
                latency_ms_sum=10.0 * (i + 1),
                latency_hist=f'{{"60":{i + 1}}}',
                confidence_hist="{}",
            )
            rows.append(row)
    with engine.begin() as conn:
        conn.execute(insert(SEGMENTS), keys)
        conn.execute(insert(ROLLUPS), rows)
    return sum(i + 1 for i in range(count))


def _report(engine: Engine, by: list[str], **settings: Any) -> health.HealthReport:
    with engine.connect() as conn:
        return health_report(
            conn,
            end=datetime.fromtimestamp(END, UTC),
            window=timedelta(hours=1),
            baseline=timedelta(hours=3),
            by=by,
            fleet=None,
            settings=AnalyticsSettings(**settings),
        )


def test_many_segments_are_read_per_group_and_the_rest_folded(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = _fill(engine)
    # every read is a group's: the per-segment reader is never called, and no read
    # returns more rows than the groups kept plus one overflow unit per tier
    sizes: list[int] = []
    real = units.to_aggregates

    def counted(rows: Any) -> Any:
        sizes.append(len(rows))
        return real(rows)

    def per_segment(*_: Any, **__: Any) -> None:
        raise AssertionError("read per segment")

    monkeypatch.setattr(units, "to_aggregates", counted)
    monkeypatch.setattr(health, "read_aggregates", per_segment)
    report = _report(engine, ["tier", "task"], report_max_segments=100, report_max_groups=20)
    assert sizes and max(sizes) <= 20 + 2
    keys = [s.key for s in report.segments]
    # the 20 busiest groups as they are, the other 280 in one group per tier
    kept = [k for k in keys if k["task"] != OVERFLOW]
    assert sorted(k["task"] for k in kept) == [f"task-{i}" for i in range(280, 300)]
    assert sorted(k["tier"] for k in keys if k["task"] == OVERFLOW) == ["device", "edge"]
    # nothing is lost: the window's attempts add up to the store's
    assert sum(s.metrics["attempts"] for s in report.segments) == total
    assert report.warnings == [
        "the store holds many segments: this report added them up per group of tier, task "
        "in the database, so findings name no sub-segments",
        "280 of 300 groups with the fewest attempts were added into __other__; "
        "the 20 with the most are shown",
    ]


@pytest.mark.parametrize(
    ("by", "groups"),
    [
        # few groups: every one read as it is, nothing folded
        (["tier"], 2),
        # the whole fleet: one group
        ([], 1),
    ],
)
def test_few_groups_of_many_segments_fold_nothing(
    engine: Engine, by: list[str], groups: int
) -> None:
    total = _fill(engine)
    report = _report(engine, by, report_max_segments=100, report_max_groups=20)
    assert len(report.segments) == groups
    assert sum(s.metrics["attempts"] for s in report.segments) == total
    assert len(report.warnings) == 1


def test_below_the_threshold_the_report_reads_per_segment(engine: Engine) -> None:
    total = _fill(engine, 30)
    report = _report(engine, ["tier", "task"])
    assert len(report.segments) == 30
    assert sum(s.metrics["attempts"] for s in report.segments) == total
    assert report.warnings == []


def test_the_health_api_tells_what_the_collector_folded(db_url: str, engine: Engine) -> None:
    _fill(engine, 10)
    with engine.begin() as conn:
        conn.execute(
            insert(VALUE_OVERFLOW),
            [
                {
                    "fleet": "acme",
                    "dimension": "device_model",
                    "attempts": 12,
                    "distinct_values": 5,
                    "last_seen": END,
                }
            ],
        )
    app = create_app(make_settings(db_url), engine=engine, migrate=False)
    end = datetime.fromtimestamp(END, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with TestClient(app) as client:
        body = client.get(f"/api/v1/health?window=1h&by=tier&end={end}").json()
    assert body["warnings"] == [
        "fleet acme: device_model reached its limit of distinct values; 12 attempts with 5 other "
        "values were stored as __other__"
    ]


def test_the_metrics_frame_of_many_segments_is_bounded_too(engine: Engine) -> None:
    from analytics.timeseries import metrics_frame

    total = _fill(engine)
    with engine.connect() as conn:
        frame = metrics_frame(
            conn,
            start=datetime.fromtimestamp(END - 3600, UTC),
            end=datetime.fromtimestamp(END, UTC),
            by=["task"],
            max_segments=100,
            max_groups=20,
        )
    assert len(frame) == 21
    assert frame["attempts"].sum() == total
    assert (frame["task"] == OVERFLOW).sum() == 1


def test_periods_read_at_once_are_the_periods_read_in_turn(engine: Engine) -> None:
    _fill(engine)
    spans = [
        (END - 3600, END),
        (END - 7200, END - 3600),
        (END - 10800, END - 7200),
        (END - 60, END),
    ]
    with engine.connect() as conn:
        planned = units.plan_units(
            conn, by=["tier", "task"], fleet=None, start=END - 7200, end=END,
            max_groups=20, watermark=None,
        )  # fmt: skip
        in_turn = units.read_unit_periods(
            conn, planned, spans, fleet=None, watermark=None, workers=1
        )
        at_once = units.read_unit_periods(
            conn, planned, spans, fleet=None, watermark=None, workers=3
        )
    assert [len(a) for a in in_turn] == [22, 22, 0, 0]
    for one, other in zip(in_turn, at_once, strict=True):
        assert one.labels.tolist() == other.labels.tolist()
        assert one.sums.tolist() == other.sums.tolist()
        assert one.latency.tolist() == other.latency.tolist()
    # the first hour holds every segment's minute: 1 + 2 + ... + 300 attempts
    assert in_turn[0].column("attempts").sum() == 45_150
