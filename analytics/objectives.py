"""Objectives and error budgets: SLIs, budget left, burn rates and burn alerts (pure).

Every objective kind reduces to one question per request (or served answer):
was it bad? ``bad / total`` is the bad fraction, and ``1 - target`` the bad
fraction allowed.

- latency: of the answered requests, those slower than ``threshold_ms`` end to
  end. Latencies are known by histogram bucket (:mod:`collector.buckets`), so the
  threshold is read at the bucket edge nearest to it (within 2%); a threshold
  that is itself a bucket edge is exact.
- availability: requests not answered (every attempt errored or fell back).
- quality: ``1 - quality`` of each served answer with a known quality, so the bad
  fraction is ``1 - mean quality`` and the floor plays the target's part.

Over a span, the SLI is ``1 - bad fraction`` (the mean quality for quality); the
budget remaining over the period is ``1 - bad fraction / (1 - target)`` (for
quality ``(mean - floor) / (1 - floor)``), 1 untouched, 0 spent, below 0
overspent; the burn rate of a lookback window is its bad fraction over
``1 - target``: 1 spends the budget exactly over the period.

Alerts follow the multi-window, multi-burn-rate rules of the Google SRE workbook:
a burn rule holds when both its long and its short window burn faster than its
factor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.config import Objective
from analytics.histograms import LATENCY_BINS, LATENCY_OFFSET
from collector import buckets

KINDS = ("latency", "availability", "quality")
#: The lookback windows burn rates are computed over, in seconds.
BURN_WINDOWS: dict[str, int] = {
    "5m": 300,
    "30m": 1_800,
    "1h": 3_600,
    "6h": 21_600,
    "3d": 259_200,
}
PAGE = "page"
TICKET = "ticket"
#: Budget left below which an objective with no burn alert is ``warn``.
LOW_BUDGET = 0.25


@dataclass(frozen=True)
class BurnRule:
    """Alert ``action`` when both windows burn faster than ``factor``."""

    action: str
    long: str
    short: str
    factor: float


#: The SRE workbook's pairs: 2% of a 30-day budget in an hour, 5% in six hours
#: (pages), 10% in three days (ticket).
BURN_RULES = (
    BurnRule(PAGE, "1h", "5m", 14.4),
    BurnRule(PAGE, "6h", "30m", 6.0),
    BurnRule(TICKET, "3d", "6h", 1.0),
)


@dataclass(frozen=True)
class RequestSums:
    """Request rollups added up per label (a time bucket, or a lookback span).

    ``latency`` holds the dense end-to-end latency histograms of answered requests
    (:mod:`analytics.histograms`), one row per label.
    """

    labels: np.ndarray
    requests: np.ndarray
    answered: np.ndarray
    quality_count: np.ndarray
    quality_sum: np.ndarray
    latency: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def __add__(self, other: RequestSums) -> RequestSums:
        """Rows of the same labels added (e.g. two fleets of one task)."""
        return RequestSums(
            labels=self.labels,
            requests=self.requests + other.requests,
            answered=self.answered + other.answered,
            quality_count=self.quality_count + other.quality_count,
            quality_sum=self.quality_sum + other.quality_sum,
            latency=self.latency + other.latency,
        )

    def cumulative(self) -> RequestSums:
        """Each row added to every row before it (slabs into nested spans)."""
        return RequestSums(
            labels=self.labels,
            requests=np.cumsum(self.requests),
            answered=np.cumsum(self.answered),
            quality_count=np.cumsum(self.quality_count),
            quality_sum=np.cumsum(self.quality_sum),
            latency=np.cumsum(self.latency, axis=0),
        )


def empty_sums(labels: Sequence[int] | np.ndarray) -> RequestSums:
    """Zero sums for ``labels``."""
    n = len(labels)
    zeros = np.zeros(n)
    return RequestSums(
        labels=np.asarray(labels, dtype=np.int64),
        requests=zeros,
        answered=zeros,
        quality_count=zeros,
        quality_sum=zeros,
        latency=np.zeros((n, LATENCY_BINS), dtype=np.int64),
    )


def threshold_column(threshold_ms: float) -> int:
    """The last dense latency column counted as within ``threshold_ms``.

    Bucket ``i`` holds ``(gamma**(i-1), gamma**i]``: the edge nearest the threshold
    (in log scale) is ``gamma**k``, and buckets up to ``k`` are within it.
    """
    edge = round(math.log(threshold_ms) / math.log(buckets.GAMMA))
    return int(np.clip(edge - LATENCY_OFFSET, -1, LATENCY_BINS - 1))


def within_threshold(latency: np.ndarray, threshold_ms: float) -> np.ndarray:
    """Per row of dense latency histograms, the requests at or below the threshold's edge."""
    last = threshold_column(threshold_ms)
    counted: np.ndarray = latency[:, : last + 1].sum(axis=1).astype(float)
    return counted


