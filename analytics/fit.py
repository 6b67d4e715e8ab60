"""The fit matrix: per task, the measured signals a placement rests on, and the placement.

For each task and tier: p95 latency (against the task's latency objective),
quality, cost per 1,000 requests and the model versions seen; per task: the
share of sensitive attempts and the privacy violations, the share of offline
device attempts and the device energy per request. :func:`place` turns them
into the placement the data supports and says why. Reading is
:func:`fit_matrix`; the judgement (:func:`place`) is pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection

from analytics.advice import Goals, ObjectiveEntry, goals_from_objectives
from analytics.config import CostSettings
from analytics.costs import cost_report
from analytics.times import TimeRange
from analytics.timeseries import metrics_frame
from collector.config import PrivacySettings
from collector.schema import TIERS

#: A share of sensitive attempts at or above this keeps the device in the placement.
SENSITIVE_SHARE = 0.01
#: A share of offline device attempts at or above this keeps the device in the placement.
OFFLINE_SHARE = 0.01
#: A tier that ran this many model versions in the window is said to change often.
MANY_VERSIONS = 3


@dataclass(frozen=True)
class TierFit:
    """One tier of a task: what was measured there.

    ``meets_latency`` says whether the latency at the objective's target share (p50,
    p95 or p99, the nearest at or above it) is within its threshold; ``None``
    without a latency objective for the task.
    """

    tier: str
    attempts: int
    latency_p95_ms: float | None
    meets_latency: bool | None
    quality: float | None
    cost_per_1k: float | None
    model_versions: int


@dataclass(frozen=True)
class TaskFit:
    """One row of the fit matrix: a task's signals, the placement they support and why."""

    fleet: str | None
    task: str
    tiers: list[TierFit]
    sensitive_share: float
    privacy_violations: int
    offline_share: float
    energy_mj_per_request: float | None
    goals: Goals
    placement: str
    reason: str


@dataclass(frozen=True)
class FitMatrix:
    """The fit matrix of a window: one row per fleet and task."""

    window: TimeRange
    tasks: list[TaskFit]


def _words(tiers: list[str]) -> str:
    return tiers[0] if len(tiers) == 1 else ", ".join(tiers[:-1]) + " and " + tiers[-1]


def place(
    tiers: list[TierFit],
    *,
    sensitive_share: float,
    privacy_violations: int,
    offline_share: float,
    goals: Goals,
) -> tuple[str, str]:
    """The placement the signals support, and the reason in words.

    The device is kept where sensitive data or offline use needs it. Of the
    tiers that meet the latency objective and the quality floor (where they are
    set and measured), the cheapest serves the rest (the fastest where costs are
    unknown); a local tier keeps the cloud as its fallback.
    """
    present = [t for t in tiers if t.attempts > 0]
    reasons: list[str] = []
    needs_device = False
    if sensitive_share >= SENSITIVE_SHARE:
        needs_device = True
        clause = (
            f"{sensitive_share:.0%} of attempts carry sensitive data, which only the device may run"
        )
        if privacy_violations:
            clause += f" ({privacy_violations} ran elsewhere: privacy violations)"
        reasons.append(clause)
    if offline_share >= OFFLINE_SHARE:
        needs_device = True
        reasons.append(f"{offline_share:.0%} of device attempts were offline")
    fitting = []
    for t in present:
        slow = t.meets_latency is False
        poor = (
            goals.quality_floor is not None
            and t.quality is not None
            and t.quality < goals.quality_floor
        )
        if slow:
            reasons.append(f"{t.tier} p95 {t.latency_p95_ms:.0f} ms misses the latency objective")
        if poor:
            reasons.append(f"{t.tier} quality {t.quality:.3f} is below the floor")
        if not slow and not poor:
            fitting.append(t)
    churn = [t.tier for t in present if t.model_versions >= MANY_VERSIONS]
    if churn:
        reasons.append(f"{_words(churn)} ran {MANY_VERSIONS} or more model versions in the window")
    if not fitting:
        if needs_device:
            return "device", "; ".join([*reasons, "no tier meets every objective"])
        return "none fits", "; ".join(reasons) or "no attempts in the window"
    among = (
        " of the tiers that meet the objectives"
        if goals.quality_floor is not None or goals.latency is not None
        else " (no objectives for this task)"
    )
    priced = [t for t in fitting if t.cost_per_1k is not None]
    if priced:
        best = min(priced, key=lambda t: (t.cost_per_1k or 0.0, TIERS.index(t.tier)))
        reasons.append(
            f"{best.tier} is the cheapest{among}: {best.cost_per_1k:.4g} per 1,000 requests"
        )
    else:
        best = min(fitting, key=lambda t: (t.latency_p95_ms or float("inf"), TIERS.index(t.tier)))
        reasons.append(f"{best.tier} is the fastest{among}; no prices to compare")
    placement = best.tier
    if best.tier != "cloud" and any(t.tier == "cloud" for t in present):
        placement += " with cloud fallback"
    if needs_device and best.tier != "device":
        placement = f"device for sensitive or offline requests, {placement} for the rest"
    return placement, "; ".join(reasons)


