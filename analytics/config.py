"""The analytics settings: thresholds, minimum sizes, default periods, and prices.

Every value has a documented default; a configuration file overrides them under
``[analytics]`` and per fleet under ``[analytics.fleets.<fleet>]``. Prices, read
by cost reports, are a list of their own, ``[[costs]]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, RootModel, field_validator, model_validator

from analytics.durations import parse_duration
from analytics.vocabulary import FAMILIES
from collector.config import Section
from collector.schema import SEGMENT_DIMENSIONS, TIERS

#: The threshold families of the tested metrics (``latency`` covers p50, p95 and p99).
TESTED_METRICS = tuple(FAMILIES)


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
        family: MetricThreshold(warn=warn, degraded=degraded, min_absolute=min_absolute)
        for family, (warn, degraded, min_absolute) in FAMILIES.items()
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

    reference_start: datetime | None = Field(
        default=None,
        description="Start of this fleet's pinned drift reference (ISO 8601), e.g. a good week.",
    )
    reference_end: datetime | None = Field(
        default=None, description="End of this fleet's pinned drift reference (ISO 8601)."
    )

    _metrics = field_validator("thresholds")(_check_metrics)

    @model_validator(mode="after")
    def _reference(self) -> FleetAnalyticsSettings:
        if (self.reference_start is None) != (self.reference_end is None):
            raise ValueError("reference_start and reference_end go together")
        start, end = self.reference_start, self.reference_end
        if start is not None and end is not None and end <= start:
            raise ValueError("reference_end must be after reference_start")
        return self


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
    report_max_segments: int = Field(
        default=5_000,
        ge=1,
        description="Above this many stored segments (of the fleet asked for), a health report "
        "or metrics frame adds rollups up in SQL per group of its dimensions instead of per "
        "segment; sub-segments are then not named (attribution, silence of parts).",
    )
    report_max_groups: int = Field(
        default=500,
        ge=1,
        description="In such a report, the most groups shown: those with the most attempts in "
        "the window and the period before it; "
        "the rest are added into one group per fleet and tier whose other values read "
        "'__other__', and the report's warnings say how many were folded.",
    )
    canary: bool = Field(
        default=True,
        description="When a report is split by model_version, also compare each version with "
        "the previous dominant version of the same segment.",
    )
    attribution_alpha: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="Chance of naming a sub-segment whose change does not really differ from its "
        "siblings' (Bonferroni over the sub-segments tried).",
    )
    attribution_dimensions: list[str] = Field(
        default_factory=lambda: [
            "task", "device_model", "model_version", "node", "region", "app_version", "model"
        ],
        description="Dimensions a finding is split by to name the sub-segments behind it.",
    )  # fmt: skip
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
    seasonal_days: int = Field(
        default=7,
        ge=0,
        le=28,
        description="A window is compared with the same hours of this many earlier days.",
    )
    seasonal_weeks: int = Field(
        default=4,
        ge=0,
        le=8,
        description="... and with the same weekday's hours of earlier weeks, up to this many.",
    )
    seasonal_min_days: int = Field(
        default=3,
        ge=2,
        description="Fewest earlier days with data for the calendar baseline (else the period "
        "before the window, of default_baseline's length).",
    )
    seasonal_day_min_attempts: int = Field(
        default=20,
        ge=1,
        description="Fewest attempts an earlier day needs to count in a calendar baseline.",
    )
    min_tail_attempts: int = Field(
        default=40,
        ge=1,
        description="Fewest attempts above a latency percentile for it to be tested (p95 on "
        "800 attempts has 40, p99 on 4,000); below, that percentile is not judged. Attempts "
        "come in bursts from few devices, so a thinner tail says more about which devices "
        "were busy than about the segment (see benchmarks/tails.py).",
    )
    drift_after: str | None = Field(
        default="7d",
        description="How long before the window the drift reference lies (the same hours then); "
        "empty turns drift off except for fleets with a pinned reference.",
    )
    silence_ratio: float = Field(
        default=0.25,
        gt=0,
        lt=1,
        description="A segment whose attempts fall to this share of their usual level is silent "
        "(warn); one at silence_severe_ratio or below is degraded.",
    )
    silence_severe_ratio: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Share of the usual traffic at or below which a silence is degraded.",
    )
    silence_min_window: str = Field(
        default="15m",
        description="Shortest window judged for silence: data from devices arrives late, so a "
        "few quiet minutes at the end of a short window are not yet a silence.",
    )
    silence_dimensions: list[str] = Field(
        default_factory=lambda: ["node", "device_model"],
        description="Sub-segments checked for silence inside every segment (a single edge node "
        "or hardware class that stops sending).",
    )
    inner_dimensions: list[str] = Field(
        default_factory=lambda: ["node", "device_model"],
        description="Sub-segments whose own change and drift are tested inside every segment "
        "of a report not split by them (one edge node in trouble at its peak, one hardware "
        "class drifting, while the tier as a whole looks usual); empty turns this off.",
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
        ge=1,
        description="Compacted hours re-checked for late attempts on every compaction pass; "
        "older hours are rewritten when the collector notes late attempts for them.",
    )

    minute_rollup_retention_days: int = Field(
        default=35,
        ge=0,
        description="Minute rollups of compacted hours older than this are deleted; reports "
        "read such periods from hourly rollups by whole hours. The default covers the "
        "seasonal baseline (4 weeks) and the drift reference. 0 keeps them (until "
        "hourly_rollup_retention_days).",
    )
    hourly_rollup_retention_days: int = Field(
        default=400,
        ge=0,
        description="Hourly rollups (and any minute rollups) older than this are deleted: "
        "nothing older can be reported. 0 keeps them forever.",
    )

    _metrics = field_validator("thresholds")(_check_metrics)

    @model_validator(mode="after")
    def _retention_order(self) -> AnalyticsSettings:
        minute, hourly = self.minute_rollup_retention_days, self.hourly_rollup_retention_days
        if hourly and minute and hourly < minute:
            raise ValueError(
                "hourly_rollup_retention_days must be 0 or at least minute_rollup_retention_days"
            )
        return self

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

    @field_validator("default_window", "default_baseline", "silence_min_window")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("drift_after")
    @classmethod
    def _drift(cls, value: str | None) -> str | None:
        if value:
            parse_duration(value)
        return value or None

    @field_validator("attribution_dimensions", "silence_dimensions", "inner_dimensions")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [d for d in value if d not in SEGMENT_DIMENSIONS]
        if unknown:
            raise ValueError(
                f"unknown dimension {unknown[0]!r}; dimensions are {', '.join(SEGMENT_DIMENSIONS)}"
            )
        return value

    def pinned_references(self) -> dict[str, tuple[datetime, datetime]]:
        """Each fleet's pinned drift reference period."""
        return {
            fleet: (o.reference_start, o.reference_end)
            for fleet, o in self.fleets.items()
            if o.reference_start is not None and o.reference_end is not None
        }

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


