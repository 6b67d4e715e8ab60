"""Requests: what users got, end to end, per task and the tier their request started on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import Dash, Input, Output, dcc, html

from dashboard import components, figures, theme
from dashboard.context import Context
from dashboard.frames import REQUEST_HEADERS, request_latency_frame, requests_frame
from dashboard.pages import caption, guarded

TITLE = "Requests"


def layout(_query: Mapping[str, str], _ctx: Context) -> html.Div:
    """The requests page: a table and a chart, filled by :func:`view`."""
    return html.Div(
        [
            html.H1(TITLE),
            html.P(id="requests-caption", className="caption"),
            html.Div(id="requests-body"),
        ],
        id="requests",
    )


def view(
    ctx: Context, *, window: str | None, baseline: str | None, fleet: str | None
) -> tuple[Any, str]:
    """The requests page's body and caption."""
    scope = ctx.fleet(fleet)
    if not ctx.source.fleets(fleet=scope):
        return components.empty_state(ctx.endpoint(), dev=ctx.dev), ""
    period = ctx.period(window, baseline)
    groups = ctx.source.requests(period, fleet=scope).groups
    if not groups:
        body: Any = components.notice(
            "No requests started in this window yet. Attempts are assembled into requests "
            "every few seconds, once their senders have sent them."
        )
        return body, caption(ctx, scope, period.describe())
    body = [
        components.section(
            "Per task and first tier",
            components.table(requests_frame(groups), headers=REQUEST_HEADERS, id="requests-table"),
            caption="A request is one trace: its attempts at every tier, from the first "
            "attempt's start to the end of the attempt whose answer was served.",
        ),
        components.section(
            "End-to-end latency",
            dcc.Graph(
                id="requests-latency",
                figure=figures.latency_figure(
                    request_latency_frame(groups),
                    title="End-to-end latency per task and first tier: "
                    "the bar runs from p50 to p99, the dot is p95",
                ),
                config=theme.GRAPH_CONFIG,
            ),
            caption="Answered requests, over the window.",
        ),
    ]
    return body, caption(ctx, scope, period.describe())


def register(app: Dash, ctx: Context) -> None:
    """Wire the requests page to the shared controls."""

    @app.callback(
        Output("requests-body", "children"),
        Output("requests-caption", "children"),
        Input("window", "value"),
        Input("baseline", "value"),
        Input("fleet", "value"),
        Input("refresh", "n_intervals"),
    )
    @guarded(2)
    def update(window, baseline, fleet, _tick):
        return view(ctx, window=window, baseline=baseline, fleet=fleet)
