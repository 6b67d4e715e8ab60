"""Objectives: each objective kind's error budget left and burn rate over its period."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import Dash, Input, Output, dcc, html

from analytics.durations import parse_duration
from dashboard import components, figures, theme
from dashboard.context import Context
from dashboard.frames import objectives_frame
from dashboard.pages import caption, guarded

TITLE = "Objectives"
#: Most charts drawn on the page (the table lists every objective kind).
MAX_CHARTS = 12
_HEADERS = {
    "sli": "SLI",
    "budget_remaining": "budget left",
    "burn_5m": "burn 5m",
    "burn_1h": "burn 1h",
    "burn_6h": "burn 6h",
    "burn_3d": "burn 3d",
}


def layout(_query: Mapping[str, str], _ctx: Context) -> html.Div:
    """The objectives page: a table, then one chart per objective kind, filled by :func:`view`."""
    return html.Div(
        [
            html.H1(TITLE),
            html.P(id="objectives-caption", className="caption"),
            html.Div(id="objectives-body"),
        ],
        id="objectives",
    )


def chart_step(period_seconds: int) -> int:
    """Seconds per chart bucket: about :data:`theme.CHART_POINTS` over the period.

    Whole hours from an hour up (so folded hours are read), else whole minutes.
    """
    step = period_seconds // theme.CHART_POINTS
    if step >= 3600:
        return step // 3600 * 3600
    return max(60, step // 60 * 60)


def view(ctx: Context, *, fleet: str | None) -> tuple[Any, str]:
    """The objectives page's body and caption."""
    scope = ctx.fleet(fleet)
    end = ctx.clock().replace(second=0, microsecond=0)
    statuses = ctx.source.objectives(end=end, fleet=scope)
    if not statuses:
        body: Any = components.notice(
            "No objectives are configured. Add [[objectives]] to the configuration: a name, a "
            "task, a period and any of latency, availability and quality (see the README)."
        )
        return body, caption(ctx, scope, "no objectives")
    charts = []
    for status in statuses[:MAX_CHARTS]:
        step = chart_step(int(parse_duration(status.period).total_seconds()))
        frame = ctx.source.objective_series(name=status.name, kind=status.kind, end=end, step=step)
        charts.append(
            dcc.Graph(
                id=f"objective-{status.name}-{status.kind}",
                figure=figures.objective_figure(
                    frame, title=f"{status.name}: {status.kind} ({status.period})"
                ),
                config=theme.GRAPH_CONFIG,
            )
        )
    body = [
        components.section(
            "Error budgets",
            components.table(objectives_frame(statuses), headers=_HEADERS, id="objectives-table"),
            caption="SLI and budget left over each period; burn rate 1 spends the budget "
            "exactly over the period. Pages at 14.4 (1h and 5m) or 6 (6h and 30m), "
            "tickets at 1 (3d and 6h).",
        ),
        components.section("Budget left and burn over the period", *charts),
    ]
    return body, caption(ctx, scope, f"periods ending {end:%Y-%m-%d %H:%M} UTC")


def register(app: Dash, ctx: Context) -> None:
    """Wire the objectives page to the fleet control and the refresh."""

    @app.callback(
        Output("objectives-body", "children"),
        Output("objectives-caption", "children"),
        Input("fleet", "value"),
        Input("refresh", "n_intervals"),
    )
    @guarded(2)
    def update(fleet, _tick):
        return view(ctx, fleet=fleet)
