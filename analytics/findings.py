"""Findings and statuses: what one moved metric is, how severe, and what a segment's status is.

Pure. A :class:`Finding` is one metric of one segment that moved, with its
evidence; :func:`classify` decides whether a significant move is large enough to
matter and how severe it is; :func:`status_of` turns a segment's findings into
its status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from analytics.attribution import Contribution
from analytics.baselines import Baseline
from analytics.config import MetricThreshold
from analytics.requests import RequestGroup
from analytics.times import Time

#: Statuses, from best to worst; ``insufficient_data`` when a segment cannot be judged.
STATUSES = ("ok", "warn", "degraded", "insufficient_data")
#: Finding severities: ``ok`` for a move in the better direction.
SEVERITIES = ("ok", "warn", "degraded")
#: The ``reference`` of a finding judged against the segment's own baseline.
BASELINE = "baseline"

FindingKind = Literal["change", "drift", "silence"]


@dataclass(frozen=True)
class Finding:
    """One metric of one segment that moved, with its evidence.

    ``kind`` is ``change`` (against the usual level for this time), ``drift``
    (against a long-ago reference) or ``silence`` (traffic far below its usual
    level). ``baseline`` says what the window was compared with; ``reference`` is
    ``"baseline"`` for the segment's own history or ``"model_version X"`` for a
    canary comparison with version X in the same window (then ``baseline_value``
    is X's value). ``severity`` is ``warn`` or ``degraded`` for a move in the worse
    ``direction``, ``ok`` for one in the better. ``onset`` is when the change
    began, where the segment's series shows it. ``attribution`` names the
    sub-segments whose change differs from their siblings'; ``across`` names the
    dimensions over which the change is shared evenly instead.
    """

    metric: str
    window_value: float | None
    baseline_value: float | None
    relative_change: float | None
    p_value: float | None
    p_adjusted: float | None
    severity: str
    explanation: str
    direction: str = "worse"
    test: str = ""
    effect_size: float | None = None
    reference: str = BASELINE
    attribution: tuple[Contribution, ...] = ()
    kind: FindingKind = "change"
    baseline: Baseline | None = None
    onset: Time | None = None
    across: tuple[str, ...] = ()
    #: The part of the segment the finding is about (a node or hardware class that
    #: went silent, changed or drifted on its own); empty for the whole segment.
    subject: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SegmentHealth:
    """The verdict on one segment: status, metrics of window and baseline, findings.

    ``requests`` are the requests whose first attempt ran in the segment and
    started in the window, end to end (``None`` when none did, or for a group
    that adds segments up, ``__other__``).
    """

    key: dict[str, str]
    status: str
    metrics: dict[str, float | int | None]
    baseline_metrics: dict[str, float | int | None] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    requests: RequestGroup | None = None


def classify(
    window_value: float | None,
    reference_value: float | None,
    *,
    worse: int,
    threshold: MetricThreshold,
) -> tuple[str, str, float | None] | None:
    """Severity, direction and relative change of a significant move, or ``None`` if trivial.

    A move counts when its absolute size reaches ``min_absolute`` and its relative
    size reaches ``warn`` (a move from zero counts by its absolute size). In the
    worse direction it is ``degraded`` from ``degraded`` on, else ``warn``; in the
    better direction its severity is ``ok``.
    """
    if window_value is None or reference_value is None:
        return None
    diff = window_value - reference_value
    if abs(diff) < threshold.min_absolute or diff == 0:
        return None
    relative = diff / reference_value if reference_value != 0 else None
    if relative is not None and abs(relative) < threshold.warn:
        return None
    if diff * worse < 0:
        return "ok", "better", relative
    if relative is None or abs(relative) >= threshold.degraded:
        return "degraded", "worse", relative
    return "warn", "worse", relative


def status_of(findings: Sequence[Finding], *, judged: bool) -> str:
    """The status ``findings`` give a segment (``judged``: it had enough data to be judged).

    Degraded or warn by the worst finding; ok when judged without one; else
    ``insufficient_data``.
    """
    severities = {f.severity for f in findings}
    if "degraded" in severities:
        return "degraded"
    if not judged:
        return "insufficient_data"
    if "warn" in severities:
        return "warn"
    return "ok"


def finding_order(finding: Finding) -> tuple[int, float]:
    """Sort key: worst severity first, then the strongest evidence."""
    return (-SEVERITIES.index(finding.severity), finding.p_adjusted or 0.0)
