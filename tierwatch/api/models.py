"""Response models shared by the analytics routers (findings appear in several)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

MetricValues = dict[str, float | int | None]


class PeriodModel(BaseModel):
    """A half-open time range ``[start, end)``, ISO 8601 UTC."""

    start: str
    end: str


class ContributionModel(BaseModel):
    """A sub-segment that explains part of a finding's change."""

    key: dict[str, str] = Field(description="Dimensions added to the segment's key.")
    window_value: float | None
    baseline_value: float | None
    share: float = Field(description="Fraction of the segment's change it explains (1.0 = all).")
    window_attempts: int


class FindingModel(BaseModel):
    """One metric of one segment that moved, with its evidence."""

    metric: str = Field(description="e.g. error_rate, latency_p95_ms, quality_mean.")
    window_value: float | None
    baseline_value: float | None = Field(
        description="The baseline's value, or the reference version's for a canary finding."
    )
    relative_change: float | None = Field(description="(window - baseline) / baseline.")
    p_value: float | None
    p_adjusted: float | None = Field(description="Benjamini-Hochberg adjusted p-value.")
    severity: str = Field(description="warn or degraded (worse), ok (better).")
    explanation: str
    direction: str = Field(description="worse or better.")
    test: str = Field(description="The test used, e.g. chi2_2x2, fisher_exact, welch_t.")
    effect_size: float | None = Field(description="PSI for distribution tests.")
    reference: str = Field(description="baseline, or 'model_version X' for a canary comparison.")
    attribution: list[ContributionModel]


class SegmentHealthModel(BaseModel):
    """The verdict on one segment."""

    key: dict[str, str]
    status: str = Field(description="ok, warn, degraded or insufficient_data.")
    metrics: MetricValues
    baseline_metrics: MetricValues
    findings: list[FindingModel]


def iso_period(start: datetime, end: datetime) -> dict[str, str]:
    """A period as the ``{"start", "end"}`` ISO 8601 pair the API answers with."""
    return {
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": end.isoformat().replace("+00:00", "Z"),
    }
