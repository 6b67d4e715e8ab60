"""A health report as plain text for terminals: a status table, then the findings."""

from __future__ import annotations

from datetime import datetime

from analytics.health import HealthReport
from analytics.vocabulary import format_value, metric

#: The metrics of the status table, in column order.
COLUMNS = ("attempts", "error_rate", "fallback_rate", "latency_p95_ms", "quality_mean")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def render_report(report: HealthReport) -> str:
    """The report as a table of segments (status and main metrics) and their findings."""
    lines = [
        f"window {_iso(report.window_start)} .. {_iso(report.window_end)} UTC, "
        f"baseline {_iso(report.baseline_start)} .. {_iso(report.baseline_end)} UTC",
        f"by {', '.join(report.by) or '(everything)'}"
        + (f", fleet {report.fleet}" if report.fleet else "")
        + f"; {report.tests} tests, false-discovery rate {report.fdr:g}",
        "",
    ]
    if not report.segments:
        lines.append("no attempts in the window")
        return "\n".join(lines) + "\n"
    header = ["status", "segment", *(metric(name).title for name in COLUMNS)]
    rows = []
    for segment in report.segments:
        name = ", ".join(f"{k}={v or '-'}" for k, v in segment.key.items()) or "(everything)"
        cells = [segment.status, name]
        for name in COLUMNS:
            value = segment.metrics.get(name)
            cells.append(format_value(name, None if value is None else float(value)))
        rows.append(cells)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for cells in [header, *rows]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    findings = [(s, f) for s in report.segments for f in s.findings]
    if findings:
        lines += ["", "findings:"]
        for segment, finding in findings:
            name = ", ".join(f"{k}={v or '-'}" for k, v in segment.key.items()) or "(everything)"
            lines.append(f"  [{finding.severity}] {name}: {finding.explanation}")
            for part in finding.attribution:
                where = ", ".join(f"{k}={v or '-'}" for k, v in part.key.items())
                lines.append(f"      explained by {where} ({part.share * 100:.0f}% of the change)")
    counts = report.status_counts()
    lines += ["", ", ".join(f"{n} {status}" for status, n in counts.items())]
    return "\n".join(lines) + "\n"
