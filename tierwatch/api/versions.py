"""``GET /api/v1/versions``: version drift per fleet and model, with canary comparisons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from analytics.times import Time, TimeRange
from analytics.timeseries import STEPS, pick_step
from analytics.versions import VersionDrift, version_drift, version_series
from tierwatch.api.deps import (
    ConnectionDep,
    SettingsDep,
    VersionSeriesQueryDep,
    VersionsQueryDep,
)
from tierwatch.api.models import ResponseModel
from tierwatch.api.query import BadParameter

router = APIRouter(prefix="/api/v1", tags=["versions"])


class VersionsResponse(ResponseModel):
    window: TimeRange
    baseline: TimeRange
    models: list[VersionDrift]


class VersionPoint(ResponseModel):
    start: Time
    version: str
    devices: int
    device_share: float | None
    attempts: int
    attempt_share: float | None


class VersionSeriesResponse(ResponseModel):
    fleet: str
    model: str
    step: int
    points: list[VersionPoint]


@router.get(
    "/versions",
    response_model=VersionsResponse,
    summary="Version drift per fleet and model: shares, skew, stuck devices, canaries",
)
def get_versions(
    conn: ConnectionDep, settings: SettingsDep, query: VersionsQueryDep
) -> VersionsResponse:
    """Versions of each model in each fleet, judged at ``end``.

    Canaries are compared over the window with the version that had the most
    attempts in the baseline. Example: ``/api/v1/versions?window=6h&model=tagger``.
    """
    drifts = version_drift(
        conn,
        start=query.start,
        end=query.end,
        baseline_start=query.baseline_start,
        settings=settings,
        fleet=query.fleet,
        model=query.key.get("model"),
    )
    return VersionsResponse(
        window=TimeRange(query.start, query.end),
        baseline=TimeRange(query.baseline_start, query.start),
        models=drifts,
    )


@router.get(
    "/versions/series",
    response_model=VersionSeriesResponse,
    summary="Share of devices and attempts per model version over time",
)
def get_version_series(
    conn: ConnectionDep,
    query: VersionSeriesQueryDep,
    model: Annotated[str, Query(description="The model.")],
    step: Annotated[
        int | None, Query(description="Bucket length in seconds: " + ", ".join(map(str, STEPS)))
    ] = None,
) -> VersionSeriesResponse:
    """Per bucket and version: distinct active devices and attempts, with their shares."""
    if query.fleet is None:
        raise HTTPException(status_code=400, detail="invalid fleet: a fleet is required here")
    if step is not None and step not in STEPS:
        raise BadParameter("step", f"{step}; use one of {', '.join(map(str, STEPS))}")
    chosen = step or pick_step(query.end - query.start, points=96)
    frame = version_series(
        conn, fleet=query.fleet, model=model, start=query.start, end=query.end, step=chosen
    )
    points = [
        VersionPoint(
            start=row.start,
            version=row.version,
            devices=int(row.devices),
            device_share=None if row.device_share != row.device_share else row.device_share,
            attempts=int(row.attempts),
            attempt_share=None if row.attempt_share != row.attempt_share else row.attempt_share,
        )
        for row in frame.itertuples()
    ]
    return VersionSeriesResponse(fleet=query.fleet, model=model, step=chosen, points=points)
