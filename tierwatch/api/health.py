"""``GET /api/v1/health`` and ``GET /api/v1/findings``: segment statuses and their findings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from analytics.config import AnalyticsSettings
from analytics.health import HealthReport, finding_dict, health_report
from tierwatch.api.deps import ConnectionDep, ReadAuth
from tierwatch.api.models import FindingModel, PeriodModel, SegmentHealthModel
from tierwatch.api.query import (
    BadParameter,
    BaselineQuery,
    ByQuery,
    EndQuery,
    FleetQuery,
    WindowQuery,
    analytics_settings,
    dimensions,
    fleet_scope,
    period,
)

router = APIRouter(prefix="/api/v1", tags=["health"])
SettingsDep = Annotated[AnalyticsSettings, Depends(analytics_settings)]


class HealthResponse(BaseModel):
    """Every segment's status and findings, worst first."""

    window: PeriodModel
    baseline: PeriodModel
    by: list[str]
    fleet: str | None
    tests: int = Field(description="Tests covered together by the false-discovery control.")
    fdr: float
    status_counts: dict[str, int]
    segments: list[SegmentHealthModel]


class SegmentFinding(FindingModel):
    """A finding with the segment it belongs to."""

    key: dict[str, str]
    status: str


class FindingsResponse(BaseModel):
    """Findings of one report, flattened, most severe first."""

    window: PeriodModel
    baseline: PeriodModel
    by: list[str]
    findings: list[SegmentFinding]


def _report(
    request: Request,
    conn: ConnectionDep,
    principal: ReadAuth,
    settings: AnalyticsSettings,
    *,
    window: str | None,
    baseline: str | None,
    end: str | None,
    by: str | None,
    fleet: str | None,
) -> HealthReport:
    asked = period(settings, window=window, baseline=baseline, end=end)
    try:
        return health_report(
            conn,
            end=asked.end,
            window=asked.window,
            baseline=asked.baseline,
            by=dimensions(by, settings.default_by),
            fleet=fleet_scope(principal, fleet),
            settings=settings,
            privacy=request.app.state.settings.privacy,
        )
    except ValueError as exc:
        raise BadParameter("period", str(exc)) from None


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Status and findings of every segment, window against baseline",
)
def get_health(
    request: Request,
    conn: ConnectionDep,
    principal: ReadAuth,
    settings: SettingsDep,
    window: WindowQuery = None,
    baseline: BaselineQuery = None,
    end: EndQuery = None,
    by: ByQuery = None,
    fleet: FleetQuery = None,
) -> dict[str, Any]:
    """Judge each segment of the ``by`` dimensions over the window against the baseline.

    Example: ``/api/v1/health?window=1h&baseline=24h&by=tier,device_model``.
    """
    report = _report(
        request,
        conn,
        principal,
        settings,
        window=window,
        baseline=baseline,
        end=end,
        by=by,
        fleet=fleet,
    )
    return report.to_dict()


@router.get(
    "/findings",
    response_model=FindingsResponse,
    summary="The findings of a health report, one list",
)
def get_findings(
    request: Request,
    conn: ConnectionDep,
    principal: ReadAuth,
    settings: SettingsDep,
    window: WindowQuery = None,
    baseline: BaselineQuery = None,
    end: EndQuery = None,
    by: ByQuery = None,
    fleet: FleetQuery = None,
    severity: Annotated[
        str, Query(description="Least severity listed: ok (all), warn or degraded.")
    ] = "warn",
) -> dict[str, Any]:
    """Every finding of the report with at least ``severity``, most severe first."""
    ranks = {"ok": 0, "warn": 1, "degraded": 2}
    if severity not in ranks:
        raise BadParameter("severity", f"{severity!r}; use ok, warn or degraded")
    report = _report(
        request,
        conn,
        principal,
        settings,
        window=window,
        baseline=baseline,
        end=end,
        by=by,
        fleet=fleet,
    )
    data = report.to_dict()
    rows = [
        {**finding_dict(f), "key": s.key, "status": s.status}
        for s in report.segments
        for f in s.findings
        if ranks[f.severity] >= ranks[severity]
    ]
    rows.sort(key=lambda r: (-ranks[r["severity"]], r["p_adjusted"] or 0.0))
    return {
        "window": data["window"],
        "baseline": data["baseline"],
        "by": data["by"],
        "findings": rows,
    }
