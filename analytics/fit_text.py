"""The fit matrix as a table, in plain text or Markdown: one row per task."""

from __future__ import annotations

from analytics.fit import FitMatrix, TaskFit, TierFit
from collector.schema import TIERS

FORMATS = ("text", "markdown")
HEADER = (
    "fleet",
    "task",
    *(f"{tier} p95 ms" for tier in TIERS),
    *(f"{tier} per 1k" for tier in TIERS),
    *(f"{tier} versions" for tier in TIERS),
    "sensitive",
    "violations",
    "offline",
    "mJ/request",
    "placement",
)


def _tier(fit: TaskFit, name: str) -> TierFit | None:
    return next((t for t in fit.tiers if t.tier == name), None)


def _p95(tier: TierFit | None) -> str:
    if tier is None or tier.latency_p95_ms is None:
        return "-"
    mark = {True: " ok", False: " slow", None: ""}[tier.meets_latency]
    return f"{tier.latency_p95_ms:.0f}{mark}"


def _cells(fit: TaskFit) -> list[str]:
    tiers = [_tier(fit, name) for name in TIERS]
    return [
        fit.fleet or "",
        fit.task,
        *(_p95(t) for t in tiers),
        *("-" if t is None or t.cost_per_1k is None else f"{t.cost_per_1k:.4g}" for t in tiers),
        *("-" if t is None else str(t.model_versions) for t in tiers),
        f"{fit.sensitive_share:.1%}",
        str(fit.privacy_violations),
        f"{fit.offline_share:.1%}",
        "-" if fit.energy_mj_per_request is None else f"{fit.energy_mj_per_request:.0f}",
        fit.placement,
    ]


def render_fit(matrix: FitMatrix, *, format: str = "text") -> str:
    """The matrix as a table with a line per task, then each task's reason."""
    rows = [_cells(fit) for fit in matrix.tasks]
    window = f"{matrix.window.start:%Y-%m-%d %H:%M} to {matrix.window.end:%Y-%m-%d %H:%M} UTC"
    reasons = [f"{fit.task} ({fit.fleet}): {fit.placement}: {fit.reason}" for fit in matrix.tasks]
    if format == "markdown":
        lines = [f"# Fit matrix, {window}", ""]
        lines.append("| " + " | ".join(HEADER) + " |")
        lines.append("|" + "|".join(" --- " for _ in HEADER) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines += ["", *(f"- {reason}" for reason in reasons)]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
    lines = [f"fit matrix, {window}", ""]
    lines.append("  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)).rstrip())
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if not rows:
        lines.append("no attempts in the window")
    lines += ["", *reasons]
    return "\n".join(lines) + "\n"
