"""The objectives page on a fake source, and its figure and table."""

from __future__ import annotations

import pandas as pd

from analytics.objectives import ObjectiveStatus
from dashboard import figures
from dashboard.frames import objectives_frame
from dashboard.pages import objectives
from tests.dashboard.fakes import END, FakeSource, context
from tests.dashboard.test_pages import by_id, text

BURN = {"5m": 20.0, "30m": 16.0, "1h": 15.0, "6h": 3.0, "3d": None}
LATENCY = ObjectiveStatus(
    name="tag-fast", task="photo-tag", fleet=None, kind="latency", target=0.95, period="28d",
    sli=0.9612, budget_remaining=0.224, burn_rates=BURN, status="degraded", alert="page",
    requests=1000, threshold_ms=300.0, alert_windows=["1h", "5m"],
)  # fmt: skip
QUALITY = ObjectiveStatus(
    name="tag-shop", task="photo-tag", fleet="shop", kind="quality", target=0.9, period="7d",
    sli=None, budget_remaining=None, burn_rates=dict.fromkeys(BURN), status="insufficient_data",
)  # fmt: skip
SERIES = pd.DataFrame(
    {
        "time": pd.to_datetime([END - pd.Timedelta(hours=h) for h in (2, 1, 0)], utc=True),
        "burn_rate": [0.5, float("nan"), 20.0],
        "budget_remaining": [0.99, 0.99, 0.224],
    }
)


def test_objectives_table_text() -> None:
    frame = objectives_frame([LATENCY, QUALITY])
    assert frame.to_dict("records") == [
        {
            "status": "degraded", "objective": "tag-fast", "task": "photo-tag",
            "fleet": "(every)", "kind": "latency <= 300 ms", "target": "95.00%",
            "period": "28d", "sli": "96.12%", "budget_remaining": "22.4%", "burn_5m": "20.00",
            "burn_1h": "15.00", "burn_6h": "3.00", "burn_3d": "-", "alert": "page",
        },
        {
            "status": "insufficient_data", "objective": "tag-shop", "task": "photo-tag",
            "fleet": "shop", "kind": "quality", "target": "0.9", "period": "7d", "sli": "-",
            "budget_remaining": "-", "burn_5m": "-", "burn_1h": "-", "burn_6h": "-",
            "burn_3d": "-", "alert": "-",
        },
    ]  # fmt: skip


def test_objectives_page_lists_every_kind_and_draws_each() -> None:
    source = FakeSource(objective_rows=[LATENCY, QUALITY], objective_frame=SERIES)
    body, caption = objectives.view(context(source), fleet=None)
    assert caption.startswith("every fleet; periods ending 2025-01-02 12:00 UTC")
    table = by_id(body, "objectives-table")
    assert "tag-fast" in text(table) and "tag-shop" in text(table)
    graph = by_id(body, "objective-tag-fast-latency")
    assert [t.name for t in graph.figure.data] == ["burn rate", "budget left"]
    assert list(graph.figure.data[1].y) == [0.99, 0.99, 0.224]
    # 28 days over 120 points: 5 h 36 min, cut to whole hours; 7 days: 1 h 24 min, an hour
    series = [kwargs for name, kwargs in source.calls if name == "objective_series"]
    assert series == [
        {"name": "tag-fast", "kind": "latency", "step": 18_000},
        {"name": "tag-shop", "kind": "quality", "step": 3_600},
    ]


def test_a_fleet_token_sees_its_fleet_objectives() -> None:
    source = FakeSource(objective_rows=[LATENCY, QUALITY], objective_frame=SERIES)
    body, _ = objectives.view(context(source, fleet="shop"), fleet=None)
    assert "tag-fast" not in text(by_id(body, "objectives-table"))


def test_without_objectives_the_page_says_how_to_add_them() -> None:
    body, _ = objectives.view(context(FakeSource()), fleet=None)
    assert "Add [[objectives]] to the configuration" in text(body)


def test_objective_figure_without_requests_says_so() -> None:
    empty = SERIES.assign(budget_remaining=float("nan"))
    figure = figures.objective_figure(empty, title="t")
    assert figure.layout.annotations[0].text == "no requests in this objective's period yet"


def test_chart_step() -> None:
    # a day: 12 minutes; an hour: a minute at least
    assert (objectives.chart_step(86_400), objectives.chart_step(3600)) == (720, 60)
