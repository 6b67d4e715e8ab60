"""``GET /api/v1/requests``: requests as users see them, per group of their first attempt."""

from __future__ import annotations

from fastapi import APIRouter

from analytics.requests import RequestReport, request_report
from tierwatch.api.deps import ConnectionDep, RequestsQueryDep

router = APIRouter(prefix="/api/v1", tags=["requests"])


@router.get(
    "/requests",
    response_model=RequestReport,
    summary="Requests per group: answered, failed, escalated, served tier, end-to-end latency",
)
def get_requests(conn: ConnectionDep, query: RequestsQueryDep) -> RequestReport:
    """The requests that started in the window, grouped by dimensions of their first attempt.

    Counts, shares of answered, failed, cloud-escalated requests and of each serving
    tier, end-to-end latency p50/p95/p99 of answered requests, mean quality of
    served answers. Requests appear once the server has assembled their attempts
    (``collector.assembly_interval_seconds``).

    Example: ``/api/v1/requests?window=1h&by=task,tier``.
    """
    return request_report(conn, start=query.start, end=query.end, by=query.by, key=query.key)
