"""Objectives: thresholds at bucket edges, burn rules, status, and budgets from a known store."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import Engine, delete, select, update

from analytics.config import Objective
from analytics.histograms import LATENCY_OFFSET, latency_row
from analytics.objective_sums import objective_report, objective_series, split_period
from analytics.objectives import (
    ObjectiveStatus,
    RequestSums,
    budget_series,
    burn_alert,
    status_of,
    threshold_column,
    within_threshold,
)
from analytics.request_compaction import compact_requests, read_watermark
from collector import buckets
from collector.schema import REQUEST_ROLLUPS
from tests.analytics.objective_store import minute, segment

END = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
E = int(END.timestamp())
K = 140  # a bucket index near 250 ms: the edge gamma**K
EDGE = buckets.GAMMA**K


def test_a_threshold_at_a_bucket_edge_is_exact() -> None:
    # at the edge counts, anything just above it does not
    rows = latency_row([EDGE, EDGE * 0.999, EDGE * 1.001, EDGE * 1.5])[None, :]
    assert within_threshold(rows, EDGE).tolist() == [2.0]
    assert threshold_column(EDGE) == K - LATENCY_OFFSET


@pytest.mark.parametrize(
    ("threshold", "edge"),
    [
        (EDGE * 1.01, K),  # 1% above an edge: that edge (the next is 4% up)
        (EDGE * 1.03, K + 1),  # 3% above: the next edge is nearer
        (EDGE * 0.99, K),  # 1% below an edge: that edge
    ],
)
def test_a_threshold_between_edges_is_read_at_the_nearest_edge(threshold: float, edge: int) -> None:
    assert threshold_column(threshold) == edge - LATENCY_OFFSET


def _burn(**rates: float | None) -> dict[str, float | None]:
    return {"5m": None, "30m": None, "1h": None, "6h": None, "3d": None, **rates}


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        # a fast burn in the last hour and the last five minutes pages
        (_burn(**{"1h": 15.0, "5m": 20.0}), ("page", ["1h", "5m"])),
        # the same hour, but the last five minutes recovered: no page
        (_burn(**{"1h": 15.0, "5m": 2.0}), (None, [])),
        # a steady burn over six hours and half an hour pages too
        (_burn(**{"6h": 7.0, "30m": 6.5, "1h": 7.0, "5m": 7.0}), ("page", ["6h", "30m"])),
        # a slow burn over three days and six hours tickets
        (_burn(**{"3d": 1.5, "6h": 1.2, "30m": 1.0}), ("ticket", ["3d", "6h"])),
        # exactly at the factor is not over it
        (_burn(**{"3d": 1.0, "6h": 1.0}), (None, [])),
        # both a page and a ticket hold: the page
        (_burn(**{"3d": 2.0, "6h": 20.0, "1h": 20.0, "5m": 20.0}), ("page", ["1h", "5m"])),
        # windows without requests never alert
        (_burn(**{"1h": 20.0}), (None, [])),
    ],
)
def test_burn_alert(rates: dict[str, float | None], expected: tuple[str | None, list[str]]) -> None:
    assert burn_alert(rates) == expected


@pytest.mark.parametrize(
    ("budget", "alert", "status"),
    [
        (0.9, None, "ok"),  # budget left, nothing burning
        (0.9, "ticket", "warn"),  # a slow burn
        (0.2, None, "warn"),  # under a quarter of the budget left
        (0.9, "page", "degraded"),  # a fast burn
        (0.0, None, "degraded"),  # the budget is spent
    ],
)
def test_status_of(budget: float, alert: str | None, status: str) -> None:
    assert status_of(budget, alert) == status


def _objective(**values: object) -> Objective:
    base: dict[str, object] = {"name": "tag", "task": "photo-tag", "period": "1d"}
    return Objective.model_validate({**base, **values})


def test_budget_series_spends_the_budget_bucket_by_bucket() -> None:
    objective = _objective(availability={"target": 0.9})
    sums = RequestSums(
        labels=np.array([0, 60, 120]),
        requests=np.array([10.0, 0.0, 10.0]),
        answered=np.array([10.0, 0.0, 8.0]),
        quality_count=np.zeros(3),
        quality_sum=np.zeros(3),
        latency=np.zeros((3, 1), dtype=np.int64),
    )
    frame = budget_series(objective, "availability", sums, step=60)
    assert frame["time"].tolist() == [60, 120, 180]
    # burn: 0, none (no requests), 0.2 / 0.1; budget: 1, 1, 1 - (2/20) / 0.1
    assert frame["burn_rate"].tolist()[0] == 0.0
    assert math.isnan(frame["burn_rate"].tolist()[1])
    assert frame["burn_rate"].tolist()[2] == pytest.approx(2.0)
    assert frame["budget_remaining"].tolist() == pytest.approx([1.0, 1.0, 0.0])


def _store(engine: Engine) -> None:
    with engine.begin() as conn:
        robots = segment(conn, fleet="robots", task="photo-tag")
        cams = segment(conn, fleet="cams", task="photo-tag")
        other = segment(conn, fleet="robots", task="caption")
        # the first minute of the day-long period: 1000 answered fast, 100 qualities of 0.9
        minute(conn, robots, E - 86_400, requests=1000, latencies=[100.0] * 1000,
               qualities=[0.9] * 100)  # fmt: skip
        # two minutes ago: 20 of 100 failed, 40 of the 80 answered slow, 10 qualities of 0.5
        minute(conn, robots, E - 120, requests=100, latencies=[100.0] * 40 + [1000.0] * 40,
               qualities=[0.5] * 10)  # fmt: skip
        # another fleet, same minute: all answered fast
        minute(conn, cams, E - 120, requests=100, latencies=[100.0] * 100)
        # two days ago: outside the period, inside the 3-day window
        minute(conn, robots, E - 2 * 86_400, requests=100, latencies=[100.0] * 100)
        # never read: another task, the minute at the end, and before every window
        minute(conn, other, E - 120, requests=50)
        minute(conn, robots, E, requests=999)
        minute(conn, robots, E - 4 * 86_400, requests=999)


def test_budgets_and_burn_rates_from_known_rollups(engine: Engine) -> None:
    _store(engine)
    every_fleet = _objective(
        latency={"threshold_ms": 300, "target": 0.9},
        availability={"target": 0.99},
        quality={"floor": 0.8},
    )
    robots = _objective(name="tag-robots", fleet="robots", availability={"target": 0.99})
    with engine.connect() as conn:
        rows = objective_report(conn, [every_fleet, robots], end=END)
    got = {(r.name, r.kind): r for r in rows}
    assert list(got) == [
        ("tag", "latency"),
        ("tag", "availability"),
        ("tag", "quality"),
        ("tag-robots", "availability"),
    ]
    latency = got["tag", "latency"]
    # period: 1180 answered, 40 slow; last 5 minutes to 6 hours: 180 answered, 40 slow;
    # 3 days: 1280 answered, 40 slow
    assert latency.requests == 1180
    assert latency.sli == pytest.approx(1140 / 1180)
    assert latency.budget_remaining == pytest.approx(1 - (40 / 1180) / 0.1)
    recent = 40 / 180 / 0.1
    assert latency.burn_rates == pytest.approx(
        {"5m": recent, "30m": recent, "1h": recent, "6h": recent, "3d": 40 / 1280 / 0.1}
    )
    assert (latency.alert, latency.status, latency.threshold_ms) == (None, "ok", 300.0)
    availability = got["tag", "availability"]
    # period: 1200 requests, 20 failed; 5 minutes: 200, 20 failed; 3 days: 1300, 20 failed
    assert availability.sli == pytest.approx(1180 / 1200)
    assert availability.budget_remaining == pytest.approx(1 - (20 / 1200) / 0.01)
    assert availability.burn_rates["5m"] == pytest.approx(10.0)
    assert availability.burn_rates["6h"] == pytest.approx(10.0)
    assert availability.burn_rates["3d"] == pytest.approx(20 / 1300 / 0.01)
    # 6h and 30m both burn 10 > 6: a page
    assert (availability.alert, availability.alert_windows) == ("page", ["6h", "30m"])
    assert availability.status == "degraded"
    quality = got["tag", "quality"]
    # period: 110 qualities summing to 95; 5 minutes: 10 summing to 5
    assert quality.sli == pytest.approx(95 / 110)
    assert quality.budget_remaining == pytest.approx((95 / 110 - 0.8) / 0.2)
    assert quality.burn_rates["5m"] == pytest.approx(0.5 / 0.2)
    assert quality.status == "ok"
    # one fleet: 1100 requests, 20 failed; 5 minutes: 100, 20 failed, a burn of 20
    mine = got["tag-robots", "availability"]
    assert (mine.fleet, mine.requests) == ("robots", 1100)
    assert mine.budget_remaining == pytest.approx(1 - (20 / 1100) / 0.01)
    assert mine.burn_rates["1h"] == pytest.approx(20.0)
    assert (mine.alert, mine.alert_windows) == ("page", ["1h", "5m"])


def test_an_objective_without_requests_has_insufficient_data(engine: Engine) -> None:
    _store(engine)
    with engine.connect() as conn:
        (row,) = objective_report(
            conn, [_objective(task="no-such-task", availability={"target": 0.9})], end=END
        )
    assert (row.sli, row.budget_remaining, row.status, row.requests) == (
        None, None, "insufficient_data", 0
    )  # fmt: skip
    assert set(row.burn_rates.values()) == {None}


def test_objective_series_per_hour(engine: Engine) -> None:
    _store(engine)
    objective = _objective(fleet="robots", availability={"target": 0.99})
    with engine.connect() as conn:
        frame = objective_series(conn, objective, "availability", end=END, step=3600)
    assert len(frame) == 24
    assert frame["time"].iloc[-1] == END
    # the first hour: nothing failed; the last hour: 20 of 100 failed
    assert frame["burn_rate"].iloc[0] == 0.0
    assert frame["burn_rate"].iloc[-1] == pytest.approx(20.0)
    assert frame["budget_remaining"].iloc[-1] == pytest.approx(1 - (20 / 1100) / 0.01)


H = 3600


@pytest.mark.parametrize(
    ("start", "end", "edges", "watermark", "minutes", "hours"),
    [
        # nothing folded yet: every minute row
        (0, 3 * H, [], None, [(0, 3 * H)], []),
        # whole hours before the watermark from hourly rows, the rest from minutes
        (0, 3 * H, [], 2 * H, [(2 * H, 3 * H)], [(0, 2 * H)]),
        # a start inside an hour: that hour's minutes
        (1800, 3 * H, [], 3 * H, [(1800, H)], [(H, 3 * H)]),
        # an edge inside an hour cuts it out of the hourly part
        (0, 4 * H, [H + 300], 4 * H, [(H, 2 * H)], [(0, H), (2 * H, 4 * H)]),
        # an edge on an hour's start does not
        (0, 2 * H, [H], 2 * H, [], [(0, 2 * H)]),
    ],
)
def test_split_period(
    start: int,
    end: int,
    edges: list[int],
    watermark: int | None,
    minutes: list[tuple[int, int]],
    hours: list[tuple[int, int]],
) -> None:
    assert split_period(start, end, edges=edges, watermark=watermark) == (minutes, hours)


def _assert_same(got: list[ObjectiveStatus], expected: list[ObjectiveStatus]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert (a.name, a.kind, a.requests, a.status, a.alert) == (
            b.name, b.kind, b.requests, b.status, b.alert
        )  # fmt: skip
        assert (a.sli, a.budget_remaining) == pytest.approx((b.sli, b.budget_remaining))
        assert a.burn_rates == pytest.approx(b.burn_rates)


def test_folded_hours_give_the_same_answers(engine: Engine) -> None:
    _store(engine)
    objective = _objective(
        latency={"threshold_ms": 300, "target": 0.9},
        availability={"target": 0.99},
        quality={"floor": 0.8},
    )
    with engine.connect() as conn:
        before = objective_report(conn, [objective], end=END)
        series_before = objective_series(conn, objective, "availability", end=END, step=3600)
    # every hour before the end is closed: all folded
    assert compact_requests(engine, now=E, grace_seconds=0) == 4
    with engine.connect() as conn:
        assert read_watermark(conn) == E
        after = objective_report(conn, [objective], end=END)
        series_after = objective_series(conn, objective, "availability", end=END, step=3600)
    _assert_same(after, before)
    assert series_after.equals(series_before)
    # a second pass finds nothing to rewrite
    assert compact_requests(engine, now=E, grace_seconds=0) == 0


def test_a_late_change_to_a_folded_hour_is_rewritten(engine: Engine) -> None:
    _store(engine)
    compact_requests(engine, now=E, grace_seconds=0)
    objective = _objective(fleet="robots", availability={"target": 0.99})
    # a late attempt answered 10 more requests of the day's first minute: moved as the
    # assembler moves them, and a minute row of an hour never seen appears
    with engine.begin() as conn:
        conn.execute(
            update(REQUEST_ROLLUPS)
            .where(REQUEST_ROLLUPS.c.minute == E - 86_400, REQUEST_ROLLUPS.c.requests == 1000)
            .values(requests=1010)
        )
        robots = conn.execute(
            select(REQUEST_ROLLUPS.c.segment_id).where(REQUEST_ROLLUPS.c.minute == E - 86_400)
        ).scalar_one()
        minute(conn, robots, E - 7200, requests=10, latencies=[100.0] * 10)
    assert compact_requests(engine, now=E, grace_seconds=0) == 2
    with engine.connect() as conn:
        (row,) = objective_report(conn, [objective], end=END)
    # 1120 requests, 10 + 20 failed
    assert (row.requests, row.sli) == (1120, pytest.approx(1090 / 1120))
    # minute rows deleted (retention): their hourly rows go too
    with engine.begin() as conn:
        conn.execute(delete(REQUEST_ROLLUPS).where(REQUEST_ROLLUPS.c.minute == E - 7200))
    assert compact_requests(engine, now=E, grace_seconds=0) == 1
    with engine.connect() as conn:
        (row,) = objective_report(conn, [objective], end=END)
    assert row.requests == 1110
