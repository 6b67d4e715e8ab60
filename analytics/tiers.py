"""Tier comparison: is local inference (device, edge) as good as the cloud for each task?

Per fleet and task, each local tier is compared with the cloud tier over one
period on latency, quality, fallback rate and error rate, each with the
difference (local minus cloud), its 95% interval and a p-value; the task's cloud
escalation rate is given alongside. Where cloud shadow attempts ran on the same
requests as local ones, the local tier's quality is also estimated from its
agreement with the cloud: the quality recorded on the shadow attempt (else on the
local attempt) of each such pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, and_, func, select
from sqlalchemy.orm import aliased

from analytics.aggregates import Aggregates
from analytics.durations import to_unix
from analytics.histograms import LATENCY_VALUES, quantiles
from analytics.metrics import grouping, metric_dict, segment_by, segment_metrics
from analytics.rollups import read_aggregates, read_segments
from analytics.significance import (
    Interval,
    histogram_test,
    mean_difference_interval,
    mean_interval,
    proportion_difference_interval,
    quantile_interval,
    two_proportion_test,
    welch_test,
)
from analytics.vocabulary import LOCAL_TIERS
from collector.schema import ATTEMPTS


@dataclass(frozen=True)
class Difference:
    """One metric of a local tier against the cloud: the difference and its evidence.

    ``difference`` is local minus cloud, and ``ci_low`` to ``ci_high`` its 95% interval.
    """

    metric: str
    local_value: float | None
    cloud_value: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None


@dataclass(frozen=True)
class ShadowAgreement:
    """How often a local tier agreed with cloud shadows on the same requests."""

    pairs: int
    values: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class TierComparison:
    """One local tier against the cloud tier for one fleet and task.

    ``quality_source`` says where the local quality came from: ``quality`` (values
    senders reported), ``shadow_agreement`` (estimated from cloud shadows) or
    ``None`` when neither exists.
    """

    fleet: str
    task: str
    tier: str
    local: dict[str, float | int | None]
    cloud: dict[str, float | int | None]
    differences: list[Difference] = field(default_factory=list)
    cloud_escalation_rate: float | None = None
    shadow: ShadowAgreement | None = None
    quality_source: str | None = None


def _opt(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def _interval(ci: Interval) -> tuple[float | None, float | None]:
    return _opt(ci.low), _opt(ci.high)


def compare_tier_pair(
    local: Aggregates,
    cloud: Aggregates,
    *,
    agreement: ShadowAgreement | None = None,
    min_values: int = 30,
) -> tuple[list[Difference], str | None]:
    """One local tier against the cloud (one-row aggregates each): differences, quality source."""
    out: list[Difference] = []
    lat_l, lat_c = local.latency[0], cloud.latency[0]
    test = histogram_test(lat_l, lat_c)
    for metric, q in (("latency_p50_ms", 0.5), ("latency_p95_ms", 0.95)):
        value_l = quantiles(lat_l, (q,), LATENCY_VALUES)[0, 0]
        value_c = quantiles(lat_c, (q,), LATENCY_VALUES)[0, 0]
        ci_l = quantile_interval(lat_l, q, LATENCY_VALUES)
        ci_c = quantile_interval(lat_c, q, LATENCY_VALUES)
        diff = value_l - value_c
        # Half-widths of independent intervals combine in quadrature.
        below = np.hypot(value_l - ci_l.low, ci_c.high - value_c)
        above = np.hypot(ci_l.high - value_l, value_c - ci_c.low)
        out.append(
            Difference(
                metric,
                _opt(value_l),
                _opt(value_c),
                _opt(diff),
                _opt(diff - below),
                _opt(diff + above),
                test.p_value if lat_l.sum() and lat_c.sum() else None,
            )
        )
    for metric, num in (("fallback_rate", "fallbacks"), ("error_rate", "errors")):
        x1, n1 = int(local.column(num)[0]), int(local.column("attempts")[0])
        x2, n2 = int(cloud.column(num)[0]), int(cloud.column("attempts")[0])
        if n1 == 0 or n2 == 0:
            out.append(Difference(metric, None, None, None, None, None, None))
            continue
        ci = proportion_difference_interval(x1, n1, x2, n2)
        out.append(
            Difference(
                metric,
                x1 / n1,
                x2 / n2,
                x1 / n1 - x2 / n2,
                *_interval(ci),
                two_proportion_test(x1, n1, x2, n2).p_value,
            )
        )
    q_local = (
        float(local.column("quality_count")[0]),
        float(local.column("quality_sum")[0]),
        float(local.column("quality_sq_sum")[0]),
    )
    q_cloud = (
        float(cloud.column("quality_count")[0]),
        float(cloud.column("quality_sum")[0]),
        float(cloud.column("quality_sq_sum")[0]),
    )
    source: str | None = None
    if q_local[0] >= min_values and q_cloud[0] >= min_values:
        source = "quality"
        ci = mean_difference_interval(q_local, q_cloud)
        mean_l, mean_c = q_local[1] / q_local[0], q_cloud[1] / q_cloud[0]
        out.append(
            Difference(
                "quality_mean",
                mean_l,
                mean_c,
                mean_l - mean_c,
                *_interval(ci),
                welch_test(*q_local, *q_cloud).p_value,
            )
        )
    elif agreement is not None and agreement.mean is not None and agreement.values >= min_values:
        source = "shadow_agreement"
        out.append(
            Difference(
                "quality_mean",
                agreement.mean,
                None,
                None,
                agreement.ci_low,
                agreement.ci_high,
                None,
            )
        )
    return out, source


def read_shadow_agreement(
    conn: Connection, *, start: int, end: int, fleets: list[str]
) -> dict[tuple[str, str, str], ShadowAgreement]:
    """Agreement of local tiers with cloud shadows on the same requests, per (fleet, task, tier).

    Reads raw attempts (a rollup cannot pair attempts of one request): served
    local attempts joined with shadow cloud attempts of the same trace.
    """
    if not fleets:
        return {}
    served, shadow = aliased(ATTEMPTS), aliased(ATTEMPTS)
    value = func.coalesce(shadow.c.quality, served.c.quality)
    query = (
        select(
            served.c.fleet,
            served.c.task,
            served.c.tier,
            func.count(),
            func.count(value),
            func.sum(value),
            func.sum(value * value),
        )
        .select_from(served.join(shadow, shadow.c.trace_id == served.c.trace_id))
        .where(
            served.c.fleet.in_(fleets),
            served.c.start_time_unix_nano >= start * 1_000_000_000,
            served.c.start_time_unix_nano < end * 1_000_000_000,
            served.c.shadow.is_(False),
            served.c.tier.in_(LOCAL_TIERS),
            and_(shadow.c.shadow.is_(True), shadow.c.tier == "cloud"),
        )
        .group_by(served.c.fleet, served.c.task, served.c.tier)
    )
    out = {}
    for fleet, task, tier, pairs, values, total, sq in conn.execute(query):
        values = int(values or 0)
        ci = mean_interval(values, float(total or 0), float(sq or 0))
        out[(fleet, task, tier)] = ShadowAgreement(
            pairs=int(pairs),
            values=values,
            mean=float(total) / values if values else None,
            ci_low=_opt(ci.low),
            ci_high=_opt(ci.high),
        )
    return out


def tier_comparison(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    fleet: str | None = None,
    task: str | None = None,
    min_values: int = 30,
) -> list[TierComparison]:
    """Each local tier against the cloud, per fleet and task, over ``[start, end)``.

    Only (fleet, task) pairs with served attempts on the cloud tier and on at
    least one local tier are compared.
    """
    start_s, end_s = to_unix(start), to_unix(end)
    segments = read_segments(conn, fleet=fleet)
    if task is not None:
        segments = segments[segments["task"] == task]
    served = read_aggregates(conn, start=start_s, end=end_s, fleet=fleet)
    shadows = read_aggregates(conn, start=start_s, end=end_s, fleet=fleet, shadow=True)
    shadow_fleets = sorted(
        set(segments.reindex(shadows.labels)["fleet"].dropna())
        if len(shadows) and shadows.column("attempts").sum() > 0
        else set()
    )
    agreements = read_shadow_agreement(conn, start=start_s, end=end_s, fleets=shadow_fleets)
    return compare_tiers(segments, served, agreements=agreements, min_values=min_values)


def compare_tiers(
    segments: pd.DataFrame,
    served: Aggregates,
    *,
    agreements: Mapping[tuple[str, str, str], ShadowAgreement] | None = None,
    min_values: int = 30,
) -> list[TierComparison]:
    """The tier comparison from per-segment-id aggregates of served attempts (pure)."""
    agreements = agreements or {}
    by_tier = segment_by(served, segments, grouping(segments, ("fleet", "task", "tier")))
    by_task = segment_by(served, segments, grouping(segments, ("fleet", "task")))
    task_metrics = segment_metrics(by_task)
    escalation = {
        (by_task.key(i)["fleet"], by_task.key(i)["task"]): _opt(
            task_metrics["cloud_escalation_rate"].iloc[i]
        )
        for i in range(len(by_task.keys))
    }
    metrics = segment_metrics(by_tier)
    attempts = by_tier.aggs.column("attempts")
    index = {tuple(by_tier.key(i).values()): i for i in range(len(by_tier.keys)) if attempts[i] > 0}
    out = []
    for (fleet, task, tier), i in sorted(index.items()):
        cloud = index.get((fleet, task, "cloud"))
        if tier == "cloud" or cloud is None:
            continue
        agreement = agreements.get((fleet, task, tier))
        differences, source = compare_tier_pair(
            by_tier.aggs.row(i),
            by_tier.aggs.row(cloud),
            agreement=agreement,
            min_values=min_values,
        )
        out.append(
            TierComparison(
                fleet=fleet,
                task=task,
                tier=tier,
                local=metric_dict(metrics.iloc[i]),
                cloud=metric_dict(metrics.iloc[cloud]),
                differences=differences,
                cloud_escalation_rate=escalation.get((fleet, task)),
                shadow=agreement,
                quality_source=source,
            )
        )
    return out
