"""Chart figures: a data frame in, a Plotly figure out, nothing else.

Every function is pure: ``(df, *, options) -> Figure``. Colours and chart style
come from :mod:`dashboard.theme`; an empty frame gives a figure that says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics import vocabulary
from dashboard import theme


def _axis_format(name: str) -> dict[str, str]:
    metric = vocabulary.metric(name)
    if metric.kind == "rate":
        return {"tickformat": ".1%"}
    if metric.unit in ("ms", "mJ"):
        return {"ticksuffix": f" {metric.unit}"}
    return {}


def empty_figure(message: str) -> go.Figure:
    """A blank chart that says why it is blank."""
    fig = go.Figure()
    fig.update_layout(
        **theme.layout_defaults(),
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"color": theme.MUTED, "size": 14},
            }
        ],
        height=220,
    )
    return fig


def segment_series_figure(
    df: pd.DataFrame,
    *,
    metric: str,
    window_start: datetime,
    step: int,
    baseline_value: float | None = None,
    band: tuple[float, float] | None = None,
    reference: pd.DataFrame | None = None,
    reference_name: str = "baseline",
) -> go.Figure:
    """One metric of a segment per time bucket, against its baseline band and value.

    ``df`` is a :func:`~analytics.timeseries.segment_series` frame (index: bucket
    start). The band spans what the metric usually kept in the baseline; the
    dashed line is the baseline's value; the shaded region on the right is the
    window being judged. A segment judged against another version of itself
    (a canary) passes that version's series as ``reference``, named
    ``reference_name`` (e.g. ``model_version 2.1.0``): its line is drawn in grey
    and the band and value are that version's.
    """
    title = vocabulary.label(metric)
    if df.empty or df[metric].dropna().empty:
        return empty_figure(f"no {title} in this range")
    fig = go.Figure()
    if reference is not None and not reference[metric].dropna().empty:
        fig.add_trace(
            go.Scatter(
                x=list(reference.index),
                y=[None if pd.isna(v) else float(v) for v in reference[metric]],
                mode="lines",
                name=reference_name,
                line={"color": theme.GREY, "width": 1.5},
                connectgaps=False,
            )
        )
    fig.add_trace(
        go.Scatter(
            x=list(df.index),
            y=[None if pd.isna(v) else float(v) for v in df[metric]],
            mode="lines+markers",
            name="this segment",
            line={"color": theme.BLUE, "width": 2},
            marker={"size": 4},
            connectgaps=False,
        )
    )
    if band is not None:
        fig.add_hrect(
            y0=band[0],
            y1=band[1],
            fillcolor=theme.BAND_FILL,
            line_width=0,
            layer="below",
            annotation_text="usual in baseline (10 to 90%)"
            if reference is None
            else f"usual on {reference_name} (10 to 90%)",
            annotation_position="top left",
        )
    if baseline_value is not None:
        fig.add_hline(
            y=baseline_value,
            line={"color": theme.MUTED, "dash": "dash", "width": 1},
            annotation_text=reference_name,
            annotation_position="bottom right",
        )
    fig.add_vrect(
        x0=window_start,
        x1=df.index.max() + timedelta(seconds=step),
        fillcolor=theme.WINDOW_FILL,
        line_width=0,
        layer="below",
        annotation_text="window",
        annotation_position="top right",
    )
    fig.update_layout(
        **theme.layout_defaults(),
        title={"text": title},
        height=320,
        showlegend=len(fig.data) > 1,
    )
    fig.update_yaxes(**_axis_format(metric), rangemode="tozero")
    return fig


def latency_figure(
    df: pd.DataFrame,
    *,
    title: str = "Latency per task and tier: the bar runs from p50 to p99, the dot is p95",
) -> go.Figure:
    """Latency distribution per task and tier: the bar runs from p50 to p99, the dot is p95.

    ``df`` has columns ``task``, ``tier``, ``p50``, ``p95``, ``p99`` (ms).
    """
    df = df.dropna(subset=["p95"])
    if df.empty:
        return empty_figure("no latency to compare in this range")
    fig = go.Figure()
    for tier in _tiers(df):
        rows = df[df["tier"] == tier]
        fig.add_trace(
            go.Scatter(
                x=rows["p95"].tolist(),
                y=[rows["task"].tolist(), rows["tier"].tolist()],
                mode="markers",
                name=tier,
                marker={"color": theme.TIER_COLOURS.get(tier, theme.GREY), "size": 10},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (rows["p99"] - rows["p95"]).tolist(),
                    "arrayminus": (rows["p95"] - rows["p50"]).tolist(),
                    "color": theme.TIER_COLOURS.get(tier, theme.GREY),
                    "thickness": 3,
                    "width": 0,
                },
                customdata=rows[["p50", "p99"]].to_numpy().tolist(),
                hovertemplate="p50 %{customdata[0]:.0f} ms · p95 %{x:.0f} ms · "
                "p99 %{customdata[1]:.0f} ms<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        **{**theme.layout_defaults(), "hovermode": "closest"},
        title={"text": title},
        height=120 + 40 * len(df),
    )
    fig.update_xaxes(type="log", **_axis_format("latency_p95_ms"), title_text="latency")
    fig.update_yaxes(autorange="reversed")
    return fig


def quality_figure(df: pd.DataFrame) -> go.Figure:
    """Quality per task and tier with 95% intervals; hollow marks are shadow agreement.

    ``df`` has columns ``task``, ``tier``, ``quality``, ``low``, ``high``, ``source``.
    """
    df = df.dropna(subset=["quality"])
    if df.empty:
        return empty_figure("no quality reported and no cloud shadows in this range")
    fig = go.Figure()
    for tier in _tiers(df):
        rows = df[df["tier"] == tier]
        colour = theme.TIER_COLOURS.get(tier, theme.GREY)
        fig.add_trace(
            go.Scatter(
                x=rows["quality"].tolist(),
                y=[rows["task"].tolist(), rows["tier"].tolist()],
                mode="markers",
                name=tier,
                marker={
                    "color": colour,
                    "size": 10,
                    "symbol": [
                        "circle-open" if s == "shadow agreement" else "circle"
                        for s in rows["source"]
                    ],
                    "line": {"width": 2, "color": colour},
                },
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (rows["high"] - rows["quality"]).fillna(0).tolist(),
                    "arrayminus": (rows["quality"] - rows["low"]).fillna(0).tolist(),
                    "color": colour,
                },
                customdata=rows[["source"]].to_numpy().tolist(),
                hovertemplate="quality %{x:.3f} (%{customdata[0]})<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        **{**theme.layout_defaults(), "hovermode": "closest"},
        title={"text": "Quality per task and tier (95% interval; hollow: agreement with cloud)"},
        height=120 + 40 * len(df),
    )
    fig.update_xaxes(range=[0, 1.02], title_text="quality")
    fig.update_yaxes(autorange="reversed")
    return fig


def _tiers(df: pd.DataFrame) -> list[str]:
    present = set(df["tier"])
    return [t for t in theme.TIER_COLOURS if t in present] + sorted(
        present - set(theme.TIER_COLOURS)
    )


def fallback_reasons_figure(df: pd.DataFrame, *, window_start: datetime) -> go.Figure:
    """Fallback rate by reason over time, stacked, one panel per tier.

    ``df`` has columns ``start``, ``tier``, ``reason``, ``rate``.
    """
    if df.empty:
        return empty_figure("no fallbacks in this range")
    tiers = _tiers(df)
    reasons = sorted(set(df["reason"]))
    fig = make_subplots(
        rows=len(tiers),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[f"{t} tier" for t in tiers],
        vertical_spacing=0.12 if len(tiers) > 1 else 0.0,
    )
    for row, tier in enumerate(tiers, start=1):
        for i, reason in enumerate(reasons):
            rows = df[(df["tier"] == tier) & (df["reason"] == reason)]
            if rows.empty:
                continue
            fig.add_trace(
                go.Scatter(
                    x=rows["start"].tolist(),
                    y=rows["rate"].fillna(0).tolist(),
                    name=reason,
                    legendgroup=reason,
                    showlegend=row == 1 or tier == tiers[0],
                    stackgroup=tier,
                    mode="lines",
                    line={"color": theme.series_colour(i), "width": 1},
                ),
                row=row,
                col=1,
            )
        fig.update_yaxes(**_axis_format("fallback_rate"), rangemode="tozero", row=row, col=1)
    fig.add_vrect(
        x0=window_start,
        x1=df["start"].max(),
        fillcolor=theme.WINDOW_FILL,
        line_width=0,
        layer="below",
        row="all",
        col=1,
    )
    fig.update_layout(
        **theme.layout_defaults(),
        title={"text": "Fallback rate by reason"},
        height=140 + 180 * len(tiers),
    )
    return fig


def escalation_figure(df: pd.DataFrame, *, window_start: datetime) -> go.Figure:
    """Cloud escalation rate over time, one line per task.

    ``df`` has columns ``start``, ``task``, ``rate``.
    """
    if df.empty or df["rate"].dropna().empty:
        return empty_figure("no requests started on a local tier in this range")
    fig = go.Figure()
    for i, task in enumerate(dict.fromkeys(df["task"])):
        rows = df[df["task"] == task]
        fig.add_trace(
            go.Scatter(
                x=rows["start"].tolist(),
                y=[None if pd.isna(v) else float(v) for v in rows["rate"]],
                name=task,
                mode="lines",
                line={"color": theme.series_colour(i), "width": 2},
            )
        )
    fig.add_vrect(
        x0=window_start,
        x1=df["start"].max(),
        fillcolor=theme.WINDOW_FILL,
        line_width=0,
        layer="below",
        annotation_text="window",
        annotation_position="top right",
    )
    fig.update_layout(
        **theme.layout_defaults(),
        title={"text": "Cloud escalation rate per task"},
        height=320,
    )
    fig.update_yaxes(**_axis_format("cloud_escalation_rate"), rangemode="tozero")
    return fig


def rollout_figure(
    df: pd.DataFrame, *, versions: Sequence[str], share: str, window_start: datetime
) -> go.Figure:
    """Share per model version over time, stacked: the rollout.

    ``df`` is a :func:`~analytics.versions.version_series` frame; ``share`` the
    column drawn (``device_share`` or ``attempt_share``); ``versions`` the order
    (newest first) that fixes each version's colour.
    """
    if df.empty:
        return empty_figure("no attempts of this model in this range")
    fig = go.Figure()
    for i, version in enumerate(versions):
        rows = df[df["version"] == version]
        if rows.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=rows["start"].tolist(),
                y=rows[share].fillna(0).tolist(),
                name=version,
                stackgroup="share",
                mode="lines",
                line={"color": theme.series_colour(i), "width": 1},
            )
        )
    fig.add_vrect(
        x0=window_start,
        x1=df["start"].max(),
        fillcolor=theme.WINDOW_FILL,
        line_width=0,
        layer="below",
    )
    what = "devices" if share == "device_share" else "attempts"
    fig.update_layout(
        **theme.layout_defaults(),
        title={"text": f"Share of {what} per model version"},
        height=320,
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return fig


def canary_figure(df: pd.DataFrame, *, versions: Sequence[str]) -> go.Figure:
    """Each version against the previous dominant one, one panel per metric.

    ``df`` is a :func:`dashboard.frames.canary_frame`; ``versions`` the order
    (newest first) that fixes each version's colour, as on the rollout chart.
    """
    if df.empty:
        return empty_figure("no version ran beside the previous dominant one in this window")
    metrics = list(dict.fromkeys(df["metric"]))
    labels = list(dict.fromkeys(df["label"]))
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=labels)
    colour = {v: theme.series_colour(i) for i, v in enumerate(versions)}
    reference = str(df["reference"].iloc[0])
    for col, metric in enumerate(metrics, start=1):
        rows = df[df["metric"] == metric]
        names = [reference, *rows["version"].tolist()]
        values = [rows["reference_value"].iloc[0], *rows["value"].tolist()]
        fig.add_trace(
            go.Bar(
                x=names,
                y=[None if pd.isna(v) else float(v) for v in values],
                marker={"color": [colour.get(n, theme.GREY) for n in names]},
                showlegend=False,
                name=metric,
            ),
            row=1,
            col=col,
        )
        fig.update_yaxes(**_axis_format(metric), rangemode="tozero", row=1, col=col)
        fig.update_xaxes(type="category", row=1, col=col)
    fig.update_layout(
        **{
            **theme.layout_defaults(),
            "hovermode": "closest",
            "margin": {"l": 56, "r": 16, "t": 80, "b": 40},
        },
        title={"text": f"Each version against {reference}, the previous dominant version"},
        height=320,
    )
    return fig


def advice_figure(
    df: pd.DataFrame,
    *,
    cost_title: str,
    quality_floor: float | None,
    current: float,
    recommended: float | None,
) -> go.Figure:
    """The routing what-if: predicted quality against cost, one point per threshold.

    ``df`` has columns ``threshold``, ``quality``, ``quality_low``, ``quality_high``,
    ``cost`` and ``coverage`` (:func:`dashboard.frames.advice_frame`). Points with
    unknown quality are left out; the floor is a dashed line; the current and
    recommended thresholds are marked.
    """
    known = df.dropna(subset=["quality", "cost"])
    if known.empty:
        return empty_figure("the quality of the answers served is unknown at every threshold")
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=known["cost"].tolist(),
            y=known["quality"].tolist(),
            mode="lines+markers",
            name="threshold",
            line={"color": theme.BLUE},
            marker={
                "color": theme.BLUE,
                "size": 5,
                "symbol": [
                    "circle" if c == "measured" else "circle-open" for c in known["coverage"]
                ],
            },
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (known["quality_high"] - known["quality"]).fillna(0).tolist(),
                "arrayminus": (known["quality"] - known["quality_low"]).fillna(0).tolist(),
                "color": theme.BAND_FILL,
            },
            customdata=known[["threshold", "coverage"]].to_numpy().tolist(),
            hovertemplate="threshold %{customdata[0]:.2f}: quality %{y:.3f}, "
            "cost %{x:.4g} (%{customdata[1]})<extra></extra>",
        )
    )
    marks = [("current", current, theme.ORANGE, "diamond")]
    if recommended is not None:
        marks.append(("recommended", recommended, theme.BLUISH_GREEN, "star"))
    for name, threshold, colour, symbol in marks:
        row = known[np.isclose(known["threshold"], threshold)]
        if row.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=row["cost"].tolist(),
                y=row["quality"].tolist(),
                mode="markers+text",
                name=f"{name} ({threshold:.2f})",
                text=[f"{name} {threshold:.2f}"],
                textposition="top center",
                marker={"color": colour, "size": 14, "symbol": symbol},
                hoverinfo="skip",
            )
        )
    if quality_floor is not None:
        fig.add_hline(
            y=quality_floor,
            line={"color": theme.VERMILLION, "dash": "dash"},
            annotation_text=f"quality floor {quality_floor:g}",
            annotation_position="bottom right",
        )
    fig.update_layout(
        **{**theme.layout_defaults(), "hovermode": "closest"},
        title={"text": "Quality of the answers served against cost, per threshold (95% interval)"},
        height=420,
    )
    fig.update_xaxes(title_text=cost_title)
    fig.update_yaxes(title_text="quality")
    return fig


def objective_figure(df: pd.DataFrame, *, title: str) -> go.Figure:
    """An objective's error budget left (line, left axis) and burn rate (bars, right axis).

    ``df`` has columns ``time``, ``budget_remaining`` and ``burn_rate`` (fractions;
    a burn rate of 1 spends the budget exactly over the period).
    """
    if df.empty or df["budget_remaining"].dropna().empty:
        return empty_figure("no requests in this objective's period yet")
    times = df["time"].tolist()
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=times,
            y=[None if pd.isna(v) else float(v) for v in df["burn_rate"]],
            name="burn rate",
            marker={"color": theme.series_colour(1)},
            opacity=0.5,
            yaxis="y2",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=times,
            y=[None if pd.isna(v) else float(v) for v in df["budget_remaining"]],
            name="budget left",
            mode="lines",
            line={"color": theme.series_colour(0), "width": 2},
        )
    )
    fig.add_hline(y=0, line={"color": theme.status_style("degraded").colour, "dash": "dot"})
    fig.update_layout(
        **theme.layout_defaults(),
        title={"text": title},
        height=280,
        yaxis={"title": "budget left", "tickformat": ".0%"},
        yaxis2={"title": "burn rate", "overlaying": "y", "side": "right", "rangemode": "tozero"},
    )
    return fig
