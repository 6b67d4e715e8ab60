"""Alert rules: what is wrong now, per segment, as candidate alerts (pure).

Four kinds, each a function from an analytics result to candidates:

- ``segment_degraded`` (built in): a segment of the health report is ``degraded``;
- ``privacy_violation`` (built in): a segment had privacy violations in the rule window;
- ``objective_page`` and ``objective_ticket`` (built in, with ``[[objectives]]``): an
  objective's error budget burns fast or slowly (:func:`objective_candidates`);
- operator rules: a metric of the segments matching a selector against a threshold.

A candidate's fingerprint is a stable hash of the rule name and the segment key,
so the same rule on the same segment is always the same alert.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from analytics.alerting.config import (
    DEGRADED_RULE,
    OBJECTIVE_PAGE_RULE,
    OBJECTIVE_TICKET_RULE,
    PRIVACY_RULE,
    AlertRule,
)
from analytics.durations import format_duration
from analytics.health import HealthReport
from analytics.objectives import PAGE, ObjectiveStatus
from analytics.vocabulary import format_value, label

_COMPARE = {
    ">": lambda v, t: v > t,
    ">=": lambda v, t: v >= t,
    "<": lambda v, t: v < t,
    "<=": lambda v, t: v <= t,
}


@dataclass(frozen=True)
class Candidate:
    """An alert a rule raises now for one segment, before states, silences and hooks."""

    rule: str
    fingerprint: str
    fleet: str
    severity: str
    labels: dict[str, str]
    summary: str
    value: float | None
    for_: timedelta
    annotations: dict[str, str] = field(default_factory=dict)


def fingerprint(rule: str, key: Mapping[str, str]) -> str:
    """The stable identity of ``rule`` on the segment ``key``: 16 hex digits."""
    text = json.dumps({"rule": rule, "segment": dict(sorted(key.items()))}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def segment_text(key: Mapping[str, str]) -> str:
    """A segment key as operators read it: ``fleet=robots tier=device task=photo-tag``."""
    return " ".join(f"{k}={v}" for k, v in key.items()) or "all attempts"


def _labels(
    rule: str, severity: str, key: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    # Rule labels come last but never hide the identity labels.
    return {**(extra or {}), "alertname": rule, "severity": severity, **key}


def degraded_candidates(
    report: HealthReport, *, for_: timedelta, severity: str = "critical"
) -> list[Candidate]:
    """One candidate per ``degraded`` segment of ``report``, with its findings as evidence."""
    out = []
    for segment in report.segments:
        if segment.status != "degraded":
            continue
        key = {k: str(v) for k, v in segment.key.items()}
        worse = [f for f in segment.findings if f.direction == "worse"]
        evidence = [f.explanation for f in worse] or ["no finding detail"]
        summary = f"{segment_text(key)} is degraded: {evidence[0]}"
        out.append(
            Candidate(
                rule=DEGRADED_RULE,
                fingerprint=fingerprint(DEGRADED_RULE, key),
                fleet=key.get("fleet", ""),
                severity=severity,
                labels=_labels(DEGRADED_RULE, severity, key),
                summary=summary,
                value=None,
                for_=for_,
                annotations={
                    "summary": summary,
                    "description": "; ".join(evidence),
                    "window": f"{_iso(report.window_start)}/{_iso(report.window_end)}",
                    "baseline": f"{_iso(report.baseline_start)}/{_iso(report.baseline_end)}",
                },
            )
        )
    return out


def privacy_candidates(
    frame: pd.DataFrame,
    *,
    by: Sequence[str],
    window: timedelta,
    for_: timedelta,
    severity: str = "critical",
) -> list[Candidate]:
    """One candidate per segment of ``frame`` (a metrics frame) with privacy violations."""
    out = []
    for row in frame.to_dict("records"):
        count = _number(row.get("privacy_violations"))
        if count is None or count <= 0:
            continue
        key = {d: str(row[d]) for d in by}
        plural = "s" if count != 1 else ""
        summary = (
            f"{int(count)} privacy violation{plural} in {segment_text(key)} in the last "
            f"{format_duration(window)}: sensitive data ran on a tier the fleet's policy forbids"
        )
        out.append(
            Candidate(
                rule=PRIVACY_RULE,
                fingerprint=fingerprint(PRIVACY_RULE, key),
                fleet=key.get("fleet", ""),
                severity=severity,
                labels=_labels(PRIVACY_RULE, severity, key),
                summary=summary,
                value=float(count),
                for_=for_,
                annotations={"summary": summary, "metric": "privacy_violations"},
            )
        )
    return out


def objective_candidates(
    statuses: Sequence[ObjectiveStatus], *, for_: timedelta = timedelta(0)
) -> list[Candidate]:
    """One candidate per objective kind whose burn alert holds: a page or a ticket.

    A page is ``critical``, a ticket ``warning``; each is its own alert (rule
    ``objective_page`` or ``objective_ticket``), so a slow burn that turns fast is
    told again at once. The text names the objective, its kind, the burn rates of
    the windows that hold and the budget left.
    """
    out = []
    for status in statuses:
        if status.alert is None:
            continue
        page = status.alert == PAGE
        rule = OBJECTIVE_PAGE_RULE if page else OBJECTIVE_TICKET_RULE
        severity = "critical" if page else "warning"
        key = {"objective": status.name, "kind": status.kind}
        rates = ", ".join(
            f"{window} {_rate(status.burn_rates.get(window))}" for window in status.alert_windows
        )
        budget = status.budget_remaining
        left = "unknown" if budget is None else f"{budget:.1%}"
        summary = (
            f"objective {status.name} ({status.kind}, task {status.task}"
            + (f", fleet {status.fleet}" if status.fleet else "")
            + f") burns its {status.period} error budget: burn rate {rates}; "
            f"budget left {left}"
        )
        extra = {"task": status.task, **({"fleet": status.fleet} if status.fleet else {})}
        out.append(
            Candidate(
                rule=rule,
                fingerprint=fingerprint(rule, key),
                fleet=status.fleet or "",
                severity=severity,
                labels=_labels(rule, severity, {**key, **extra}),
                summary=summary,
                value=status.burn_rates.get(status.alert_windows[0]),
                for_=for_,
                annotations={
                    "summary": summary,
                    "objective": status.name,
                    "kind": status.kind,
                    "burn_rates": ", ".join(
                        f"{w}={_rate(r)}" for w, r in status.burn_rates.items()
                    ),
                    "budget_remaining": left,
                },
            )
        )
    return out


def _rate(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1f}"


def threshold_candidates(
    rule: AlertRule, frame: pd.DataFrame, *, by: Sequence[str], window: timedelta
) -> list[Candidate]:
    """One candidate per segment of ``frame`` that matches ``rule`` and breaches its threshold.

    Segments with fewer than ``rule.min_attempts`` attempts, or without a value of
    the metric, are not judged.
    """
    out = []
    for row in frame.to_dict("records"):
        if any(str(row.get(d)) != v for d, v in rule.match.items()):
            continue
        attempts = _number(row.get("attempts")) or 0.0
        value = _number(row.get(rule.metric))
        if attempts < rule.min_attempts or value is None:
            continue
        if not _COMPARE[rule.op](value, rule.threshold):
            continue
        key = {d: str(row[d]) for d in by}
        shown = format_value(rule.metric, value)
        limit = format_value(rule.metric, rule.threshold)
        text = (
            f"{label(rule.metric)} {shown} {rule.op} {limit} in {segment_text(key)} "
            f"over the last {format_duration(window)} ({int(attempts)} attempts)"
        )
        summary = f"{rule.summary}: {text}" if rule.summary else text
        out.append(
            Candidate(
                rule=rule.name,
                fingerprint=fingerprint(rule.name, key),
                fleet=key.get("fleet", ""),
                severity=rule.severity,
                labels=_labels(rule.name, rule.severity, key, rule.labels),
                summary=summary,
                value=value,
                for_=rule.for_duration,
                annotations={
                    "summary": summary,
                    "metric": rule.metric,
                    "threshold": f"{rule.op} {rule.threshold:g}",
                    "value": f"{value:g}",
                },
            )
        )
    return out


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
