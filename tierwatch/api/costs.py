"""``GET /api/v1/costs``: cost and energy per fleet, task and tier, priced with ``[[costs]]``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from analytics.costs import HOUR, CostReport, FleetCosts, cost_report
from analytics.durations import format_duration
from analytics.times import TimeRange
from tierwatch.api.deps import ConnectionDep, CostsQueryDep, PricesDep
from tierwatch.api.models import ResponseModel
from tierwatch.api.query import BadParameter, duration

router = APIRouter(prefix="/api/v1", tags=["costs"])

BucketQuery = Annotated[
    str | None,
    Query(description="Length of the time buckets, a whole number of hours, e.g. 1h, 1d "
          "(default 1d)."),
]  # fmt: skip


class CostsResponse(ResponseModel):
    """Every fleet's cost note: per task and tier, per task, in total, and per bucket."""

    window: TimeRange
    bucket: str = Field(description="Length of the buckets, e.g. 1d.")
    fleets: list[FleetCosts]

    @classmethod
    def of(cls, report: CostReport) -> CostsResponse:
        """The response (and ``tierwatch report --cost --json``) for ``report``."""
        return cls(
            window=report.window,
            bucket=format_duration(timedelta(seconds=report.bucket_seconds)),
            fleets=report.fleets,
        )


@router.get(
    "/costs",
    response_model=CostsResponse,
    summary="Cost and energy per fleet, task and tier over a window",
)
def get_costs(
    conn: ConnectionDep, prices: PricesDep, query: CostsQueryDep, bucket: BucketQuery = None
) -> CostsResponse:
    """What each task cost on each tier, per 1,000 requests, on escalations and on answers
    not served, and the device energy per request; tiers without a price have an unknown cost.

    Example: ``/api/v1/costs?window=7d&fleet=acme&bucket=1d``.
    """
    step = duration("bucket", bucket, "1d")
    if step.total_seconds() % HOUR:
        raise BadParameter("bucket", f"{bucket!r} is not a whole number of hours, e.g. 1h or 1d")
    report = cost_report(
        conn, end=query.end, window=query.window, prices=prices, fleet=query.fleet, bucket=step
    )
    return CostsResponse.of(report)