def _int(value: object) -> int:
    return 0 if value is None or pd.isna(value) else int(value)  # type: ignore[call-overload]


def _float(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def fit_matrix(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    prices: CostSettings,
    objectives: Iterable[ObjectiveEntry] = (),
    fleet: str | None = None,
    privacy: PrivacySettings | None = None,
) -> FitMatrix:
    """The fit matrix of ``[start, end)``, each task judged against its ``[[objectives]]``."""
    objectives = list(objectives)
    metrics = metrics_frame(
        conn, start=start, end=end, by=["fleet", "task", "tier"], fleet=fleet, privacy=privacy
    )
    versions = metrics_frame(
        conn, start=start, end=end, by=["fleet", "task", "tier", "model_version"], fleet=fleet
    )
    counts = versions[versions["attempts"] > 0].groupby(["fleet", "task", "tier"]).size()
    costs = cost_report(conn, end=end, window=end - start, prices=prices, fleet=fleet)
    cost_of = {
        (f.fleet, line.task, line.tier): line
        for f in costs.fleets
        for line in [*f.lines, *f.tasks]
        if line.task is not None
    }
    rows: list[TaskFit] = []
    for (fleet_name, task), group in metrics.groupby(["fleet", "task"], sort=True):
        task_goals = goals_from_objectives(objectives, task=str(task), fleet=str(fleet_name))
        tiers = []
        for tier in TIERS:
            found = group[group["tier"] == tier]
            if found.empty:
                continue
            m = found.iloc[0]
            p95 = _float(m["latency_p95_ms"])
            meets = None
            if task_goals.latency is not None:
                # The latency at the objective's share: the nearest quantile at or above it.
                target = task_goals.latency.target
                column = "latency_p50_ms" if target <= 0.5 else "latency_p95_ms"
                column = "latency_p99_ms" if target > 0.95 else column
                at_target = _float(m[column])
                if at_target is not None:
                    meets = at_target <= task_goals.latency.threshold_ms
            line = cost_of.get((fleet_name, task, tier))
            tiers.append(
                TierFit(
                    tier=tier,
                    attempts=_int(m["attempts"]),
                    latency_p95_ms=p95,
                    meets_latency=meets,
                    quality=_float(m["quality_mean"]),
                    cost_per_1k=line.cost_per_1k_requests if line is not None else None,
                    model_versions=_int(counts.get((fleet_name, task, tier))),
                )
            )
        attempts = float(group["attempts"].sum())
        device = group[group["tier"] == "device"]
        device_attempts = float(device["attempts"].sum())
        offline = float((device["offline_share"].fillna(0) * device["attempts"]).sum())
        total = cost_of.get((fleet_name, task, None))
        sensitive_share = float(group["sensitive"].sum()) / attempts if attempts else 0.0
        violations = _int(group["privacy_violations"].sum())
        offline_share = offline / device_attempts if device_attempts else 0.0
        placement, reason = place(
            tiers,
            sensitive_share=sensitive_share,
            privacy_violations=violations,
            offline_share=offline_share,
            goals=task_goals,
        )
        rows.append(
            TaskFit(
                fleet=str(fleet_name),
                task=str(task),
                tiers=tiers,
                sensitive_share=sensitive_share,
                privacy_violations=violations,
                offline_share=offline_share,
                energy_mj_per_request=total.energy_mj_per_request if total is not None else None,
                goals=task_goals,
                placement=placement,
                reason=reason,
            )
        )
    return FitMatrix(window=TimeRange(start, end), tasks=rows)
