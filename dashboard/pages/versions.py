"""Versions: each model's rollout, skew and stuck devices, each version against the previous."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dash import Dash, Input, Output, dcc, html

from analytics.versions import VersionDrift
from analytics.vocabulary import format_value
from dashboard import components, figures, theme
from dashboard.context import Context
from dashboard.frames import canary_frame, finding_text, stuck_frame, version_share_frame
from dashboard.pages import caption, guarded
from dashboard.period import TimeRange

TITLE = "Versions"
_SHARE_HEADERS = {
    "devices": "active devices",
    "share": "share of devices",
    "attempts": "attempts in window",
    "first_seen": "first seen",
}


def layout(_query: Mapping[str, str], _ctx: Context) -> html.Div:
    """The versions page: one section per fleet and model, filled by :func:`view`."""
    return html.Div(
        [
            html.H1(TITLE),
            html.P(id="versions-caption", className="caption"),
            html.Div(id="versions-body"),
        ],
        id="versions",
    )


def _tile(label: str, value: str, *, tile_id: str) -> html.Div:
    return html.Div(
        [html.Div(label, className="tile-label"), html.Div(value, className="tile-value")],
        className="card tile",
        id=tile_id,
    )


def model_section(ctx: Context, drift: VersionDrift, period: TimeRange) -> html.Section:
    """Everything about one model in one fleet."""
    ident = re.sub(r"[^A-Za-z0-9_-]", "-", f"{drift.fleet}-{drift.model}")
    shares = version_share_frame(drift)
    versions = shares["version"].tolist()
    series = ctx.source.version_series(
        fleet=drift.fleet,
        model=drift.model,
        start=period.baseline_start,
        end=period.end,
        step=period.step(points=theme.CHART_POINTS),
    )
    share = "device_share" if len(series) and series["devices"].sum() > 0 else "attempt_share"
    table = shares.assign(
        share=[format_value("device_share", s) for s in shares["share"]],
        attempts=[f"{a:,}" for a in shares["attempts"]],
    )
    canaries = []
    for canary in drift.canaries:
        findings = [(f.severity, finding_text(f)) for f in canary.findings]
        canaries.append(
            html.Div(
                [
                    html.H3(
                        [
                            f"{canary.version} against {canary.reference_version} ",
                            components.status_badge(canary.status),
                        ]
                    ),
                    components.findings_list(findings)
                    if findings
                    else html.P(
                        "No finding: it behaves like the previous dominant version"
                        if canary.status != "insufficient_data"
                        else "Too few attempts on shared segments to judge it yet.",
                        className="muted",
                    ),
                ],
                className="canary",
                **components.attrs({"data-version": canary.version, "data-status": canary.status}),
            )
        )
    stuck = stuck_frame(drift)
    return components.section(
        f"Model {drift.model} in fleet {drift.fleet}",
        html.Div(
            [
                _tile("newest version", drift.newest_version or "n/a", tile_id=f"newest-{ident}"),
                _tile(
                    "previous dominant",
                    drift.dominant_version or "n/a",
                    tile_id=f"dominant-{ident}",
                ),
                _tile("live versions", str(drift.live_versions), tile_id=f"live-{ident}"),
                _tile("active devices", f"{drift.active_devices:,}", tile_id=f"active-{ident}"),
                _tile(
                    "skew (not on newest)",
                    format_value("skew_share", drift.skew),
                    tile_id=f"skew-{ident}",
                ),
                _tile("stuck devices", f"{drift.stuck_devices:,}", tile_id=f"stuck-{ident}"),
            ],
            className="tiles",
        ),
        components.table(table, headers=_SHARE_HEADERS, id=f"versions-table-{ident}"),
        dcc.Graph(
            figure=figures.rollout_figure(
                series, versions=versions, share=share, window_start=period.window_start
            ),
            config=theme.GRAPH_CONFIG,
            id=f"rollout-{ident}",
        ),
        html.H3("Each version against the previous dominant one"),
        dcc.Graph(
            figure=figures.canary_figure(canary_frame(drift), versions=versions),
            config=theme.GRAPH_CONFIG,
            id=f"canary-{ident}",
        ),
        *canaries,
        html.H3(f"Stuck devices ({drift.stuck_devices:,})"),
        components.grid(
            f"stuck-grid-{ident}",
            columns=[components.column(c, c.replace("_", " ")) for c in stuck.columns],
            rows=[{"id": r["device_id"], **r} for r in stuck.to_dict("records")],
            height=260,
        )
        if len(stuck)
        else html.P("No device is stuck on an old version.", className="muted"),
        **components.attrs({"data-model": drift.model, "data-fleet": drift.fleet}),
    )


def view(
    ctx: Context, *, window: str | None, baseline: str | None, fleet: str | None
) -> tuple[Any, str]:
    """The versions page's body and caption."""
    scope = ctx.fleet(fleet)
    if not ctx.source.fleets(fleet=scope):
        return components.empty_state(ctx.endpoint(), dev=ctx.dev), ""
    period = ctx.period(window, baseline)
    drifts = ctx.source.versions(period, fleet=scope)
    line = caption(ctx, scope, period.describe())
    if not drifts:
        return (
            components.notice(
                "No model versions seen yet: senders put hybrid.model.name and "
                "hybrid.model.version on their spans."
            ),
            line,
        )
    return [model_section(ctx, d, period) for d in drifts], line


def register(app: Dash, ctx: Context) -> None:
    """Wire the versions page to the shared controls."""

    @app.callback(
        Output("versions-body", "children"),
        Output("versions-caption", "children"),
        Input("window", "value"),
        Input("baseline", "value"),
        Input("fleet", "value"),
        Input("refresh", "n_intervals"),
    )
    @guarded(2)
    def update(window, baseline, fleet, _tick):
        return view(ctx, window=window, baseline=baseline, fleet=fleet)
