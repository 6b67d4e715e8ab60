"""A cost report as a one-page note per fleet, in plain text or Markdown.

Per fleet: a table of each task on each tier, the task's own line after its
tiers and the fleet's total last; then the biggest cost driver in one sentence
and the notes (tiers and models without a price first).
"""

from __future__ import annotations

from datetime import datetime

from analytics.costs import CostLine, CostReport, FleetCosts, format_money

FORMATS = ("text", "markdown")
HEADER = (
    "task",
    "tier",
    "requests",
    "attempts",
    "shadow",
    "cost",
    "per 1k requests",
    "escalations",
    "wasted",
    "energy mJ/request",
)
#: Columns written flush left; the others are numbers, flush right.
_LEFT = 2


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _cells(line: CostLine, task: str, tier: str) -> list[str]:
    per_1k = line.cost_per_1k_requests
    energy = line.energy_mj_per_request
    return [
        task,
        tier,
        str(line.requests),
        str(line.attempts),
        str(line.shadow_attempts),
        format_money(line.cost),
        # an unknown cost stays unknown; a known one over no requests has no figure
        format_money(per_1k) if line.cost is None or per_1k is not None else "-",
        _share(line.escalation_share),
        _share(line.wasted_share),
        "-" if energy is None else f"{energy:.1f}",
    ]


def _rows(fleet: FleetCosts) -> list[list[str]]:
    rows = []
    for task in fleet.tasks:
        for line in fleet.lines:
            if line.task == task.task:
                rows.append(_cells(line, line.task or "", line.tier or ""))
        rows.append(_cells(task, task.task or "", "all"))
    rows.append(_cells(fleet.total, "total", ""))
    return rows


def _sentence(note: str) -> str:
    return note[:1].upper() + note[1:] + "."


def _text_fleet(fleet: FleetCosts) -> list[str]:
    rows = [list(HEADER), *_rows(fleet)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [f"fleet {fleet.fleet}"]
    for cells in rows:
        parts = [
            c.ljust(w) if i < _LEFT else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    notes = [_sentence(n) for n in fleet.notes]
    return [*lines, *([fleet.driver] if fleet.driver else []), *notes]


def _markdown_fleet(fleet: FleetCosts) -> list[str]:
    lines = [
        f"## {fleet.fleet}",
        "",
        "| " + " | ".join(HEADER) + " |",
        "| " + " | ".join("---" if i < _LEFT else "---:" for i in range(len(HEADER))) + " |",
    ]
    for cells in _rows(fleet):
        lines.append("| " + " | ".join(cells) + " |")
    if fleet.driver:
        lines += ["", fleet.driver]
    if fleet.notes:
        lines += ["", *(f"- {_sentence(n)}" for n in fleet.notes)]
    return lines


def render_costs(report: CostReport, *, format: str = "text") -> str:
    """The note: a title, then each fleet's table, driver and notes, in ``format``."""
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; formats are {', '.join(FORMATS)}")
    period = f"{_iso(report.window.start)} .. {_iso(report.window.end)} UTC"
    markdown = format == "markdown"
    lines = [f"# Costs, {period}" if markdown else f"costs {period}"]
    if not report.fleets:
        return "\n".join([*lines, "", "no attempts in the window"]) + "\n"
    for fleet in report.fleets:
        lines += ["", *(_markdown_fleet(fleet) if markdown else _text_fleet(fleet))]
    return "\n".join(lines) + "\n"
