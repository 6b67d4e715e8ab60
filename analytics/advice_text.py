"""The routing what-if as terminal text: the curve's table, the current and recommended points."""

from __future__ import annotations

from analytics.advice import Advice, AdvicePoint

#: Thresholds the table shows besides the current and recommended ones.
TABLE_STEP = 0.05


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def point_row(point: AdvicePoint, *, mark: str = "") -> str:
    """One line of the curve's table."""
    return (
        f"{point.threshold:>9.2f} {_number(point.local_share, '>6.1%')} "
        f"{_number(point.cloud_escalation_rate, '>7.1%')} {_number(point.quality, '>7.3f')} "
        f"{_number(point.latency_p95_ms, '>8.0f')} {_number(point.cost_per_1k, '>9.4g')} "
        f"{_number(point.energy_mj_per_request, '>8.0f')} {point.coverage:<8} "
        f"{point.labelled:>8} {mark}"
    ).rstrip()


HEADER = "threshold  local cloud   quality  p95 ms  cost/1k  mJ/req coverage labelled"


def render_advice(advice: Advice) -> str:
    """The what-if as text: who, the table, the current and recommended thresholds, why, notes."""
    who = f"task {advice.task}, tier {advice.tier}"
    if advice.fleet is not None:
        who += f", fleet {advice.fleet}"
    lines = [
        f"advice for {who}: {advice.attempts} local attempts over {advice.hours} "
        f"hour{'' if advice.hours == 1 else 's'} "
        f"({advice.forced_share:.1%} fall back whatever the threshold)",
        f"current threshold {advice.current.threshold:.2f} "
        f"(explains {advice.current_fit:.1%} of the recorded attempts)",
        "",
        HEADER,
    ]
    chosen = advice.recommended.threshold if advice.recommended is not None else None
    for point in advice.curve:
        on_step = round(point.threshold / TABLE_STEP, 6).is_integer()
        marks = []
        if point.threshold == advice.current.threshold:
            marks.append("current")
        if point.threshold == chosen:
            marks.append("recommended")
        if on_step or marks:
            lines.append(point_row(point, mark=", ".join(marks)))
    lines.append("")
    if advice.recommended is None:
        lines.append(f"no recommendation: {advice.reason}")
    else:
        lines.append(f"recommended: {advice.reason}")
    lines += [f"note: {note}" for note in advice.notes]
    return "\n".join(lines) + "\n"
