"""The analytics settings section: thresholds, minimum sizes, default periods.

Every value has a documented default; a configuration file overrides them under
``[analytics]`` and per fleet under ``[analytics.fleets.<fleet>]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator, model_validator

from analytics.durations import parse_duration
from collector.config import Section
from collector.schema import SEGMENT_DIMENSIONS

#: The metrics that are tested window against baseline, with the direction that is worse.
#: ``latency`` covers the p50, p95 and p99 latencies (one histogram test);
#: ``confidence`` is the confidence distribution (one histogram test, judged on its mean).
TESTED_METRICS = (
    "error_rate",
    "fallback_rate",
    "cloud_escalation_rate",
    "latency",
    "confidence",
    "quality",
)


class MetricThreshold(Section):
    """When a statistically significant move of one metric is large enough to matter."""

    warn: float = Field(
        default=0.10,
        gt=0,
        description="Relative change (0.10 = 10%) from which a significant move is a finding.",
    )
    degraded: float = Field(
        default=0.25,
        gt=0,
        description="Relative change from which a finding in the worse direction is degraded.",
    )
    min_absolute: float = Field(
        default=0.0,
        ge=0,
        description="Smallest absolute change that counts (rates as fractions, latency in ms).",
    )

    def __repr__(self) -> str:
        # The configuration reference shows defaults with repr: keep them TOML-like.
        return repr(self.model_dump())

    @model_validator(mode="after")
    def _ordered(self) -> MetricThreshold:
        if self.degraded < self.warn:
            raise ValueError("degraded must be at least warn")
        return self


def _default_thresholds() -> dict[str, MetricThreshold]:
    return {
        "error_rate": MetricThreshold(warn=0.10, degraded=0.25, min_absolute=0.002),
        "fallback_rate": MetricThreshold(warn=0.10, degraded=0.25, min_absolute=0.005),
        "cloud_escalation_rate": MetricThreshold(warn=0.10, degraded=0.25, min_absolute=0.005),
        "latency": MetricThreshold(warn=0.10, degraded=0.25, min_absolute=1.0),
        "confidence": MetricThreshold(warn=0.05, degraded=0.15, min_absolute=0.02),
        "quality": MetricThreshold(warn=0.05, degraded=0.15, min_absolute=0.02),
    }


def _check_metrics(value: dict[str, MetricThreshold]) -> dict[str, MetricThreshold]:
    unknown = sorted(set(value) - set(TESTED_METRICS))
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; metrics are {', '.join(TESTED_METRICS)}")
    return value


class FleetAnalyticsSettings(Section):
    """What one fleet changes of the defaults; unset values keep the default."""

    min_attempts: int | None = Field(
        default=None, ge=1, description="Override of analytics.min_attempts for this fleet."
    )
    min_baseline_attempts: int | None = Field(
        default=None, ge=1, description="Override of analytics.min_baseline_attempts."
    )
    min_values: int | None = Field(
        default=None, ge=2, description="Override of analytics.min_values for this fleet."
    )
    thresholds: dict[str, MetricThreshold] = Field(
        default_factory=dict,
        description="Per-metric overrides of analytics.thresholds for this fleet.",
    )

    _metrics = field_validator("thresholds")(_check_metrics)


class AnalyticsSettings(Section):
    """The read side: how segments are judged, versions watched and rollups compacted."""

    default_window: str = Field(default="1h", description="The period judged when none is given.")
    default_baseline: str = Field(
        default="24h", description="The period the window is compared with when none is given."
    )
    default_by: list[str] = Field(
        default_factory=lambda: ["fleet", "tier", "task"],
        description="Segment dimensions of a health report when none are given.",
    )
    min_attempts: int = Field(
        default=100,
        ge=1,
        description="Fewest window attempts for a segment to be judged (else insufficient_data).",
    )
    min_baseline_attempts: int = Field(
        default=100,
        ge=1,
        description="Fewest baseline attempts for a comparison (else insufficient_data).",
    )
    min_values: int = Field(
        default=30,
        ge=2,
        description="Fewest confidence or quality values on each side for their test to run.",
    )
    fdr: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="False-discovery rate controlled (Benjamini-Hochberg) over one report's tests.",
    )
    exact_below: float = Field(
        default=5.0,
        gt=0,
        description="Rates use Fisher's exact test when an expected cell count is below this.",
    )
    thresholds: dict[str, MetricThreshold] = Field(
        default_factory=_default_thresholds,
        description="Practical-significance thresholds per tested metric ("
        + ", ".join(TESTED_METRICS)
        + "), each with warn, degraded (relative changes) and min_absolute; "
        "e.g. [analytics.thresholds.latency] warn = 0.15 (keys not given keep their defaults).",
    )
    fleets: dict[str, FleetAnalyticsSettings] = Field(
        default_factory=dict,
        description="Per-fleet overrides of min_attempts, min_baseline_attempts, min_values and "
        "thresholds, e.g. [analytics.fleets.robots-eu] min_attempts = 500.",
    )
    canary: bool = Field(
        default=True,
        description="When a report is split by model_version, also compare each version with "
        "the previous dominant version of the same segment.",
    )
    attribution_share: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of a degradation the named sub-segments must explain together.",
    )
    attribution_max_segments: int = Field(
        default=3, ge=1, description="Most sub-segments named for one finding."
    )
    attribution_max_depth: int = Field(
        default=2, ge=1, le=3, description="Most extra dimensions combined to explain a finding."
    )
    active_hours: float = Field(
        default=24.0, gt=0, description="A device seen within this many hours counts as active."
    )
    stuck_after_hours: float = Field(
        default=72.0,
        gt=0,
        description="A device on an old version this long after the newest one appeared is stuck.",
    )
    moved_on_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of active devices on the newest version from which the fleet has "
        "moved on (and devices left behind can be stuck).",
    )
    compaction_interval_seconds: float = Field(
        default=120.0,
        ge=0,
        description="How often the server folds closed hours into hourly rollups; 0 turns it off.",
    )
    compaction_grace_seconds: int = Field(
        default=300, ge=0, description="An hour is closed this many seconds after it ends."
    )
    compaction_recheck_hours: int = Field(
        default=24,
        ge=0,
        description="Compacted hours re-checked for late attempts on every compaction pass.",
    )

    _metrics = field_validator("thresholds")(_check_metrics)

    @field_validator("thresholds", mode="before")
    @classmethod
    def _merge_defaults(cls, value: Any) -> Any:
        # A table for one metric changes only the keys it names; other metrics keep theirs.
        if not isinstance(value, dict):
            return value
        merged: dict[str, Any] = {k: v.model_dump() for k, v in _default_thresholds().items()}
        for metric, given in value.items():
            if isinstance(given, dict) and metric in merged:
                merged[metric] = {**merged[metric], **given}
            else:
                merged[metric] = given
        return merged

    @field_validator("default_window", "default_baseline")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("default_by")
    @classmethod
    def _dimensions(cls, value: list[str]) -> list[str]:
        unknown = [d for d in value if d not in SEGMENT_DIMENSIONS]
        if unknown:
            raise ValueError(
                f"unknown dimension {unknown[0]!r}; dimensions are {', '.join(SEGMENT_DIMENSIONS)}"
            )
        return value

    def for_fleet(self, fleet: str | None) -> Rules:
        """The rules a segment of ``fleet`` is judged by (``None``: the defaults)."""
        override = self.fleets.get(fleet) if fleet is not None else None
        thresholds = {**self.thresholds}
        if override is None:
            return Rules(
                min_attempts=self.min_attempts,
                min_baseline_attempts=self.min_baseline_attempts,
                min_values=self.min_values,
                thresholds=thresholds,
            )
        for metric, given in override.thresholds.items():
            # Only the keys the fleet sets change; the rest keep the report-wide values.
            thresholds[metric] = thresholds[metric].model_copy(
                update={key: getattr(given, key) for key in given.model_fields_set}
            )
        return Rules(
            min_attempts=override.min_attempts or self.min_attempts,
            min_baseline_attempts=override.min_baseline_attempts or self.min_baseline_attempts,
            min_values=override.min_values or self.min_values,
            thresholds=thresholds,
        )


@dataclass(frozen=True)
class Rules:
    """The effective thresholds for one fleet (defaults with the fleet's overrides)."""

    min_attempts: int
    min_baseline_attempts: int
    min_values: int
    thresholds: dict[str, MetricThreshold]
