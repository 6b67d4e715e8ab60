"""``GET /api/v1/tiers``: each local tier against the cloud, per fleet and task."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from analytics.config import AnalyticsSettings
from analytics.tiers import tier_comparison
from tierwatch.api.deps import ConnectionDep, ReadAuth
from tierwatch.api.models import MetricValues, PeriodModel, iso_period
from tierwatch.api.query import (
    EndQuery,
    FleetQuery,
    WindowQuery,
    analytics_settings,
    duration,
    end_time,
    fleet_scope,
)

router = APIRouter(prefix="/api/v1", tags=["tiers"])


class DifferenceModel(BaseModel):
    """One metric of a local tier against the cloud."""

    metric: str
    local_value: float | None
    cloud_value: float | None
    difference: float | None = Field(description="local - cloud.")
    ci_low: float | None = Field(description="95% interval of the difference (low).")
    ci_high: float | None
    p_value: float | None


class ShadowModel(BaseModel):
    """Agreement of a local tier with cloud shadows on the same requests."""

    pairs: int
    values: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None


class TierComparisonModel(BaseModel):
    """One local tier against the cloud for one fleet and task."""

    fleet: str
    task: str
    tier: str
    local: MetricValues
    cloud: MetricValues
    differences: list[DifferenceModel]
    cloud_escalation_rate: float | None
    shadow: ShadowModel | None
    quality_source: str | None = Field(description="quality, shadow_agreement or null.")


class TiersResponse(BaseModel):
    window: PeriodModel
    comparisons: list[TierComparisonModel]


@router.get(
    "/tiers",
    response_model=TiersResponse,
    summary="Local tiers (device, edge) against the cloud, per fleet and task",
)
def get_tiers(
    conn: ConnectionDep,
    principal: ReadAuth,
    settings: Annotated[AnalyticsSettings, Depends(analytics_settings)],
    window: WindowQuery = None,
    end: EndQuery = None,
    fleet: FleetQuery = None,
    task: Annotated[str | None, Query(description="Only this task.")] = None,
) -> dict[str, Any]:
    """Latency, quality, fallback and error rate of each local tier against the cloud.

    Example: ``/api/v1/tiers?window=24h&task=photo-tag``.
    """
    stop = end_time(end)
    start = stop - duration("window", window, settings.default_window)
    comparisons = tier_comparison(
        conn,
        start=start,
        end=stop,
        fleet=fleet_scope(principal, fleet),
        task=task,
        min_values=settings.min_values,
    )
    return {
        "window": iso_period(start, stop),
        "comparisons": [dataclasses.asdict(c) for c in comparisons],
    }