#: The amounts a price may name, in the order the configuration reference lists them.
PRICE_AMOUNTS = ("per_call", "per_1k_input_tokens", "per_1k_output_tokens", "per_node_hour")


class Price(Section):
    """One entry: what the attempts of a tier, or of one model on it, cost.

    Amounts are currency units; an amount left out costs nothing, but an entry
    must name at least one. A model's entry is that model's whole price; the
    entry without ``model`` prices the tier's other models.
    """

    tier: str = Field(description="device, edge or cloud.")
    model: str | None = Field(
        default=None,
        description="The model this price is for; without it, the tier's default price.",
    )
    per_call: float | None = Field(default=None, ge=0, description="Per attempt.")
    per_1k_input_tokens: float | None = Field(
        default=None, ge=0, description="Per 1,000 input tokens (gen_ai.usage.input_tokens)."
    )
    per_1k_output_tokens: float | None = Field(
        default=None, ge=0, description="Per 1,000 output tokens (gen_ai.usage.output_tokens)."
    )
    per_node_hour: float | None = Field(
        default=None,
        ge=0,
        description="Per hour an edge or cloud node (hybrid.node) served attempts, shared "
        "among the tasks it served in that hour in proportion to their attempts.",
    )

    @field_validator("tier")
    @classmethod
    def _tier(cls, value: str) -> str:
        if value not in TIERS:
            raise ValueError(f"unknown tier {value!r}; tiers are {', '.join(TIERS)}")
        return value

    @model_validator(mode="after")
    def _amounts(self) -> Price:
        if all(getattr(self, name) is None for name in PRICE_AMOUNTS):
            raise ValueError(f"a price needs at least one of {', '.join(PRICE_AMOUNTS)}")
        if self.tier == "device" and self.per_node_hour is not None:
            raise ValueError("per_node_hour prices edge and cloud nodes; devices have none")
        return self

    def amount(self, name: str) -> float:
        """One amount of this price; one it leaves out is 0."""
        value = getattr(self, name)
        return 0.0 if value is None else float(value)

    def label(self) -> str:
        """The tier, and the model when the price is for one, e.g. ``cloud model gpt-large``."""
        return self.tier if self.model is None else f"{self.tier} model {self.model}"


