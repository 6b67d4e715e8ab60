"""Tiers: local inference (device, edge) against the cloud, per task."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import Dash, Input, Output, dcc, html

from analytics.tiers import TierComparison
from analytics.vocabulary import TIERS
from dashboard import components, figures, theme
from dashboard.context import Context
from dashboard.frames import (
    escalation_frame,
    fallback_reasons_frame,
    tier_differences_frame,
    tier_latency_frame,
    tier_quality_frame,
)
from dashboard.pages import caption, guarded

TITLE = "Tiers"
_DIFFERENCE_HEADERS = {"difference": "local minus cloud [95% interval]", "p": "p-value"}


def layout(_query: Mapping[str, str], _ctx: Context) -> html.Div:
    """The tiers page: a task filter, then charts filled by :func:`view`."""
    return html.Div(
        [
            html.H1(TITLE),
            html.P(id="tiers-caption", className="caption"),
            html.Div(
                [
                    html.Label("Task", htmlFor="tiers-task"),
                    dcc.Dropdown(id="tiers-task", placeholder="every task", clearable=True),
                ],
                className="control",
            ),
            html.Div(id="tiers-body"),
        ],
        id="tiers",
    )


def tasks_of(comparisons: list[TierComparison]) -> list[str]:
    """The tasks compared, sorted."""
    return sorted({c.task for c in comparisons})


def view(
    ctx: Context,
    *,
    window: str | None,
    baseline: str | None,
    fleet: str | None,
    task: str | None,
) -> tuple[Any, list[dict[str, str]], str]:
    """The tiers page's body, task options and caption."""
    scope = ctx.fleet(fleet)
    if not ctx.source.fleets(fleet=scope):
        return components.empty_state(ctx.endpoint(), dev=ctx.dev), [], ""
    period = ctx.period(window, baseline)
    every = ctx.source.tiers(start=period.window_start, end=period.end, fleet=scope)
    options = [{"value": t, "label": t} for t in tasks_of(every)]
    comparisons = [c for c in every if task is None or c.task == task]
    base: dict[str, str] = {"fleet": scope} if scope else {}
    if task is not None:
        base["task"] = task
    step = period.step(points=theme.CHART_POINTS)

    def series(**key: str):
        return ctx.source.series(
            {**base, **key}, start=period.baseline_start, end=period.end, step=step
        )

    reasons = fallback_reasons_frame({tier: series(tier=tier) for tier in TIERS})
    tasks = [task] if task is not None else tasks_of(comparisons)[: theme.ESCALATION_TASKS]
    escalation = escalation_frame(
        {t: series(task=t) for t in tasks} if tasks else {"every task": series()}
    )
    differences = tier_differences_frame(comparisons)
    body = [
        components.notice(
            "No task ran on both a local tier and the cloud in this window, "
            "so there is nothing to compare yet."
        )
        if not comparisons
        else None,
        components.section(
            "Latency and quality, local against cloud",
            dcc.Graph(
                id="tiers-latency",
                figure=figures.latency_figure(tier_latency_frame(comparisons)),
                config=theme.GRAPH_CONFIG,
            ),
            dcc.Graph(
                id="tiers-quality",
                figure=figures.quality_figure(tier_quality_frame(comparisons)),
                config=theme.GRAPH_CONFIG,
            ),
            caption="Over the window. Served attempts only; shadows are counted apart.",
        ),
        components.section(
            "Differences with their evidence",
            components.table(differences, headers=_DIFFERENCE_HEADERS, id="tiers-differences")
            if len(differences)
            else html.P("Nothing to compare.", className="muted"),
        ),
        components.section(
            "Why attempts fall back",
            dcc.Graph(
                id="tiers-fallbacks",
                figure=figures.fallback_reasons_figure(reasons, window_start=period.window_start),
                config=theme.GRAPH_CONFIG,
            ),
            caption="Fallback rate by reason over baseline and window, per tier.",
        ),
        components.section(
            "Cloud escalation",
            dcc.Graph(
                id="tiers-escalation",
                figure=figures.escalation_figure(escalation, window_start=period.window_start),
                config=theme.GRAPH_CONFIG,
            ),
            caption="Share of requests that started on a device or edge and ended in the cloud.",
        ),
    ]
    return body, options, caption(ctx, scope, period.describe())


def register(app: Dash, ctx: Context) -> None:
    """Wire the tiers page to the shared controls and its task filter."""

    @app.callback(
        Output("tiers-body", "children"),
        Output("tiers-task", "options"),
        Output("tiers-caption", "children"),
        Input("window", "value"),
        Input("baseline", "value"),
        Input("fleet", "value"),
        Input("refresh", "n_intervals"),
        Input("tiers-task", "value"),
    )
    @guarded(3)
    def update(window, baseline, fleet, _tick, task):
        return view(ctx, window=window, baseline=baseline, fleet=fleet, task=task)
