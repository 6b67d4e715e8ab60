"""``GET /api/v1/timeseries``: one segment's metrics per time bucket, for charts."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from analytics.config import AnalyticsSettings
from analytics.metrics import COUNT_METRICS
from analytics.timeseries import STEPS, pick_step, segment_series
from collector.schema import SEGMENT_DIMENSIONS
from tierwatch.api.deps import ConnectionDep, ReadAuth
from tierwatch.api.models import MetricValues, PeriodModel, iso_period
from tierwatch.api.query import (
    BadParameter,
    EndQuery,
    WindowQuery,
    analytics_settings,
    duration,
    end_time,
    fleet_scope,
)

router = APIRouter(prefix="/api/v1", tags=["timeseries"])


class SeriesPoint(BaseModel):
    start: str = Field(description="Bucket start, ISO 8601 UTC.")
    metrics: MetricValues


class SeriesResponse(BaseModel):
    """A segment's metrics per bucket; every bucket of the period is present."""

    key: dict[str, str]
    window: PeriodModel
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
    principal: ReadAuth,
    settings: Annotated[AnalyticsSettings, Depends(analytics_settings)],
    window: WindowQuery = None,
    end: EndQuery = None,
    step: Annotated[
        int | None,
        Query(description="Bucket length in seconds: " + ", ".join(map(str, STEPS))),
    ] = None,
    shadow: Annotated[bool, Query(description="Shadow attempts instead of served ones.")] = False,
    fleet: Annotated[str | None, Query()] = None,
    tier: Annotated[str | None, Query()] = None,
    task: Annotated[str | None, Query()] = None,
    model: Annotated[str | None, Query()] = None,
    model_version: Annotated[str | None, Query()] = None,
    device_model: Annotated[str | None, Query()] = None,
    region: Annotated[str | None, Query()] = None,
    app_version: Annotated[str | None, Query()] = None,
    node: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """The segment named by the dimension parameters given (none: everything).

    Example: ``/api/v1/timeseries?tier=device&task=photo-tag&window=6h&step=300``.
    """
    values = {
        "fleet": fleet_scope(principal, fleet),
        "tier": tier,
        "task": task,
        "model": model,
        "model_version": model_version,
        "device_model": device_model,
        "region": region,
        "app_version": app_version,
        "node": node,
    }
    key = {d: v for d in SEGMENT_DIMENSIONS if (v := values[d]) is not None}
    stop = end_time(end)
    start = stop - duration("window", window, settings.default_window)
    if step is not None and step not in STEPS:
        raise BadParameter("step", f"{step}; use one of {', '.join(map(str, STEPS))}")
    chosen = step or pick_step(stop - start)
    frame = segment_series(conn, key=key, start=start, end=stop, step=chosen, shadow=shadow)
    points = []
    for moment, row in frame.iterrows():
        metrics: dict[str, float | int | None] = {}
        for name, value in row.items():
            if name in COUNT_METRICS:
                metrics[str(name)] = int(value)
            else:
                metrics[str(name)] = None if np.isnan(value) else float(value)
        points.append({"start": moment.isoformat().replace("+00:00", "Z"), "metrics": metrics})
    return {
        "key": key,
        "window": iso_period(start, stop),
        "step": chosen,
        "shadow": shadow,
        "points": points,
    }
