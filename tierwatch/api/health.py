"""``GET /api/v1/health`` and ``GET /api/v1/findings``: segment statuses and their findings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from analytics.baselines import Baseline
from analytics.findings import Finding, SegmentHealth
from analytics.health import HealthReport, health_report
from analytics.times import TimeRange
from tierwatch.api.deps import ConnectionDep, HealthQueryDep, SettingsDep
from tierwatch.api.models import ResponseModel
from tierwatch.api.query import BadParameter, ReportQuery

router = APIRouter(prefix="/api/v1", tags=["health"])
_RANKS = {"ok": 0, "warn": 1, "degraded": 2}


class HealthResponse(ResponseModel):
    """Every segment's status and findings, worst first."""

    window: TimeRange
    baseline: Baseline = Field(description="What the window was compared with.")
    by: list[str]
    fleet: str | None
    tests: int = Field(description="Tests covered together by the false-discovery control.")
    fdr: float
    status_counts: dict[str, int]
    warnings: list[str] = Field(
        default_factory=list,
        description="How the report was made when it had to be bounded (groups folded into "
        "__other__), and dimensions whose values went over the collector's limits.",
    )
    segments: list[SegmentHealth]

    @classmethod
    def of(cls, report: HealthReport) -> HealthResponse:
        """The response (and ``tierwatch report --json``) for ``report``."""
        return cls(
            window=TimeRange(report.window_start, report.window_end),
            baseline=report.baseline,
            by=list(report.by),
            fleet=report.fleet,
            tests=report.tests,
            fdr=report.fdr,
            status_counts=report.status_counts(),
            warnings=report.warnings,
            segments=report.segments,
        )


@dataclass(frozen=True, kw_only=True)
class SegmentFinding(Finding):
    """A finding with the segment it belongs to."""

    key: dict[str, str]
    status: str


class FindingsResponse(ResponseModel):
    """Findings of one report, flattened, most severe first."""

    window: TimeRange
    baseline: Baseline
    by: list[str]
    findings: list[SegmentFinding]


def _report(
    request: Request, conn: ConnectionDep, settings: SettingsDep, query: ReportQuery
) -> HealthReport:
    try:
        return health_report(
            conn,
            end=query.end,
            window=query.window,
            baseline=query.asked_baseline,
            by=query.by,
            fleet=query.fleet,
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
    request: Request, conn: ConnectionDep, settings: SettingsDep, query: HealthQueryDep
) -> HealthResponse:
    """Judge each segment of the ``by`` dimensions over the window against the baseline.

    Example: ``/api/v1/health?window=1h&baseline=24h&by=tier,device_model``.
    """
    return HealthResponse.of(_report(request, conn, settings, query))


@router.get(
    "/findings",
    response_model=FindingsResponse,
    summary="The findings of a health report, one list",
)
def get_findings(
    request: Request,
    conn: ConnectionDep,
    settings: SettingsDep,
    query: HealthQueryDep,
    severity: Annotated[
        str, Query(description="Least severity listed: ok (all), warn or degraded.")
    ] = "warn",
) -> FindingsResponse:
    """Every finding of the report with at least ``severity``, most severe first."""
    if severity not in _RANKS:
        raise BadParameter("severity", f"{severity!r}; use ok, warn or degraded")
    report = _report(request, conn, settings, query)
    findings = [
        SegmentFinding(**_fields(f), key=s.key, status=s.status)
        for s in report.segments
        for f in s.findings
        if _RANKS[f.severity] >= _RANKS[severity]
    ]
    findings.sort(key=lambda f: (-_RANKS[f.severity], f.p_adjusted or 0.0))
    return FindingsResponse(
        window=TimeRange(report.window_start, report.window_end),
        baseline=report.baseline,
        by=list(report.by),
        findings=findings,
    )


def _fields(finding: Finding) -> dict[str, Any]:
    # Not dataclasses.asdict: that would turn the attribution into dicts too.
    return {f.name: getattr(finding, f.name) for f in dataclasses.fields(finding)}