def bad_and_total(objective: Objective, kind: str, sums: RequestSums) -> tuple[np.ndarray, ...]:
    """Per row: the bad amount and the total it is a share of, for ``kind``."""
    if kind == "latency":
        assert objective.latency is not None
        good = within_threshold(sums.latency, objective.latency.threshold_ms)
        return sums.answered - good, sums.answered
    if kind == "availability":
        return sums.requests - sums.answered, sums.requests
    if kind == "quality":
        return sums.quality_count - sums.quality_sum, sums.quality_count
    raise ValueError(f"unknown objective kind {kind!r}")


def _ratio(bad: float, total: float) -> float | None:
    return bad / total if total > 0 else None


@dataclass(frozen=True)
class ObjectiveStatus:
    """One kind of one objective over its period ending at ``end``.

    ``sli`` is the share of good requests (for quality: the mean served quality);
    ``budget_remaining`` 1 untouched, 0 spent, below 0 overspent; ``burn_rates``
    per lookback window (``None`` without requests there); ``alert`` the burn
    alert that holds (``page``, ``ticket`` or ``None``); ``requests`` counts what
    the SLI is a share of over the period (answered requests for latency, served
    answers with a quality for quality).
    """

    name: str
    task: str
    fleet: str | None
    kind: str
    target: float
    period: str
    sli: float | None
    budget_remaining: float | None
    burn_rates: dict[str, float | None]
    status: str
    alert: str | None = None
    requests: int = 0
    threshold_ms: float | None = None
    alert_windows: list[str] = field(default_factory=list)


def judge(
    objective: Objective, kind: str, spans: RequestSums, *, period_seconds: int
) -> ObjectiveStatus:
    """One objective kind from sums over nested lookback spans (labels: span seconds).

    ``spans`` must hold ``period_seconds`` and every :data:`BURN_WINDOWS` span.
    """
    bad, total = bad_and_total(objective, kind, spans)
    row = {int(label): i for i, label in enumerate(spans.labels)}
    target = objective.target(kind)
    allowed = 1.0 - target
    p = row[period_seconds]
    fraction = _ratio(float(bad[p]), float(total[p]))
    burn: dict[str, float | None] = {}
    for name, seconds in BURN_WINDOWS.items():
        window = _ratio(float(bad[row[seconds]]), float(total[row[seconds]]))
        burn[name] = None if window is None else window / allowed
    alert, windows = burn_alert(burn)
    threshold = objective.latency.threshold_ms if kind == "latency" and objective.latency else None
    if fraction is None:
        sli = budget = None
        status = "insufficient_data"
    else:
        sli = 1.0 - fraction
        budget = 1.0 - fraction / allowed
        status = status_of(budget, alert)
    return ObjectiveStatus(
        name=objective.name,
        task=objective.task,
        fleet=objective.fleet,
        kind=kind,
        target=target,
        period=objective.period,
        sli=sli,
        budget_remaining=budget,
        burn_rates=burn,
        status=status,
        alert=alert,
        requests=int(total[p]),
        threshold_ms=threshold,
        alert_windows=windows,
    )


def burn_alert(burn: Mapping[str, float | None]) -> tuple[str | None, list[str]]:
    """The most urgent burn rule that holds (``page`` before ``ticket``) and its windows."""
    for action in (PAGE, TICKET):
        for rule in BURN_RULES:
            if rule.action != action:
                continue
            long, short = burn.get(rule.long), burn.get(rule.short)
            if long is not None and short is not None and min(long, short) > rule.factor:
                return action, [rule.long, rule.short]
    return None, []


def status_of(budget: float, alert: str | None) -> str:
    """``degraded`` when paging or the budget is spent; ``warn`` on a ticket or a low budget."""
    if alert == PAGE or budget <= 0:
        return "degraded"
    if alert == TICKET or budget < LOW_BUDGET:
        return "warn"
    return "ok"


def budget_series(
    objective: Objective, kind: str, buckets_: RequestSums, *, step: int
) -> pd.DataFrame:
    """Budget left and burn rate over time, from sums per time bucket (labels: bucket starts).

    Columns ``time`` (the bucket's end, Unix seconds), ``burn_rate`` (in that
    bucket) and ``budget_remaining`` (over the buckets from the first to that one).
    Buckets without requests have no burn rate and keep the budget before them.
    """
    bad, total = bad_and_total(objective, kind, buckets_)
    allowed = 1.0 - objective.target(kind)
    with np.errstate(divide="ignore", invalid="ignore"):
        burn = np.where(total > 0, bad / total / allowed, np.nan)
        spent_bad, spent_total = np.cumsum(bad), np.cumsum(total)
        budget = np.where(spent_total > 0, 1.0 - spent_bad / spent_total / allowed, np.nan)
    return pd.DataFrame(
        {
            "time": buckets_.labels.astype(np.int64) + step,
            "burn_rate": burn,
            "budget_remaining": budget,
        }
    )
