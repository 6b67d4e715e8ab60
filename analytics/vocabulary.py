"""The metric vocabulary: every metric's name, label, unit, worse direction and formatting.

One registry that the health report, alert texts, the terminal report and the
dashboard all read, so a metric is named and shown the same way everywhere.
Adding a metric is one :class:`Metric` entry in :data:`METRICS`; a metric that
the health report tests also names the threshold family it is judged by and that
family's default thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypedDict, Unpack

from collector.schema import FALLBACK_REASONS, TIERS

__all__ = [
    "FAMILIES",
    "LOCAL_TIERS",
    "METRICS",
    "TIERS",
    "Metric",
    "format_p",
    "format_value",
    "label",
    "metric",
]

#: The tiers that run on the user's side of the network.
LOCAL_TIERS = tuple(t for t in TIERS if t != "cloud")

Kind = Literal["rate", "amount", "count"]
Unit = Literal["share", "ms", "mJ", "score", "count", "per_hour"]


@dataclass(frozen=True)
class Metric:
    """One metric: how it is named, what it measures and how a value of it is written.

    ``kind`` is ``rate`` (a share of attempts or requests, shown in %), ``amount``
    (a mean or percentile in ``unit``) or ``count``. ``worse`` is +1 when a rise is
    worse, -1 when a fall is, 0 when neither. ``family`` names the threshold
    family a tested metric is judged by (``None``: not tested); ``thresholds`` are
    that family's defaults as (warn, degraded, min_absolute).
    """

    name: str
    label: str
    kind: Kind
    unit: Unit
    worse: int = 0
    short: str = ""
    family: str | None = None
    thresholds: tuple[float, float, float] | None = None

    @property
    def title(self) -> str:
        """The column title in narrow tables (the label when no short one is set)."""
        return self.short or self.label

    def format(self, value: float | None) -> str:
        """A value as people read it: rates in %, latency in ms, means to 3 decimals."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        if self.kind == "rate":
            pct = value * 100
            return f"{pct:.2f}%" if abs(pct) < 1 else f"{pct:.1f}%"
        if self.kind == "count":
            return str(round(value))
        if self.unit in ("ms", "mJ"):
            return f"{value:.1f} {self.unit}" if abs(value) < 10 else f"{value:.0f} {self.unit}"
        if self.unit == "score":
            return f"{value:.3f}"
        if self.unit == "per_hour":
            return f"{value:,.0f}"
        return f"{value:g}"


class _Options(TypedDict, total=False):
    """The optional fields of a :class:`Metric`, as keyword arguments."""

    worse: int
    short: str
    family: str | None
    thresholds: tuple[float, float, float] | None


def _rate(name: str, label: str, **kw: Unpack[_Options]) -> Metric:
    return Metric(name, label, "rate", "share", **kw)


def _count(name: str, label: str, **kw: Unpack[_Options]) -> Metric:
    return Metric(name, label, "count", "count", **kw)


_ENTRIES = (
    _count("attempts", "attempts"),
    _count("requests", "requests"),
    Metric("attempts_per_hour", "attempts / hour", "amount", "per_hour"),
    _count("errors", "errors"),
    _rate("error_rate", "error rate", worse=1, short="errors", family="error_rate",
          thresholds=(0.10, 0.25, 0.002)),
    _count("fallbacks", "fallbacks"),
    _rate("fallback_rate", "fallback rate", worse=1, short="fallbacks", family="fallback_rate",
          thresholds=(0.10, 0.25, 0.005)),
    *(
        _rate(f"fallback_rate_{reason}", f"fallback rate ({reason.replace('_', ' ')})", worse=1)
        for reason in (*FALLBACK_REASONS, "other")
    ),
    _count("cloud_escalations", "cloud escalations"),
    _rate("cloud_escalation_rate", "cloud escalation rate", worse=1, short="escalations",
          family="cloud_escalation_rate", thresholds=(0.10, 0.25, 0.005)),
    Metric("latency_mean_ms", "mean latency", "amount", "ms", worse=1),
    Metric("latency_p50_ms", "p50 latency", "amount", "ms", worse=1, short="p50",
           family="latency", thresholds=(0.10, 0.25, 1.0)),
    Metric("latency_p95_ms", "p95 latency", "amount", "ms", worse=1, short="p95",
           family="latency", thresholds=(0.10, 0.25, 1.0)),
    Metric("latency_p99_ms", "p99 latency", "amount", "ms", worse=1, short="p99",
           family="latency", thresholds=(0.10, 0.25, 1.0)),
    _count("confidence_count", "confidence values"),
    Metric("confidence_mean", "mean confidence", "amount", "score", worse=-1,
           short="confidence", family="confidence", thresholds=(0.05, 0.15, 0.02)),
    Metric("confidence_ci_low", "mean confidence (low)", "amount", "score"),
    Metric("confidence_ci_high", "mean confidence (high)", "amount", "score"),
    _count("quality_count", "quality values"),
    Metric("quality_mean", "mean quality", "amount", "score", worse=-1, short="quality",
           family="quality", thresholds=(0.05, 0.15, 0.02)),
    Metric("quality_ci_low", "mean quality (low)", "amount", "score"),
    Metric("quality_ci_high", "mean quality (high)", "amount", "score"),
    _count("sensitive", "sensitive attempts"),
    _count("privacy_violations", "privacy violations", worse=1),
    Metric("energy_mj_mean", "mean energy", "amount", "mJ", worse=1, short="energy",
           family="energy", thresholds=(0.10, 0.25, 5.0)),
    _rate("thermal_share", "thermal share", worse=1, short="thermal", family="thermal",
          thresholds=(0.25, 0.50, 0.02)),
    _rate("offline_share", "offline share"),
    _count("input_tokens", "input tokens"),
    _count("output_tokens", "output tokens"),
    _rate("device_share", "device share"),
    _rate("skew_share", "version skew"),
)  # fmt: skip

#: Every metric by name, in the order the health report lists them.
METRICS: dict[str, Metric] = {m.name: m for m in _ENTRIES}

#: Threshold families of the tested metrics, in order, with their default
#: (warn, degraded, min_absolute); a family's metrics share its thresholds.
FAMILIES: dict[str, tuple[float, float, float]] = {}
for _m in _ENTRIES:
    if _m.family is not None and _m.thresholds is not None:
        FAMILIES.setdefault(_m.family, _m.thresholds)


def metric(name: str) -> Metric:
    """The registered metric ``name``; a :class:`KeyError` names an unregistered one."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}: register it in analytics.vocabulary") from None


def label(name: str) -> str:
    """A metric's name as people read it, e.g. ``mean quality``."""
    return metric(name).label


def format_value(name: str, value: float | None) -> str:
    """A value of metric ``name`` as people read it, e.g. ``12.5%`` or ``212 ms``."""
    return metric(name).format(value)


def format_p(p: float) -> str:
    """A p-value as people read it: ``p<0.001`` or ``p=0.012``."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"
