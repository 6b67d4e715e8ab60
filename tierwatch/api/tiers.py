"""``GET /api/v1/tiers``: each local tier against the cloud, per fleet and task."""

from __future__ import annotations

from fastapi import APIRouter

from analytics.tiers import TierComparison, tier_comparison
from analytics.times import TimeRange
from tierwatch.api.deps import ConnectionDep, SettingsDep, TiersQueryDep
from tierwatch.api.models import ResponseModel

router = APIRouter(prefix="/api/v1", tags=["tiers"])


class TiersResponse(ResponseModel):
    window: TimeRange
    comparisons: list[TierComparison]


@router.get(
    "/tiers",
    response_model=TiersResponse,
    summary="Local tiers (device, edge) against the cloud, per fleet and task",
)
def get_tiers(conn: ConnectionDep, settings: SettingsDep, query: TiersQueryDep) -> TiersResponse:
    """Latency, quality, fallback and error rate of each local tier against the cloud.

    Example: ``/api/v1/tiers?window=24h&task=photo-tag``.
    """
    comparisons = tier_comparison(
        conn,
        start=query.start,
        end=query.end,
        fleet=query.fleet,
        task=query.key.get("task"),
        min_values=settings.min_values,
    )
    return TiersResponse(window=TimeRange(query.start, query.end), comparisons=comparisons)
