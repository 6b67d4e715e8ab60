"""``GET /api/v1/versions``: version drift per fleet and model, with canary comparisons."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from analytics.config import AnalyticsSettings
from analytics.health import finding_dict
from analytics.timeseries import STEPS, pick_step
from analytics.versions import version_drift, version_series
from tierwatch.api.deps import ConnectionDep, ReadAuth
from tierwatch.api.models import FindingModel, MetricValues, PeriodModel, iso_period
from tierwatch.api.query import (
    BadParameter,
    BaselineQuery,
    EndQuery,
    FleetQuery,
    WindowQuery,
    analytics_settings,
    duration,
    end_time,
    fleet_scope,
)

router = APIRouter(prefix="/api/v1", tags=["versions"])
SettingsDep = Annotated[AnalyticsSettings, Depends(analytics_settings)]
ModelQuery = Annotated[str | None, Query(description="Only this model.")]


class VersionShareModel(BaseModel):
    version: str
    devices: int = Field(description="Active devices on this version.")
    share: float | None = Field(description="Share of active devices.")
    attempts: int = Field(description="Attempts in the window.")
    first_seen: str | None


class StuckDeviceModel(BaseModel):
    device_id: str
    device_model: str
    app_version: str
    model_version: str
    version_since: str
    last_seen: str


class CanaryModel(BaseModel):
    """A version against the previous dominant version on the segments both run."""

    version: str
    reference_version: str
    status: str
    segments: int
    metrics: MetricValues
    reference_metrics: MetricValues
    findings: list[FindingModel]


class VersionDriftModel(BaseModel):
    fleet: str
    model: str
    newest_version: str | None
    dominant_version: str | None
    live_versions: int
    active_devices: int
    skew: float | None = Field(description="Share of active devices not on the newest version.")
    versions: list[VersionShareModel]
    stuck_devices: int
    stuck: list[StuckDeviceModel]
    canaries: list[CanaryModel]


class VersionsResponse(BaseModel):
    window: PeriodModel
    baseline: PeriodModel
    models: list[VersionDriftModel]


class VersionPoint(BaseModel):
    start: str
    version: str
    devices: int
    device_share: float | None
    attempts: int
    attempt_share: float | None


class VersionSeriesResponse(BaseModel):
    fleet: str
    model: str
    step: int
    points: list[VersionPoint]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return value


@router.get(
    "/versions",
    response_model=VersionsResponse,
    summary="Version drift per fleet and model: shares, skew, stuck devices, canaries",
)
def get_versions(
    conn: ConnectionDep,
    principal: ReadAuth,
    settings: SettingsDep,
    window: WindowQuery = None,
    baseline: BaselineQuery = None,
    end: EndQuery = None,
    fleet: FleetQuery = None,
    model: ModelQuery = None,
) -> dict[str, Any]:
    """Versions of each model in each fleet, judged at ``end``.

    Canaries are compared over the window with the version that had the most
    attempts in the baseline. Example: ``/api/v1/versions?window=6h&model=tagger``.
    """
    stop = end_time(end)
    start = stop - duration("window", window, settings.default_window)
    base = start - duration("baseline", baseline, settings.default_baseline)
    drifts = version_drift(
        conn,
        start=start,
        end=stop,
        baseline_start=base,
        settings=settings,
        fleet=fleet_scope(principal, fleet),
        model=model,
    )
    models = []
    for drift in drifts:
        data = _jsonable(dataclasses.asdict(drift))
        for canary, original in zip(data["canaries"], drift.canaries, strict=True):
            canary["findings"] = [finding_dict(f) for f in original.findings]
        models.append(data)
    return {
        "window": iso_period(start, stop),
        "baseline": iso_period(base, start),
        "models": models,
    }


@router.get(
    "/versions/series",
    response_model=VersionSeriesResponse,
    summary="Share of devices and attempts per model version over time",
)
def get_version_series(
    conn: ConnectionDep,
    principal: ReadAuth,
    settings: SettingsDep,
    model: Annotated[str, Query(description="The model.")],
    window: WindowQuery = None,
    end: EndQuery = None,
    fleet: FleetQuery = None,
    step: Annotated[
        int | None, Query(description="Bucket length in seconds: " + ", ".join(map(str, STEPS)))
    ] = None,
) -> dict[str, Any]:
    """Per bucket and version: distinct active devices and attempts, with their shares."""
    scoped = fleet_scope(principal, fleet)
    if scoped is None:
        raise HTTPException(status_code=400, detail="invalid fleet: a fleet is required here")
    stop = end_time(end)
    start = stop - duration("window", window, "24h" if window is None else window)
    if step is not None and step not in STEPS:
        raise BadParameter("step", f"{step}; use one of {', '.join(map(str, STEPS))}")
    chosen = step or pick_step(stop - start, points=96)
    frame = version_series(conn, fleet=scoped, model=model, start=start, end=stop, step=chosen)
    points = [
        {
            "start": row.start.isoformat().replace("+00:00", "Z"),
            "version": row.version,
            "devices": int(row.devices),
            "device_share": None if row.device_share != row.device_share else row.device_share,
            "attempts": int(row.attempts),
            "attempt_share": None if row.attempt_share != row.attempt_share else row.attempt_share,
        }
        for row in frame.itertuples()
    ]
    return {"fleet": scoped, "model": model, "step": chosen, "points": points}
