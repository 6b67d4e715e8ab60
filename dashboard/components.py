"""Small layout pieces the pages share: status badges, tier cards, tables, grids, notices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_ag_grid as dag
import pandas as pd
from dash import html

from analytics import vocabulary
from dashboard import theme
from dashboard.frames import KeyFigure, TierSummary


def attrs(values: dict[str, str]) -> dict[str, Any]:
    """``data-*`` and ``aria-*`` attributes to splat into a component."""
    return dict(values)


def status_badge(status: str) -> html.Span:
    """A status as icon and words on its colour, so that colour is never the only cue."""
    style = theme.status_style(status)
    return html.Span(
        [
            html.Span(style.icon, className="badge-icon", **attrs({"aria-hidden": "true"})),
            style.label,
        ],
        className=f"badge badge-{status}",
        style={"backgroundColor": style.colour},
        title=f"status: {style.label}",
        **attrs({"data-status": status}),
    )


def findings_list(findings: Sequence[tuple[str, str]], *, limit: int | None = None) -> html.Ul:
    """Findings as a list of ``(severity, text)``, each marked with its severity's icon."""
    shown = findings if limit is None else findings[:limit]
    items = [
        html.Li(
            [
                html.Span(
                    theme.status_style(severity).icon,
                    className=f"finding-icon finding-{severity}",
                    style={"color": theme.status_style(severity).colour},
                    title=severity,
                ),
                html.Span(text, className="finding-text"),
            ],
            className="finding",
            **attrs({"data-severity": severity}),
        )
        for severity, text in shown
    ]
    if limit is not None and len(findings) > limit:
        items.append(html.Li(f"and {len(findings) - limit} more", className="finding more"))
    return html.Ul(items, className="findings")


def key_figures_table(figures: Sequence[KeyFigure], *, window: str, baseline: str) -> html.Table:
    """Key figures of a window against its baseline, flagged ones in bold with their icon."""
    header = html.Tr([html.Th("metric"), html.Th(window), html.Th(baseline), html.Th("change")])
    rows = []
    for f in figures:
        mark = (
            html.Span(theme.status_style(f.flagged).icon + " ", className="flag")
            if f.flagged
            else None
        )
        rows.append(
            html.Tr(
                [
                    html.Td([mark, f.label] if mark else f.label),
                    html.Td(f.value, className="num"),
                    html.Td(f.baseline, className="num muted"),
                    html.Td(f.change, className="num"),
                ],
                className=f"figure flagged-{f.flagged}" if f.flagged else "figure",
                **attrs({"data-metric": f.metric}),
            )
        )
    return html.Table([html.Thead(header), html.Tbody(rows)], className="figures")


def tier_card(summary: TierSummary, *, window: str, baseline: str) -> html.Div:
    """The card of one tier: status, the findings behind it in words, key figures."""
    style = theme.status_style(summary.status)
    if summary.attempts == 0:
        body: list[Any] = [html.P("No attempts in the window.", className="muted")]
    else:
        body = [
            findings_list(summary.findings, limit=theme.CARD_FINDINGS)
            if summary.findings
            else html.P(
                "No findings: every tested metric is in line with the baseline.", className="muted"
            ),
            key_figures_table(summary.figures, window=window, baseline=baseline),
        ]
    return html.Div(
        [
            html.Div(
                [html.H3(f"{summary.tier.capitalize()} tier"), status_badge(summary.status)],
                className="card-head",
            ),
            *body,
        ],
        id=f"tier-card-{summary.tier}",
        className=f"card tier-card status-{summary.status}",
        style={"borderTopColor": style.colour},
        **attrs({"data-status": summary.status}),
    )


def metric_tile(figure: KeyFigure, *, tile_id: str, note: str = "") -> html.Div:
    """One key figure on its own: value, baseline and change."""
    return html.Div(
        [
            html.Div(figure.label, className="tile-label"),
            html.Div(figure.value, className="tile-value"),
            html.Div(
                f"baseline {figure.baseline}" + (f" ({figure.change})" if figure.change else ""),
                className="muted",
            ),
            html.Div(note, className="muted small") if note else None,
        ],
        id=tile_id,
        className="card tile",
    )


def section(title: str, *children: Any, caption: str | None = None, **props: Any) -> html.Section:
    """A titled part of a page."""
    head: list[Any] = [html.H2(title)]
    if caption:
        head.append(html.P(caption, className="caption"))
    return html.Section([*head, *children], className="section", **props)


def notice(text: str | list[Any], *, kind: str = "info") -> html.Div:
    """A one-paragraph message: ``info``, ``warn`` or ``error``."""
    return html.Div(text, className=f"notice notice-{kind}", role="status")


def table(
    frame: pd.DataFrame, *, headers: dict[str, str] | None = None, **props: Any
) -> html.Table:
    """A small plain table of a data frame's text."""
    headers = headers or {}
    head = html.Tr([html.Th(headers.get(str(c), str(c))) for c in frame.columns])
    body = [
        html.Tr([html.Td("" if pd.isna(v) else str(v)) for v in row])
        for row in frame.itertuples(index=False)
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], className="plain", **props)


