"""Segments: every segment of the operator's grouping in a grid; a click opens one segment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import Dash, Input, Output, State, dcc, html
from dash import ctx as dash_ctx

from analytics.vocabulary import label
from collector.schema import SEGMENT_DIMENSIONS
from dashboard import components, figures, theme
from dashboard.context import Context
from dashboard.frames import (
    GRID_METRICS,
    SERIES_METRICS,
    baseline_band,
    describe_key,
    segment_rows,
)
from dashboard.pages import caption, guarded

TITLE = "Segments"
_HIDDEN = {"display": "none"}


def grouping(text: str | Sequence[str] | None, default: Sequence[str]) -> list[str]:
    """Known dimensions from a ``by`` value (comma-separated text or a list), in order."""
    if text is None:
        return list(default)
    names = text.split(",") if isinstance(text, str) else list(text)
    return list(dict.fromkeys(n.strip() for n in names if n.strip() in SEGMENT_DIMENSIONS))


def layout(query: Mapping[str, str], ctx: Context) -> html.Div:
    """The segments page; ``?by=tier,device_model`` chooses the grouping."""
    by = grouping(query.get("by"), ctx.analytics.default_by)
    return html.Div(
        [
            html.H1(TITLE),
            html.P(id="segments-caption", className="caption"),
            html.Div(
                [
                    html.Label("Group segments by", htmlFor="segments-by"),
                    dcc.Dropdown(
                        id="segments-by",
                        options=[{"value": d, "label": d} for d in SEGMENT_DIMENSIONS],
                        value=by,
                        multi=True,
                        clearable=True,
                        placeholder="no grouping: all attempts together",
                    ),
                ],
                className="control wide",
            ),
            html.Div(id="segments-notice"),
            components.grid("segments-grid", columns=columns(by), selectable=True),
            html.P(
                "Click a segment to see it over time against its baseline, with its findings.",
                className="muted",
                id="segment-hint",
            ),
            html.Div(
                [
                    html.H2(id="segment-title"),
                    html.Div(
                        [
                            html.Label("Metric", htmlFor="segment-metric"),
                            dcc.Dropdown(id="segment-metric", clearable=False),
                        ],
                        className="control",
                    ),
                    dcc.Graph(id="segment-chart", config=theme.GRAPH_CONFIG),
                    html.Div(id="segment-findings"),
                ],
                id="segment-detail",
                className="card",
                style=_HIDDEN,
            ),
        ],
        id="segments",
    )


def columns(by: Sequence[str]) -> list[dict[str, Any]]:
    """Grid columns for a grouping: status, the dimensions, metrics, findings."""
    status_style = {
        "styleConditions": [
            {
                "condition": f"params.data.status_rank == {rank}",
                "style": {"backgroundColor": theme.STATUS[status].colour, "color": theme.BLACK},
            }
            for rank, status in enumerate(theme.STATUS_ORDER)
        ]
    }
    out: list[dict[str, Any]] = [
        {"field": "status_rank", "hide": True, "sort": "asc"},
        components.column("status", "status", cellStyle=status_style, minWidth=150),
        *(components.column(d, d, minWidth=130) for d in by),
    ]
    for metric in GRID_METRICS:
        if metric == "cloud_escalation_rate" and "tier" in by:
            continue  # a segment of one tier cannot see both ends of a request
        out.append(components.metric_column(metric))
    out.append(components.column("findings", "findings", kind="integer"))
    out.append(
        components.column(
            "finding", "worst finding", minWidth=360, flex=2, wrapText=True, autoHeight=True
        )
    )
    return out


def view_grid(
    ctx: Context,
    *,
    window: str | None,
    baseline: str | None,
    fleet: str | None,
    by: Sequence[str] | None,
) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]], str]:
    """Notice, grid rows and columns, and caption for the grouping chosen."""
    scope = ctx.fleet(fleet)
    dims = grouping(by, ctx.analytics.default_by)
    if not ctx.source.fleets(fleet=scope):
        return components.empty_state(ctx.endpoint(), dev=ctx.dev), [], columns(dims), ""
    period = ctx.period(window, baseline)
    report = ctx.source.health(period, by=dims, fleet=scope)
    rows = segment_rows(report)
    notice: Any = components.notice("No attempts in this window.")
    if rows:
        counts = ", ".join(f"{n} {status}" for status, n in report.status_counts().items() if n)
        notice = html.P(
            f"{len(rows)} segments: {counts}; {report.tests} tests, "
            f"false-discovery rate {report.fdr:g}",
            className="summary",
            id="segments-summary",
        )
    return notice, rows, columns(dims), caption(ctx, scope, period.describe())


def metric_options(key: Mapping[str, str]) -> list[dict[str, str]]:
    """Metrics a segment can be drawn with (no escalation rate within one tier)."""
    return [
        {"value": m, "label": label(m)}
        for m in SERIES_METRICS
        if not (m == "cloud_escalation_rate" and "tier" in key)
    ]


def default_metric(row: Mapping[str, Any]) -> str:
    """The metric of the segment's first finding, else p95 latency."""
    offered = {o["value"] for o in metric_options(row["key"])}
    for detail in row.get("details", []):
        if detail["metric"] in offered:
            return str(detail["metric"])
    return "latency_p95_ms"


