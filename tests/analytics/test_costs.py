"""Cost and energy per fleet, task and tier, against hand-computed values (see priced_fleet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from analytics.compaction import compact
from analytics.config import CostSettings
from analytics.costs import CostLine, CostReport, cost_report, price_attempts
from tests.analytics.attempts import attempt, store
from tests.analytics.priced_fleet import END_S, H1, H2, PRICES, write_priced_fleet

END = datetime.fromtimestamp(END_S, tz=UTC)


def _report(engine: Engine, prices: CostSettings = PRICES, bucket: str = "1d") -> CostReport:
    with engine.connect() as conn:
        return cost_report(
            conn,
            end=END,
            window=timedelta(hours=2),
            prices=prices,
            bucket=timedelta(days=1) if bucket == "1d" else timedelta(hours=1),
        )


def _line(  # the expected line, floats compared to 1e-12
    task: str | None,
    tier: str | None,
    requests: int,
    attempts: int,
    shadow: int,
    cost: float | None,
    per_1k: float | None,
    escalation: float | None,
    wasted: float | None,
    shadow_share: float | None,
    energy: float | None,
) -> CostLine:
    def near(v: float | None) -> float | None:
        return None if v is None else pytest.approx(v, rel=1e-12, abs=1e-15)  # type: ignore[return-value]

    return CostLine(
        task, tier, requests, attempts, shadow, near(cost), near(per_1k), near(escalation),
        near(wasted), near(shadow_share), near(energy),
    )  # fmt: skip


def test_cost_per_task_and_tier(engine: Engine) -> None:
    write_priced_fleet(engine)
    report = _report(engine)
    assert [f.fleet for f in report.fleets] == ["fleet-a"]
    fleet = report.fleets[0]
    assert fleet.lines == [
        # chat on edge: e1's 10:00 hour shared 3 of 4 attempts, e2's 11:00 hour all its own
        # and thrown away (a fallback)
        _line("chat", "edge", 4, 4, 0, 0.875, 175.0, 0.0, 0.5 / 0.875, 0.0, None),
        # gpt-large at its own price, R9's escalation at the cloud default
        _line("chat", "cloud", 1, 2, 0, 0.011, 2.2, 0.001 / 0.011, 0.0, 0.0, None),
        # devices are free: shares of nothing are unknown; 140 mJ over the task's 4 requests
        _line("tag", "device", 4, 4, 0, 0.0, 0.0, None, None, None, 35.0),
        # one attempt of the four e1 served in its hour
        _line("tag", "edge", 0, 1, 0, 0.125, 31.25, 0.0, 0.0, 0.0, None),
        # the escalation 0.005 and the shadow 0.003
        _line("tag", "cloud", 0, 1, 1, 0.008, 2.0, 0.625, 0.375, 0.375, None),
    ]
    assert fleet.tasks == [
        _line("chat", None, 5, 6, 0, 0.886, 177.2, 0.001 / 0.886, 0.5 / 0.886, 0.0, None),
        _line("tag", None, 4, 6, 1, 0.133, 33.25, 0.005 / 0.133, 0.003 / 0.133,
              0.003 / 0.133, 35.0),
    ]  # fmt: skip
    assert fleet.total == _line(
        None, None, 9, 12, 1, 1.019, 1019 / 9, 0.006 / 1.019, 0.503 / 1.019, 0.003 / 1.019,
        140 / 9,
    )  # fmt: skip
    assert fleet.driver == (
        "chat on the edge tier costs the most: 0.8750 of 1.0190 (86%), 57% on answers not served."
    )
    assert fleet.unpriced == []
    assert fleet.notes == []
    # one day bucket holds everything
    assert [b.start for b in fleet.buckets] == [datetime(2025, 1, 2, tzinfo=UTC)]
    assert fleet.buckets[0].lines == fleet.lines
    assert fleet.buckets[0].total == fleet.total


def test_hour_buckets(engine: Engine) -> None:
    write_priced_fleet(engine)
    fleet = _report(engine, bucket="1h").fleets[0]
    starts = [b.start for b in fleet.buckets]
    assert starts == [datetime.fromtimestamp(h, tz=UTC) for h in (H1, H2)]
    second = fleet.buckets[1]
    # 11:00: R9 alone, e2's whole hour and a cloud escalation
    assert second.lines == [
        _line("chat", "edge", 1, 1, 0, 0.5, 500.0, 0.0, 1.0, 0.0, None),
        _line("chat", "cloud", 0, 1, 0, 0.001, 1.0, 1.0, 0.0, 0.0, None),
    ]
    assert second.total == _line(None, None, 1, 2, 0, 0.501, 501.0, 0.001 / 0.501,
                                 0.5 / 0.501, 0.0, None)  # fmt: skip
    first = fleet.buckets[0]
    assert first.total.cost == pytest.approx(1.019 - 0.501, rel=1e-12)


def test_unpriced_tiers_and_models_make_costs_unknown(engine: Engine) -> None:
    write_priced_fleet(engine)
    prices = CostSettings.model_validate(
        [
            {"tier": "cloud", "model": "gpt-large", "per_call": 0.01},
            {"tier": "edge", "per_node_hour": 0.5},
        ]
    )
    fleet = _report(engine, prices).fleets[0]
    costs = {(line.task, line.tier): line.cost for line in fleet.lines}
    # chat's cloud holds gpt-large (priced) and small (not): unknown, never a partial sum
    assert costs == {
        ("chat", "edge"): pytest.approx(0.875),
        ("chat", "cloud"): None,
        ("tag", "device"): None,
        ("tag", "edge"): pytest.approx(0.125),
        ("tag", "cloud"): None,
    }
    assert [line.cost for line in fleet.tasks] == [None, None]
    assert fleet.total.cost is None
    assert fleet.total.cost_per_1k_requests is None
    assert fleet.total.escalation_share is None
    # energy needs no price
    assert fleet.total.energy_mj_per_request == pytest.approx(140 / 9)
    assert fleet.unpriced == ["device", "cloud model small"]
    assert fleet.notes == [
        "no price for device, cloud model small: the cost of those attempts is unknown, "
        "and so is every total that holds them"
    ]
    assert fleet.driver == (
        "chat on the edge tier costs the most: 0.8750 (the total is unknown), "
        "57% on answers not served."
    )


def test_attempts_without_a_node_are_one_node(engine: Engine) -> None:
    rows = [
        attempt(H1 + 60 * i, fleet="fleet-n", tier="edge", task="t", node=None) for i in range(3)
    ]
    store(engine, rows, received=END_S)
    fleet = _report(engine).fleets[0]
    assert [(line.tier, line.cost) for line in fleet.lines] == [("edge", 0.5)]
    assert fleet.notes == [
        "3 edge attempts name no node (hybrid.node): they are counted as one node per hour"
    ]


def test_compacted_hours_cost_the_same(engine: Engine) -> None:
    write_priced_fleet(engine)
    before = _report(engine, bucket="1h")
    assert compact(engine, now=END_S + 3600) == 2
    assert _report(engine, bucket="1h") == before


def test_empty_window(engine: Engine) -> None:
    report = _report(engine)
    assert report.fleets == []
    assert (report.window.start, report.window.end) == (END - timedelta(hours=2), END)


def _rows(*rows: tuple[str, str, str, int, bool, int, int]) -> pd.DataFrame:
    """Segment hours: (tier, model, node, hour, shadow, attempts, fallbacks), fleet f, task t."""
    frame = pd.DataFrame(
        rows, columns=["tier", "model", "node", "hour", "shadow", "attempts", "fallbacks"]
    )
    frame["fleet"], frame["task"] = "f", "t"
    for column in ("requests", "cloud_escalations", "input_tokens_sum", "output_tokens_sum"):
        frame[column] = 0
    return frame


NODE_PRICES = CostSettings.model_validate(
    [
        {"tier": "edge", "per_node_hour": 2.0},
        {"tier": "edge", "model": "a", "per_node_hour": 1.0},
        {"tier": "edge", "model": "c", "per_call": 0.25},
    ]
)


@pytest.mark.parametrize(
    ("rows", "costs"),
    [
        # one node-hour, two models: each share at its own model's price (1/4 * 1, 3/4 * 2)
        ((("edge", "a", "n", 0, False, 1, 0), ("edge", "b", "n", 0, False, 3, 0)), [0.25, 1.5]),
        # shadow attempts take their share of the node-hour, all of it wasted
        ((("edge", "b", "n", 0, False, 1, 0), ("edge", "b", "n", 0, True, 1, 0)), [1.0, 1.0]),
        # two nodes, two hours: four node-hours, none shared
        (
            (
                ("edge", "b", "n", 0, False, 2, 0),
                ("edge", "b", "m", 0, False, 2, 0),
                ("edge", "b", "n", 3600, False, 2, 0),
                ("edge", "b", "m", 3600, False, 2, 0),
            ),
            [2.0, 2.0, 2.0, 2.0],
        ),
        # a model priced per call only pays no node-hour, but counts in the node's attempts
        ((("edge", "c", "n", 0, False, 2, 0), ("edge", "b", "n", 0, False, 2, 0)), [0.5, 1.0]),
        # the cloud has no price: unknown
        ((("cloud", "x", "n", 0, False, 1, 0),), [None]),
    ],
)
def test_node_hours_are_shared(
    rows: tuple[tuple[str, str, str, int, bool, int, int], ...], costs: list[float | None]
) -> None:
    priced = price_attempts(_rows(*rows), NODE_PRICES)
    assert [None if np.isnan(c) else c for c in priced["cost"]] == costs
    # a shadow row's whole cost is spent on shadows
    shadow = priced["shadow"]
    assert priced.loc[shadow, "shadow_cost"].tolist() == priced.loc[shadow, "cost"].tolist()
