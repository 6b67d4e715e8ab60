"""Advice: a local tier's confidence threshold replayed over the recorded week, per task."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pandas as pd
from dash import Dash, Input, Output, dcc, html

from analytics.advice import Advice, AdvicePoint, Goals
from dashboard import components, figures, theme
from dashboard.context import Context
from dashboard.frames import advice_frame
from dashboard.pages import caption, guarded

TITLE = "Advice"
#: The what-if reads a week: thresholds need many labelled answers, and a week holds each weekday.
WINDOW = timedelta(days=7)


def layout(_query: Mapping[str, str], _ctx: Context) -> html.Div:
    """The advice page: a task and a quality floor, then the curve filled by :func:`view`."""
    return html.Div(
        [
            html.H1(TITLE),
            html.P(id="advice-caption", className="caption"),
            html.Div(
                [
                    html.Label("Task", htmlFor="advice-task"),
                    dcc.Dropdown(id="advice-task", placeholder="choose a task", clearable=False),
                ],
                className="control",
            ),
            html.Div(
                [
                    html.Label("Quality floor", htmlFor="advice-floor"),
                    dcc.Input(id="advice-floor", type="number", min=0, max=1, step=0.01),
                ],
                className="control",
            ),
            html.Div(id="advice-body"),
        ],
        id="advice",
    )


def _point_row(name: str, p: AdvicePoint) -> dict[str, str]:
    def fmt(value: float | None, spec: str) -> str:
        return "n/a" if value is None else format(value, spec)

    return {
        "": name,
        "threshold": f"{p.threshold:.2f}",
        "local share": fmt(p.local_share, ".1%"),
        "cloud escalation rate": fmt(p.cloud_escalation_rate, ".1%"),
        "quality [95% interval]": "n/a"
        if p.quality is None
        else f"{p.quality:.3f} [{p.quality_low:.3f}, {p.quality_high:.3f}]",
        "p95 latency": fmt(p.latency_p95_ms, ",.0f") + (" ms" if p.latency_p95_ms else ""),
        "cost per 1,000": fmt(p.cost_per_1k, ".4g"),
        "energy per request": fmt(p.energy_mj_per_request, ",.0f")
        + (" mJ" if p.energy_mj_per_request is not None else ""),
        "coverage": f"{p.coverage} ({p.labelled} labelled)",
    }


def points_frame(advice: Advice) -> pd.DataFrame:
    """The current and recommended points side by side, as text."""
    rows = [_point_row("current", advice.current)]
    if advice.recommended is not None:
        rows.append(_point_row("recommended", advice.recommended))
    return pd.DataFrame(rows)


def view(
    ctx: Context, *, fleet: str | None, task: str | None, floor: float | None
) -> tuple[Any, list[dict[str, str]], str | None, str]:
    """The advice page's body, its task options, the task shown and the caption."""
    scope = ctx.fleet(fleet)
    if not ctx.source.fleets(fleet=scope):
        return components.empty_state(ctx.endpoint(), dev=ctx.dev), [], None, ""
    end = ctx.clock()
    start = end - WINDOW
    tasks = ctx.source.advice_tasks(start=start, end=end, fleet=scope)
    options = [{"value": t, "label": t} for t in tasks]
    chosen = task if task in tasks else (tasks[0] if tasks else None)
    where = caption(ctx, scope, "the last 7 days")
    if chosen is None:
        return (
            components.notice(
                "No local attempt with a confidence was folded in the last 7 days: the what-if "
                "needs device or edge attempts that report hybrid.confidence, in closed hours."
            ),
            options,
            None,
            where,
        )
    advice = ctx.source.advice(
        task=chosen, start=start, end=end, fleet=scope, goals=Goals(quality_floor=floor)
    )
    if advice is None:
        return components.notice(f"No local attempts for {chosen}."), options, chosen, where
    figure = figures.advice_figure(
        advice_frame(advice),
        cost_title="cost per 1,000 requests" if advice.priced else "cloud escalation rate",
        quality_floor=floor,
        current=advice.current.threshold,
        recommended=advice.recommended.threshold if advice.recommended else None,
    )
    verdict = (
        f"Recommended: {advice.reason}."
        if advice.recommended is not None
        else f"No recommendation: {advice.reason}."
    )
    body = [
        components.section(
            f"{chosen} on the {advice.tier} tier",
            dcc.Graph(id="advice-curve", figure=figure, config=theme.GRAPH_CONFIG),
            html.P(verdict, id="advice-reason"),
            components.table(points_frame(advice), id="advice-points"),
            caption=f"{advice.attempts:,} local attempts over {advice.hours} hours; "
            f"current threshold {advice.current.threshold:.2f}. Hollow points rest partly on "
            "pooled cloud answers or leave unlabelled ones out.",
        ),
        components.section(
            "What the curve assumes",
            html.Ul([html.Li(note) for note in advice.notes], id="advice-notes")
            if advice.notes
            else html.P("Nothing beyond the recorded attempts.", className="muted"),
        ),
    ]
    return body, options, chosen, where


def register(app: Dash, ctx: Context) -> None:
    """Wire the advice page to the fleet control, its task and its quality floor."""

    @app.callback(
        Output("advice-body", "children"),
        Output("advice-task", "options"),
        Output("advice-task", "value"),
        Output("advice-caption", "children"),
        Input("fleet", "value"),
        Input("refresh", "n_intervals"),
        Input("advice-task", "value"),
        Input("advice-floor", "value"),
    )
    @guarded(4)
    def update(fleet, _tick, task, floor):
        return view(ctx, fleet=fleet, task=task, floor=floor)
