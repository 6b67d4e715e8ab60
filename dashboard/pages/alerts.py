"""Alerts: what is firing, what resolved, how notifications were delivered, and silences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from dash import Dash, Input, Output, html

from dashboard import components
from dashboard.context import Context
from dashboard.frames import display_records
from dashboard.pages import caption, guarded

TITLE = "Alerts"
ALERT_COLUMNS = (
    ("state", "state"),
    ("severity", "severity"),
    ("rule", "rule"),
    ("summary", "summary"),
    ("labels", "labels"),
    ("started_at", "fired at"),
    ("resolved_at", "resolved at"),
    ("last_evaluated_at", "last evaluated"),
    ("silenced_by", "silenced by"),
)
DELIVERY_COLUMNS = (
    ("status", "status"),
    ("hook", "hook"),
    ("event", "event"),
    ("fingerprint", "alert"),
    ("attempts", "attempts"),
    ("last_status_code", "last status"),
    ("last_error", "last error"),
    ("created_at", "created at"),
    ("next_attempt_at", "next attempt"),
    ("delivered_at", "delivered at"),
)
SILENCE_COLUMNS = (
    ("active", "active"),
    ("matchers", "matchers"),
    ("starts_at", "starts at"),
    ("ends_at", "ends at"),
    ("created_by", "created by"),
    ("comment", "comment"),
    ("fleet", "fleet"),
)
#: Columns holding sentences: wrapped, and given room.
WIDE: dict[str, dict[str, Any]] = {
    name: {"minWidth": width, "flex": 2, "wrapText": True, "autoHeight": True}
    for name, width in (
        ("summary", 360),
        ("labels", 260),
        ("last_error", 240),
        ("comment", 220),
        ("matchers", 200),
    )
}
#: Alert states listed as current (firing or about to), the rest as past.
CURRENT = ("firing", "pending")


def layout(_query: Mapping[str, str], _ctx: Context) -> html.Div:
    """The alerts page, filled by :func:`view`."""
    return html.Div(
        [
            html.H1(TITLE),
            html.P(id="alerts-caption", className="caption"),
            html.Div(id="alerts-body"),
        ],
        id="alerts",
    )


def matcher_text(matchers: Any) -> str:
    """A silence's matchers as ``name op value`` terms, e.g. ``tier=device, task=~photo.*``."""
    if not isinstance(matchers, Sequence) or isinstance(matchers, str):
        return "" if matchers is None else str(matchers)
    return ", ".join(
        f"{m.get('name', '')}{m.get('op', '=')}{m.get('value', '')}"
        if isinstance(m, Mapping)
        else str(m)
        for m in matchers
    )


def since(frame: pd.DataFrame, column: str, start: datetime) -> pd.DataFrame:
    """Rows whose ``column`` (UTC timestamps) is at or after ``start``."""
    if frame.empty:
        return frame
    return frame[pd.to_datetime(frame[column], utc=True) >= pd.Timestamp(start)]


def records(frame: pd.DataFrame, columns: Sequence[tuple[str, str]], *, key: str) -> list[dict]:
    """Grid rows: the listed columns as display values, with a row ``id`` from ``key``."""
    shown = frame[[c for c, _ in columns if c in frame.columns]]
    out = display_records(shown)
    for row, ident in zip(out, frame[key].tolist(), strict=True):
        row["id"] = str(ident)
    return out


def _width(column: str) -> dict[str, Any]:
    if column in WIDE:
        return WIDE[column]
    return {"minWidth": 170} if column.endswith("_at") else {}


def grid(grid_id: str, frame: pd.DataFrame, columns: Sequence[tuple[str, str]], *, key: str):
    """A grid of ``frame`` with ``columns``, or a line saying there is nothing."""
    if frame.empty:
        return html.P("None.", className="muted", id=grid_id)
    return components.grid(
        grid_id,
        columns=[components.column(c, header, **_width(c)) for c, header in columns],
        rows=records(frame, columns, key=key),
    )


def view(
    ctx: Context, *, window: str | None, baseline: str | None, fleet: str | None
) -> tuple[Any, str]:
    """The alerts page's body and caption.

    Firing and pending alerts and active silences are listed whatever the range;
    resolved alerts, deliveries and ended silences back to the baseline's start.
    """
    scope = ctx.fleet(fleet)
    period = ctx.period(window, baseline)
    alerts = ctx.source.alerts(fleet=scope, states=None)
    current = alerts[alerts["state"].isin(CURRENT)]
    past = since(alerts[~alerts["state"].isin(CURRENT)], "last_evaluated_at", period.baseline_start)
    deliveries = since(ctx.source.deliveries(fleet=scope), "created_at", period.baseline_start)
    silences = ctx.source.silences(fleet=scope)
    if not silences.empty:
        silences = silences[
            silences["active"]
            | (pd.to_datetime(silences["ends_at"], utc=True) >= pd.Timestamp(period.baseline_start))
        ].assign(matchers=lambda f: f["matchers"].map(matcher_text))
    body = [
        components.section(
            f"Firing and pending ({len(current)})",
            grid("alerts-current", current, ALERT_COLUMNS, key="fingerprint"),
        ),
        components.section(
            f"Resolved ({len(past)})",
            grid("alerts-resolved", past, ALERT_COLUMNS, key="fingerprint"),
            caption="Alerts no longer firing, evaluated since the baseline's start.",
        ),
        components.section(
            f"Deliveries ({len(deliveries)})",
            grid("alerts-deliveries", deliveries, DELIVERY_COLUMNS, key="id"),
            caption="Notifications to hooks: pending, delivered, failed (retried) or dead.",
        ),
        components.section(
            f"Silences ({len(silences)})",
            grid("alerts-silences", silences, SILENCE_COLUMNS, key="id"),
            caption="Active silences, and those that ended since the baseline's start.",
        ),
    ]
    return body, caption(ctx, scope, f"since {period.baseline_start:%Y-%m-%d %H:%M} UTC")


def register(app: Dash, ctx: Context) -> None:
    """Wire the alerts page to the shared controls."""

    @app.callback(
        Output("alerts-body", "children"),
        Output("alerts-caption", "children"),
        Input("window", "value"),
        Input("baseline", "value"),
        Input("fleet", "value"),
        Input("refresh", "n_intervals"),
    )
    @guarded(2)
    def update(window, baseline, fleet, _tick):
        return view(ctx, window=window, baseline=baseline, fleet=fleet)