PERCENT = "params.value == null ? 'n/a' : d3.format('.2~%')(params.value)"
MILLISECONDS = "params.value == null ? 'n/a' : d3.format(',.0f')(params.value) + ' ms'"
MILLIJOULES = "params.value == null ? 'n/a' : d3.format(',.0f')(params.value) + ' mJ'"
DECIMAL = "params.value == null ? 'n/a' : d3.format('.3f')(params.value)"
INTEGER = "params.value == null ? '' : d3.format(',')(params.value)"


#: The column kind that writes a value of each unit of the vocabulary.
_UNIT_KINDS = {
    "share": "percent",
    "ms": "ms",
    "mJ": "mJ",
    "score": "decimal",
    "count": "integer",
    "per_hour": "integer",
}


def column(field: str, header: str, *, kind: str = "text", **extra: Any) -> dict[str, Any]:
    """An AG Grid column: ``kind`` is text, percent, ms, mJ, decimal or integer."""
    formatter = {
        "percent": PERCENT,
        "ms": MILLISECONDS,
        "mJ": MILLIJOULES,
        "decimal": DECIMAL,
        "integer": INTEGER,
    }
    out: dict[str, Any] = {"field": field, "headerName": header}
    if kind in formatter:
        out["valueFormatter"] = {"function": formatter[kind]}
        out["filter"] = "agNumberColumnFilter"
        out["type"] = "numericColumn"
    return {**out, **extra}


def metric_column(name: str, **extra: Any) -> dict[str, Any]:
    """An AG Grid column of metric ``name``: its label as header, its values in its unit."""
    metric = vocabulary.metric(name)
    return column(name, metric.label, kind=_UNIT_KINDS[metric.unit], **extra)


def grid(
    grid_id: str,
    *,
    columns: list[dict[str, Any]],
    rows: list[dict[str, Any]] | None = None,
    selectable: bool = False,
    height: int | None = None,
) -> dag.AgGrid:
    """A sortable, filterable AG Grid; ``selectable`` lets a click select one row."""
    options: dict[str, Any] = {"animateRows": False, "enableCellTextSelection": True}
    if selectable:
        options["rowSelection"] = {
            "mode": "singleRow",
            "checkboxes": False,
            "enableClickSelection": True,
        }
    if height is None:
        options["domLayout"] = "autoHeight"
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=rows or [],
        defaultColDef={
            "sortable": True,
            "filter": True,
            "resizable": True,
            "minWidth": 110,
            "wrapHeaderText": True,
            "autoHeaderHeight": True,
        },
        dashGridOptions=options,
        getRowId="params.data.id",
        columnSize="responsiveSizeToFit",
        style={"height": f"{height}px"} if height else {"height": None},
        className="grid",
    )


def empty_state(endpoint: str, *, dev: bool) -> html.Div:
    """What to do when the store holds no traces yet: how to send the first ones."""
    token_step = (
        []
        if dev
        else [
            html.Li(
                [
                    "Create an ingest token for your fleet: ",
                    html.Code("tierwatch token create --fleet my-fleet --role ingest"),
                ]
            )
        ]
    )
    headers = (
        []
        if dev
        else [html.Code("OTEL_EXPORTER_OTLP_HEADERS='Authorization=Bearer <ingest token>'")]
    )
    return html.Div(
        [
            html.H2("No traces yet"),
            html.P(
                "tierwatch compares tiers, segments and model versions once it has "
                "received attempts: OpenTelemetry spans named hybrid.inference."
            ),
            html.Ol(
                [
                    *token_step,
                    html.Li(
                        [
                            "Point any OpenTelemetry SDK's OTLP/HTTP exporter at this server: ",
                            html.Code(f"OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}"),
                            " ",
                            *headers,
                            f" (traces go to {endpoint}/v1/traces).",
                        ]
                    ),
                    html.Li(
                        [
                            "Give every inference a span named ",
                            html.Code("hybrid.inference"),
                            " with the attributes ",
                            html.Code("hybrid.tier"),
                            " (device, edge or cloud), ",
                            html.Code("hybrid.task"),
                            " and ",
                            html.Code("hybrid.model.version"),
                            "; fallbacks carry ",
                            html.Code("hybrid.fallback"),
                            " and ",
                            html.Code("hybrid.fallback.reason"),
                            ".",
                        ]
                    ),
                ]
            ),
            html.P(
                [
                    "To look around first, send a simulated fleet with a day of history: ",
                    html.Code(
                        f"tierwatch simulate --endpoint {endpoint} --backfill 24h"
                        + ("" if dev else " --token <ingest token>")
                    ),
                ]
            ),
        ],
        className="card empty-state",
        id="empty-state",
    )
