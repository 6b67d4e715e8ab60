"""Overview: a card per tier with its status and reasons, cloud escalation, firing alerts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from dash import Dash, Input, Output, html

from dashboard import components, theme
from dashboard.context import Context
from dashboard.frames import fleet_escalation, tier_summaries
from dashboard.pages import caption, guarded

TITLE = "Overview"


def layout(_query: Mapping[str, str], _ctx: Context) -> html.Div:
    """The overview page: filled by :func:`view`."""
    return html.Div(
        [
            html.H1(TITLE),
            html.P(id="overview-caption", className="caption"),
            html.Div(id="overview-body"),
        ],
        id="overview",
    )


def alert_items(alerts: pd.DataFrame) -> html.P | html.Ul:
    """Firing alerts as a list: severity, rule, summary and since when."""
    if alerts.empty:
        return html.P("No alerts are firing.", className="muted", id="no-firing-alerts")
    items = []
    for row in alerts.itertuples():
        style = theme.ALERT_SEVERITY.get(str(row.severity), theme.STATUS["insufficient_data"])
        since = "" if pd.isna(row.started_at) else f" since {row.started_at:%Y-%m-%d %H:%M} UTC"
        items.append(
            html.Li(
                [
                    html.Span(
                        f"{style.icon} {style.label}",
                        className="badge",
                        style={"backgroundColor": style.colour},
                    ),
                    html.Strong(f" {row.rule}"),
                    f": {row.summary}{since}",
                ],
                className="alert-item",
                **components.attrs({"data-fingerprint": str(row.fingerprint)}),
            )
        )
    return html.Ul(items, className="alerts")


def view(
    ctx: Context, *, window: str | None, baseline: str | None, fleet: str | None
) -> tuple[Any, str]:
    """The overview's body and caption for the chosen range and fleet."""
    scope = ctx.fleet(fleet)
    if not ctx.source.fleets(fleet=scope):
        return components.empty_state(ctx.endpoint(), dev=ctx.dev), ""
    period = ctx.period(window, baseline)
    report = ctx.source.health(period, by=["tier"], fleet=scope)
    by_task = ctx.source.health(period, by=["tier", "task"], fleet=scope)
    columns = {"window": f"last {period.window}", "baseline": f"{period.baseline} before"}
    cards = [components.tier_card(s, **columns) for s in tier_summaries(report, by_task)]
    escalation = components.metric_tile(
        fleet_escalation(report),
        tile_id="fleet-escalation",
        note="Requests that started on a device or edge and ended in the cloud.",
    )
    try:
        alerts: Any = alert_items(ctx.source.alerts(fleet=scope, states=["firing"]))
    except Exception as exc:
        alerts = components.notice(f"Alerts could not be read: {exc}", kind="warn")
    body = [
        html.Div(cards, className="cards", id="tier-cards"),
        html.Div(
            [
                escalation,
                html.Div(
                    [html.H2("Firing alerts"), alerts],
                    className="card",
                    id="overview-alerts",
                ),
            ],
            className="cards",
        ),
    ]
    return body, caption(ctx, scope, period.describe())


def register(app: Dash, ctx: Context) -> None:
    """Wire the overview to the shared controls."""

    @app.callback(
        Output("overview-body", "children"),
        Output("overview-caption", "children"),
        Input("window", "value"),
        Input("baseline", "value"),
        Input("fleet", "value"),
        Input("refresh", "n_intervals"),
    )
    @guarded(2)
    def update(window: str | None, baseline: str | None, fleet: str | None, _tick: Any):
        return view(ctx, window=window, baseline=baseline, fleet=fleet)
