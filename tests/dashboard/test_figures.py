"""Figure functions: a small frame in, the traces, shapes and axes expected out."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from analytics.advice import Advice, Goals, advise
from analytics.config import CostSettings, Price
from dashboard import figures, frames, theme
from tests.analytics.advice_buckets import FLEET, bucket_sums
from tests.dashboard import fakes


def test_empty_figure_says_why() -> None:
    fig = figures.empty_figure("no fallbacks in this range")
    assert fig.data == ()
    assert [a.text for a in fig.layout.annotations] == ["no fallbacks in this range"]


def test_segment_series_against_band_baseline_and_window() -> None:
    frame = fakes.series({"error_rate": [0.02, np.nan, 0.03, 0.09]})
    window_start = frame.index[3].to_pydatetime()
    fig = figures.segment_series_figure(
        frame,
        metric="error_rate",
        window_start=window_start,
        step=3600,
        baseline_value=0.025,
        band=(0.021, 0.029),
    )
    (trace,) = fig.data
    assert list(trace.y) == [0.02, None, 0.03, 0.09]  # a gap stays a gap
    assert list(trace.x) == list(frame.index)
    band, baseline, window = fig.layout.shapes
    assert (band.y0, band.y1, band.fillcolor) == (0.021, 0.029, theme.BAND_FILL)
    assert (baseline.y0, baseline.y1, baseline.line.dash) == (0.025, 0.025, "dash")
    assert window.x0 == window_start
    assert window.x1 == window_start + timedelta(hours=1)  # to the end of the last bucket
    assert [a.text for a in fig.layout.annotations] == [
        "usual in baseline (10 to 90%)",
        "baseline",
        "window",
    ]
    assert fig.layout.yaxis.tickformat == ".1%"
    assert fig.layout.title.text == "error rate"


def test_segment_series_latency_axis_in_ms_and_no_band() -> None:
    frame = fakes.series({"latency_p95_ms": [50.0, 60.0]})
    fig = figures.segment_series_figure(
        frame,
        metric="latency_p95_ms",
        window_start=frame.index[1].to_pydatetime(),
        step=3600,
    )
    assert len(fig.layout.shapes) == 1  # the window only
    assert fig.layout.yaxis.ticksuffix == " ms"


def test_segment_series_without_values_is_an_empty_figure() -> None:
    frame = fakes.series({"quality_mean": [np.nan, np.nan]})
    fig = figures.segment_series_figure(
        frame,
        metric="quality_mean",
        window_start=frame.index[1].to_pydatetime(),
        step=3600,
    )
    assert fig.data == ()
    assert fig.layout.annotations[0].text == "no mean quality in this range"


def test_latency_figure_dot_at_p95_bar_from_p50_to_p99_per_tier() -> None:
    fig = figures.latency_figure(frames.tier_latency_frame([fakes.comparison()]))
    assert [t.name for t in fig.data] == ["device", "cloud"]
    device, cloud = fig.data
    assert list(device.x) == [158.0]
    assert [list(level) for level in device.y] == [["photo-tag"], ["device"]]
    assert (list(device.error_x.arrayminus), list(device.error_x.array)) == ([112.0], [42.0])
    assert device.marker.color == theme.TIER_COLOURS["device"]
    assert list(cloud.x) == [235.0] and cloud.marker.color == theme.TIER_COLOURS["cloud"]
    assert fig.layout.xaxis.type == "log"


def test_quality_figure_marks_shadow_agreement_hollow() -> None:
    frame = pd.DataFrame(
        {
            "task": ["t", "t"],
            "tier": ["edge", "cloud"],
            "quality": [0.8, 0.9],
            "low": [0.7, 0.85],
            "high": [0.85, 0.95],
            "source": ["shadow agreement", "reported"],
        }
    )
    fig = figures.quality_figure(frame)
    edge, cloud = fig.data
    assert list(edge.marker.symbol) == ["circle-open"]
    assert list(cloud.marker.symbol) == ["circle"]
    assert [round(v, 6) for v in edge.error_x.array] == [0.05]
    assert [round(v, 6) for v in edge.error_x.arrayminus] == [0.1]
    assert figures.quality_figure(frame.iloc[0:0]).data == ()


def test_fallback_reasons_stack_per_tier_panel() -> None:
    t = list(fakes.series({"x": [0, 0]}).index)
    frame = pd.DataFrame(
        {
            "start": t * 3,
            "tier": ["device"] * 4 + ["edge"] * 2,
            "reason": ["error", "error", "timeout", "timeout", "error", "error"],
            "rate": [0.01, 0.02, 0.03, np.nan, 0.05, 0.06],
        }
    )
    fig = figures.fallback_reasons_figure(frame, window_start=t[1].to_pydatetime())
    assert [(tr.name, tr.stackgroup, tr.xaxis) for tr in fig.data] == [
        ("error", "device", "x"),
        ("timeout", "device", "x"),
        ("error", "edge", "x2"),
    ]
    assert list(fig.data[1].y) == [0.03, 0.0]
    assert [a.text for a in fig.layout.annotations] == ["device tier", "edge tier"]
    # one legend entry per reason
    assert [tr.showlegend for tr in fig.data] == [True, True, False]


def test_escalation_figure_one_line_per_task() -> None:
    frame = frames.escalation_frame({"a": fakes.series({"cloud_escalation_rate": [0.1, np.nan]})})
    fig = figures.escalation_figure(frame, window_start=fakes.WINDOW_START)
    assert [(t.name, list(t.y)) for t in fig.data] == [("a", [0.1, None])]
    empty = frames.escalation_frame({"a": fakes.series({"cloud_escalation_rate": [np.nan]})})
    assert figures.escalation_figure(empty, window_start=fakes.WINDOW_START).data == ()


def test_rollout_figure_stacks_shares_in_version_order() -> None:
    fig = figures.rollout_figure(
        fakes.version_points(),
        versions=["2.2.0", "2.1.0"],
        share="device_share",
        window_start=fakes.WINDOW_START,
    )
    assert [(t.name, list(t.y), t.line.color) for t in fig.data] == [
        ("2.2.0", [0.25], theme.series_colour(0)),
        ("2.1.0", [1.0, 0.75], theme.series_colour(1)),
    ]
    assert fig.layout.title.text == "Share of devices per model version"


def test_canary_figure_puts_the_reference_first_in_every_panel() -> None:
    drift = fakes.drift()
    fig = figures.canary_figure(frames.canary_frame(drift), versions=["2.2.0", "2.1.0"])
    assert [(list(t.x), list(t.y)) for t in fig.data] == [
        (["2.1.0", "2.2.0"], [0.025, 0.225]),
        (["2.1.0", "2.2.0"], [0.025, 0.125]),
        (["2.1.0", "2.2.0"], [60.0, 193.0]),
        (["2.1.0", "2.2.0"], [0.881, 0.704]),
    ]
    assert list(fig.data[0].marker.color) == [theme.series_colour(1), theme.series_colour(0)]
    assert [a.text for a in fig.layout.annotations] == [
        "error rate",
        "fallback rate",
        "p95 latency",
        "mean quality",
    ]


def _advice(floor: float | None) -> Advice:
    return advise(
        bucket_sums(**FLEET), task="photo-tag", fleet=None, tier="device",
        goals=Goals(quality_floor=floor), prices=CostSettings([Price(tier="cloud", per_call=1.0)]),
    )  # fmt: skip


def test_advice_curve_quality_against_cost_with_the_floor_and_both_thresholds() -> None:
    advice = _advice(0.6)
    frame = frames.advice_frame(advice)
    assert len(frame) == 101
    assert frame.loc[21, ["threshold", "cost", "coverage"]].tolist() == [0.21, 250.0, "measured"]
    fig = figures.advice_figure(
        frame, cost_title="cost per 1,000 requests", quality_floor=0.6, current=0.21,
        recommended=0.2,
    )  # fmt: skip
    curve, current, recommended = fig.data
    assert len(curve.x) == 101
    assert (current.name, current.x, current.y) == ("current (0.21)", (250.0,), (0.9,))
    assert recommended.name == "recommended (0.20)"
    assert recommended.x == (0.0,) and recommended.y[0] == pytest.approx(0.75)
    # hollow where the cloud outcome is pooled
    assert curve.marker.symbol[0] == "circle" and curve.marker.symbol[-1] == "circle-open"
    (floor,) = fig.layout.shapes
    assert (floor.y0, floor.y1, floor.line.dash) == (0.6, 0.6, "dash")
    assert fig.layout.xaxis.title.text == "cost per 1,000 requests"


def test_advice_curve_without_known_quality_says_so() -> None:
    frame = frames.advice_frame(_advice(None)).assign(quality=None)
    fig = figures.advice_figure(
        frame, cost_title="cost", quality_floor=None, current=0.21, recommended=None
    )
    assert [a.text for a in fig.layout.annotations] == [
        "the quality of the answers served is unknown at every threshold"
    ]
