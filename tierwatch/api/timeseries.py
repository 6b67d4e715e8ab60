"""``GET /api/v1/timeseries``: one segment's metrics per time bucket, for charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from analytics.metrics import metric_dict
from analytics.times import Time, TimeRange
from analytics.timeseries import STEPS, pick_step, segment_series
from tierwatch.api.deps import ConnectionDep, SeriesQueryDep
from tierwatch.api.models import ResponseModel
from tierwatch.api.query import BadParameter

router = APIRouter(prefix="/api/v1", tags=["timeseries"])


class SeriesPoint(ResponseModel):
    start: Time = Field(description="Bucket start, ISO 8601 UTC.")
    metrics: dict[str, float | int | None]


class SeriesResponse(ResponseModel):
    """A segment's metrics per bucket; every bucket of the period is present."""

    key: dict[str, str]
    window: TimeRange
    step: int
    shadow: bool
    points: list[SeriesPoint]


@router.get(
    "/timeseries",
    response_model=SeriesResponse,
    summary="One segment's metrics per time bucket",
)
def get_timeseries(
    conn: ConnectionDep,
    query: SeriesQueryDep,
    step: Annotated[
        int | None,
        Query(description="Bucket length in seconds: " + ", ".join(map(str, STEPS))),
    ] = None,
    shadow: Annotated[bool, Query(description="Shadow attempts instead of served ones.")] = False,
) -> SeriesResponse:
    """The segment named by the dimension parameters given (none: everything).

    Example: ``/api/v1/timeseries?tier=device&task=photo-tag&window=6h&step=300``.
    """
    if step is not None and step not in STEPS:
        raise BadParameter("step", f"{step}; use one of {', '.join(map(str, STEPS))}")
    chosen = step or pick_step(query.end - query.start)
    frame = segment_series(
        conn, key=query.key, start=query.start, end=query.end, step=chosen, shadow=shadow
    )
    points = [SeriesPoint(start=start, metrics=metric_dict(row)) for start, row in frame.iterrows()]
    return SeriesResponse(
        key=query.key,
        window=TimeRange(query.start, query.end),
        step=chosen,
        shadow=shadow,
        points=points,
    )