def canary_reference(row: Mapping[str, Any], metric: str) -> str | None:
    """The version a segment's finding on ``metric`` compares it with, if it is a canary's."""
    if "model_version" not in row["key"]:
        return None
    for detail in row.get("details", []):
        reference = str(detail.get("reference", "baseline"))
        if detail["metric"] == metric and reference.startswith("model_version "):
            return reference.removeprefix("model_version ")
    return None


def view_detail(
    ctx: Context,
    *,
    row: Mapping[str, Any],
    metric: str | None,
    window: str | None,
    baseline: str | None,
    fleet: str | None,
) -> tuple[str, Any, Any, list[dict[str, str]], str]:
    """Title, chart, findings, metric options and metric of one selected segment."""
    key = dict(row["key"])
    scope = ctx.fleet(fleet)
    if scope is not None:
        key["fleet"] = scope  # a token sees its own fleet, whatever the row says
    options = metric_options(key)
    if metric not in {o["value"] for o in options}:
        metric = default_metric(row)
    period = ctx.period(window, baseline)
    step = period.step(points=theme.CHART_POINTS)
    series = ctx.source.series(key, start=period.baseline_start, end=period.end, step=step)
    version = canary_reference(row, metric)
    if version is not None:
        # judged against another version in the same window: draw that version instead
        other = ctx.source.series(
            {**key, "model_version": version},
            start=period.baseline_start,
            end=period.end,
            step=step,
        )
        figure = figures.segment_series_figure(
            series,
            metric=metric,
            window_start=period.window_start,
            step=step,
            baseline_value=next(
                d["baseline_value"] for d in row["details"] if d["metric"] == metric
            ),
            band=baseline_band(other, metric, baseline_end=period.end),
            reference=other,
            reference_name=f"model_version {version}",
        )
    else:
        baseline_value = None if metric == "attempts" else row.get("baseline", {}).get(metric)
        figure = figures.segment_series_figure(
            series,
            metric=metric,
            window_start=period.window_start,
            step=step,
            baseline_value=baseline_value,
            band=baseline_band(series, metric, baseline_end=period.window_start),
        )
    details = row.get("details", [])
    findings: Any = (
        components.findings_list([(d["severity"], d["text"]) for d in details])
        if details
        else html.P("No findings for this segment.", className="muted")
    )
    title = f"{describe_key(row['key'])}"
    return title, figure, findings, options, metric


def register(app: Dash, ctx: Context) -> None:
    """Wire the grid to the controls and the detail panel to the grid's selection."""

    @app.callback(
        Output("segments-notice", "children"),
        Output("segments-grid", "rowData"),
        Output("segments-grid", "columnDefs"),
        Output("segments-caption", "children"),
        Input("window", "value"),
        Input("baseline", "value"),
        Input("fleet", "value"),
        Input("refresh", "n_intervals"),
        Input("segments-by", "value"),
    )
    @guarded(4)
    def update_grid(window, baseline, fleet, _tick, by):
        return view_grid(ctx, window=window, baseline=baseline, fleet=fleet, by=by or [])

    @app.callback(
        Output("segment-title", "children"),
        Output("segment-chart", "figure"),
        Output("segment-findings", "children"),
        Output("segment-metric", "options"),
        Output("segment-metric", "value"),
        Output("segment-detail", "style"),
        Input("segments-grid", "selectedRows"),
        Input("segment-metric", "value"),
        Input("window", "value"),
        Input("baseline", "value"),
        Input("refresh", "n_intervals"),
        State("fleet", "value"),
    )
    @guarded(6)
    def update_detail(selected, metric, window, baseline, _tick, fleet):
        if not selected:
            return "", figures.empty_figure(""), None, [], None, _HIDDEN
        if dash_ctx.triggered_id == "segments-grid":
            metric = None  # a new segment opens on the metric of its first finding
        title, figure, findings, options, chosen = view_detail(
            ctx,
            row=selected[0],
            metric=metric,
            window=window,
            baseline=baseline,
            fleet=fleet,
        )
        return title, figure, findings, options, chosen, {}
