"""Objectives as plain text for terminals: one row per objective kind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from analytics.objectives import ObjectiveStatus

#: The burn rate columns of the table, in order.
BURN_COLUMNS = ("5m", "1h", "6h", "3d")


def _percent(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_objectives(statuses: Sequence[ObjectiveStatus], *, end: datetime) -> str:
    """The table of objectives at ``end``: target, SLI, budget left, burn rates, status."""
    lines = [f"objectives at {end:%Y-%m-%d %H:%M} UTC", ""]
    if not statuses:
        lines.append("no objectives configured; add [[objectives]] to the configuration")
        return "\n".join(lines) + "\n"
    header = ["status", "objective", "task", "fleet", "kind", "target", "period", "SLI"]
    header += ["budget left", *(f"burn {w}" for w in BURN_COLUMNS), "alert"]
    rows = []
    for s in statuses:
        target = f"{s.target:g}" if s.kind == "quality" else _percent(s.target, 2)
        sli = (f"{s.sli:.3f}" if s.sli is not None else "-") if s.kind == "quality" else None
        rows.append(
            [
                s.status,
                s.name,
                s.task,
                s.fleet or "(every)",
                s.kind if s.threshold_ms is None else f"latency <= {s.threshold_ms:g} ms",
                target,
                s.period,
                sli if sli is not None else _percent(s.sli, 2),
                _percent(s.budget_remaining, 1),
                *(_rate(s.burn_rates.get(w)) for w in BURN_COLUMNS),
                s.alert or "-",
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for cells in [header, *rows]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"