class CostSettings(RootModel[list[Price]]):
    """Prices for cost reports (`tierwatch report --cost`, `/api/v1/costs`).

    At most one entry per tier and model. Attempts of a tier without any price
    (or of a model without one where its tier has no default) have an unknown cost.
    """

    root: list[Price] = Field(default_factory=list)

    @model_validator(mode="after")
    def _once(self) -> CostSettings:
        seen: dict[tuple[str, str | None], int] = {}
        for i, price in enumerate(self.root):
            key = (price.tier, price.model)
            if key in seen:
                raise ValueError(
                    f"entries {seen[key]} and {i} both price {price.label()}; keep one"
                )
            seen[key] = i
        return self

    def price_for(self, tier: str, model: str) -> Price | None:
        """The price of ``model``'s attempts on ``tier``: its own, else the tier's default."""
        default = None
        for price in self.root:
            if price.tier != tier:
                continue
            if price.model == model:
                return price
            if price.model is None:
                default = price
        return default


class LatencyTarget(Section):
    """A latency objective: the share of answered requests answered within a threshold."""

    threshold_ms: float = Field(
        gt=0, description="End-to-end latency (ms) a request must be answered within."
    )
    target: float = Field(
        gt=0, lt=1, description="Share of answered requests within threshold_ms, e.g. 0.95."
    )


class AvailabilityTarget(Section):
    """An availability objective: the share of requests answered (not failed at every tier)."""

    target: float = Field(gt=0, lt=1, description="Share of requests answered, e.g. 0.995.")


class QualityFloor(Section):
    """A quality objective: the mean quality of served answers, where it is known."""

    floor: float = Field(
        gt=0, lt=1, description="Lowest acceptable mean quality of served answers, e.g. 0.90."
    )


class Objective(Section):
    """What a task's users must get over a period: ``[[objectives]]`` in the configuration.

    An entry names at least one of ``latency``, ``availability`` and ``quality``;
    each becomes one objective kind with its own error budget.
    """

    name: str = Field(description="Unique name, e.g. photo-tag-fast; named by alerts.")
    task: str = Field(description="The task (hybrid.task) whose requests are judged.")
    fleet: str | None = Field(
        default=None, description="Only this fleet's requests (default: every fleet)."
    )
    latency: LatencyTarget | None = Field(
        default=None, description="{threshold_ms, target}: answered within threshold_ms."
    )
    availability: AvailabilityTarget | None = Field(
        default=None, description="{target}: requests answered."
    )
    quality: QualityFloor | None = Field(
        default=None, description="{floor}: mean quality of served answers."
    )
    period: str = Field(default="28d", description="The period of the error budget, e.g. 28d.")

    @field_validator("name", "task")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _some_kind(self) -> Objective:
        if self.latency is None and self.availability is None and self.quality is None:
            raise ValueError(
                f"objective {self.name!r} names none of latency, availability and quality"
            )
        return self

    def kinds(self) -> list[str]:
        """The objective kinds this entry sets, in the order latency, availability, quality."""
        given = (
            ("latency", self.latency),
            ("availability", self.availability),
            ("quality", self.quality),
        )
        return [kind for kind, value in given if value is not None]

    def target(self, kind: str) -> float:
        """The target of ``kind`` (for quality: the floor)."""
        if kind == "latency" and self.latency is not None:
            return self.latency.target
        if kind == "availability" and self.availability is not None:
            return self.availability.target
        if kind == "quality" and self.quality is not None:
            return self.quality.floor
        raise KeyError(f"objective {self.name!r} has no {kind} target")


def _unique_names(value: list[Objective]) -> list[Objective]:
    seen: set[str] = set()
    for objective in value:
        if objective.name in seen:
            raise ValueError(f"objective name {objective.name!r} is used twice")
        seen.add(objective.name)
    return value


#: The ``[[objectives]]`` list: entries with unique names.
Objectives = Annotated[list[Objective], AfterValidator(_unique_names)]
